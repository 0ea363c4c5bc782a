import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import type { Delivery, MessageQueue, QueueItem } from '../../src/engine/ports.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { buildMessagesApp } from '../../src/services/messages/app.js';
import { QueueConsumer, type ConsumerOptions } from '../../src/services/messages/consumer.js';
import { ConsumedStore, type ConsumedEntry } from '../../src/services/messages/store.js';
import { deferred, engineHealth, eventually, silentLogger } from '../helpers/fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'messages-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const entry = (id: string, msg = `msg ${id}`, consumedBy = 'messages-1'): ConsumedEntry => ({ id, msg, consumedBy, consumedAt: new Date().toISOString() });
const item = (id: string, msg = `msg ${id}`): QueueItem => ({ id, msg, enqueuedAt: new Date().toISOString() });

describe('ConsumedStore', () => {
  for (const kind of [':memory:', 'file'] as const) {
    test(`${kind}: dedups on id and keeps consumption order`, (t) => {
      const store = new ConsumedStore(kind === 'file' ? join(dir, `order-${randomUUID()}.db`) : ':memory:');
      t.after(() => store.close());
      assert.equal(store.count(), 0);
      assert.deepEqual(store.list(), []);
      assert.equal(store.add(entry('c', 'third?')), true);
      assert.equal(store.add(entry('a', 'first?')), true);
      assert.equal(store.add(entry('c', 'changed')), false, 'a repeated id is not new');
      assert.equal(store.add(entry('b')), true);
      assert.equal(store.count(), 3);
      const list = store.list();
      assert.deepEqual(
        list.map((e) => e.id),
        ['c', 'a', 'b'],
      );
      assert.equal(list[0]?.msg, 'third?', 'the first copy is kept');
      assert.equal(list[0]?.consumedBy, 'messages-1');
    });
  }

  test('keeps every field, including optional ones and Unicode', (t) => {
    const store = new ConsumedStore(':memory:');
    t.after(() => store.close());
    const e: ConsumedEntry = { id: 'u', msg: 'Ї 🚀 <b>', consumedBy: 'm-2', consumedAt: '2024-01-01T00:00:00.000Z', enqueuedAt: '2023-12-31T23:59:59.000Z', correlationId: 'corr' };
    store.add(e);
    assert.deepEqual(store.list(), [e]);
  });

  test('a file store survives reopening (entries, order, dedup)', () => {
    const file = join(dir, 'nested', `reopen-${randomUUID()}.db`);
    const first = new ConsumedStore(file);
    first.add(entry('x1'));
    first.add(entry('x2'));
    first.close();
    first.close(); // safe twice

    const second = new ConsumedStore(file);
    try {
      assert.equal(second.count(), 2);
      assert.equal(second.add(entry('x1', 'again')), false, 'ids from before the restart still dedup');
      assert.equal(second.add(entry('x3')), true);
      assert.deepEqual(
        second.list().map((e) => e.id),
        ['x1', 'x2', 'x3'],
      );
      assert.equal(second.list()[0]?.msg, 'msg x1');
    } finally {
      second.close();
    }
  });

  test(':memory: stores are separate from each other', (t) => {
    const a = new ConsumedStore(':memory:');
    const b = new ConsumedStore(':memory:');
    t.after(() => (a.close(), b.close()));
    a.add(entry('only-a'));
    assert.equal(b.count(), 0);
  });
});

/** `beforeAck` runs before each of the consumer's acknowledgements reaches the queue (and may fail it). */
function consumerSetup(t: TestContext, opts: Partial<ConsumerOptions> & { capacity?: number; instance?: string; beforeAck?: (ds: readonly Delivery[]) => Promise<void> } = {}) {
  const engine = new MemoryEngine(opts.capacity);
  const queue = engine.queue(`q-${randomUUID()}`);
  const { beforeAck } = opts;
  const seen: MessageQueue = beforeAck ? { ...queue, ack: async (ds) => (await beforeAck(ds), queue.ack(ds)) } : queue;
  const store = new ConsumedStore(':memory:');
  const consumer = new QueueConsumer({ instance: opts.instance ?? 'messages-1', store, logger: silentLogger(), pollTimeoutMs: 50, ...opts, queue: seen });
  t.after(async () => {
    await consumer.stop();
    store.close();
  });
  return { engine, queue, store, consumer };
}

async function offerAll(queue: MessageQueue, items: QueueItem[]) {
  for (const i of items) assert.equal(await queue.offer(i, 100), true);
}

describe('QueueConsumer', () => {
  test('consumes items as they arrive, in order, then drains a burst of 50', { timeout: 5000 }, async (t) => {
    const { queue, store, consumer } = consumerSetup(t);
    consumer.start();
    assert.equal(consumer.running, true);
    await offerAll(queue, [item('one')]);
    assert.ok(await eventually(() => store.count() === 1), 'a single item arrives');
    const burst = Array.from({ length: 50 }, (_, i) => item(`b${i}`));
    await offerAll(queue, burst);
    assert.ok(await eventually(() => store.count() === 51), `all 50 arrive (got ${store.count()})`);
    assert.deepEqual(
      store.list().map((e) => e.id),
      ['one', ...burst.map((b) => b.id)],
    );
    assert.equal(await queue.depth(), 0);
    assert.equal(consumer.consumed, 51);
    assert.equal(consumer.duplicates, 0);
  });

  test('items already waiting when it starts are all consumed', { timeout: 5000 }, async (t) => {
    const { queue, store, consumer } = consumerSetup(t);
    await offerAll(queue, [item('w1'), item('w2'), item('w3')]);
    consumer.start();
    consumer.start(); // twice is harmless
    assert.ok(await eventually(() => store.count() === 3));
    assert.deepEqual(
      store.list().map((e) => e.id),
      ['w1', 'w2', 'w3'],
    );
  });

  test('records consumedBy, enqueuedAt and correlationId', { timeout: 5000 }, async (t) => {
    const { queue, store, consumer } = consumerSetup(t, { instance: 'messages-9' });
    consumer.start();
    const it: QueueItem = { id: 'r', msg: 'hello', enqueuedAt: '2024-05-05T05:05:05.000Z', correlationId: 'corr-1' };
    await queue.offer(it, 100);
    assert.ok(await eventually(() => store.count() === 1));
    const e = store.list()[0]!;
    assert.equal(e.consumedBy, 'messages-9');
    assert.equal(e.enqueuedAt, it.enqueuedAt);
    assert.equal(e.correlationId, 'corr-1');
    assert.ok(!Number.isNaN(Date.parse(e.consumedAt)));
  });

  test('a duplicate delivery is skipped and counted', { timeout: 5000 }, async (t) => {
    const { queue, store, consumer } = consumerSetup(t);
    consumer.start();
    await offerAll(queue, [item('d1', 'first'), item('d2'), item('d1', 'redelivered')]);
    assert.ok(await eventually(() => consumer.consumed + consumer.duplicates === 3));
    assert.equal(store.count(), 2);
    assert.equal(consumer.duplicates, 1);
    assert.equal(store.list()[0]?.msg, 'first');
  });

  test('stop() returns promptly while idle, and is safe twice', { timeout: 5000 }, async (t) => {
    // A long poll: stop must not wait for it to time out.
    const { consumer } = consumerSetup(t, { pollTimeoutMs: 30_000 });
    consumer.start();
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await consumer.stop();
    await consumer.stop();
    assert.equal(consumer.running, false);
    assert.ok(Date.now() - started < 2000, 'stop did not wait for the 30 s poll');
  });

  test('stop() finishes the item in hand, then takes no more', { timeout: 5000 }, async (t) => {
    const gate = deferred();
    const inHand = deferred<QueueItem>();
    const acked: string[] = [];
    const { queue, store, consumer } = consumerSetup(t, {
      batchSize: 1,
      beforeAck: async (ds) => {
        inHand.resolve(ds[0]!.item);
        await gate.promise;
        acked.push(...ds.map((d) => d.item.id));
      },
    });
    consumer.start();
    await offerAll(queue, [item('h1'), item('h2')]);
    assert.equal((await inHand.promise).id, 'h1');

    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(stopped, false, 'stop waits for the item in hand');
    gate.resolve();
    await stopping;
    assert.deepEqual(acked, ['h1'], 'the item in hand was acknowledged');
    assert.deepEqual(
      store.list().map((e) => e.id),
      ['h1'],
    );
    assert.equal(await queue.depth(), 1, 'the next item stays on the queue for another consumer');
  });

  test('a backlog is taken in batches: stop() finishes the whole batch in hand, in order', { timeout: 5000 }, async (t) => {
    const gate = deferred();
    const { queue, store, consumer } = consumerSetup(t, {
      batchSize: 4,
      beforeAck: async () => {
        await gate.promise;
      },
    });
    await offerAll(queue, ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'].map((id) => item(id)));
    consumer.start();
    assert.ok(await eventually(() => store.count() === 4), 'the first batch of 4 is stored together');
    const stopping = consumer.stop();
    gate.resolve();
    await stopping;
    assert.deepEqual(store.list().map((e) => e.id), ['b1', 'b2', 'b3', 'b4']);
    assert.equal(await queue.depth(), 2, 'the rest stays on the queue for another consumer');
  });

  test('a failing acknowledgement does not stop consumption', { timeout: 5000 }, async (t) => {
    const { queue, store, consumer } = consumerSetup(t, {
      beforeAck: async () => {
        throw new Error('engine down');
      },
    });
    consumer.start();
    await offerAll(queue, [item('f1'), item('f2')]);
    assert.ok(await eventually(() => store.count() === 2));
    assert.equal(consumer.running, true);
  });

  test('keeps polling through an engine outage and resumes after it', { timeout: 5000 }, async (t) => {
    const { engine, queue, store, consumer } = consumerSetup(t);
    engine.down = true;
    consumer.start();
    assert.ok(await eventually(() => consumer.lastError !== undefined), 'the outage is reported');
    assert.match(consumer.lastError!, /down/);
    engine.down = false;
    await offerAll(queue, [item('after-outage')]);
    assert.ok(await eventually(() => store.count() === 1, 3000));
    assert.equal(consumer.lastError, undefined);
  });

  test('a store failure neither kills the consumer silently nor loses later items', { timeout: 5000 }, async (t) => {
    // A store whose first write fails (disk full, locked file...).
    class FlakyStore extends ConsumedStore {
      failures = 1;
      override add(e: ConsumedEntry): boolean {
        if (this.failures-- > 0) throw new Error('SQLITE_FULL: database or disk is full');
        return super.add(e);
      }
    }
    const store = new FlakyStore(':memory:');
    const engine = new MemoryEngine();
    const queue = engine.queue('flaky');
    const consumer = new QueueConsumer({ instance: 'messages-1', queue, store, logger: silentLogger(), pollTimeoutMs: 50 });
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    t.after(async () => {
      process.off('unhandledRejection', onUnhandled);
      await consumer.stop().catch(() => {});
      store.close();
    });
    consumer.start();
    await offerAll(queue, [item('s1'), item('s2')]);
    const stored = () => store.list().some((e) => e.id === 's2');
    await eventually(() => stored() || !consumer.running, 1000);
    assert.deepEqual(unhandled, [], 'no unhandled rejection from the consumer loop');
    // Either the consumer kept going (s2 stored) or it says it is not running, so readiness fails.
    assert.ok(stored() || !consumer.running, `s2 was never stored, yet the consumer reports running=${consumer.running}`);
  });
});

function appSetup(t: TestContext) {
  const engine = new MemoryEngine();
  const queue = engine.queue(`q-${randomUUID()}`);
  const store = new ConsumedStore(':memory:');
  const consumer = new QueueConsumer({ instance: 'messages-1', queue, store, logger: silentLogger(), pollTimeoutMs: 50 });
  const app = buildMessagesApp({ name: 'messages-1' }, { store, consumer, health: engineHealth(engine), logger: silentLogger() });
  t.after(async () => {
    await app.close();
    store.close();
  });
  return { engine, queue, store, consumer, app };
}

describe('messages service HTTP', () => {
  test('GET /messages lists what was consumed, in order, with consumedBy; /messages/count counts', { timeout: 5000 }, async (t) => {
    const { queue, consumer, app } = appSetup(t);
    consumer.start();
    await offerAll(queue, [item('m1', 'один'), item('m2', 'two 🎉'), item('m1', 'dup')]);
    assert.ok(await eventually(() => consumer.consumed + consumer.duplicates === 3));
    const res = await app.inject({ method: 'GET', url: '/messages' });
    assert.equal(res.statusCode, 200);
    const list = res.json() as ConsumedEntry[];
    assert.deepEqual(
      list.map((e) => [e.id, e.msg, e.consumedBy]),
      [
        ['m1', 'один', 'messages-1'],
        ['m2', 'two 🎉', 'messages-1'],
      ],
    );
    const count = await app.inject({ method: 'GET', url: '/messages/count' });
    assert.deepEqual(count.json(), { count: 2, consumedSinceStart: 2, duplicatesSkipped: 1 });
  });

  test('ready when the engine answers and the consumer runs', { timeout: 5000 }, async (t) => {
    const { consumer, app } = appSetup(t);
    const notStarted = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(notStarted.statusCode, 503);
    assert.match((notStarted.json() as { message: string }).message, /consumer is not running/);
    consumer.start();
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as Record<string, unknown>;
    assert.equal(body.status, 'ready');
    assert.equal(body.service, 'messages');
    assert.equal(body.consumed, 0);
  });

  test('readiness fails with the reason when the engine is down; liveness stays 200', { timeout: 5000 }, async (t) => {
    const { engine, consumer, app } = appSetup(t);
    consumer.start();
    engine.down = true;
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 503);
    assert.match(String(res.headers['content-type']), /application\/json/);
    const body = res.json() as { status: string; error: string; message: string };
    assert.equal(body.status, 'not-ready');
    assert.equal(typeof body.error, 'string');
    assert.match(body.message, /down/);
    assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
    // The stored messages stay readable: they are this instance's own.
    assert.equal((await app.inject({ method: 'GET', url: '/messages' })).statusCode, 200);
  });

  test('readiness reports a consumer that cannot reach the queue while the engine pings fine', { timeout: 5000 }, async (t) => {
    const engine = new MemoryEngine();
    const store = new ConsumedStore(':memory:');
    const consumer = new QueueConsumer({
      instance: 'messages-2',
      // A queue whose reads fail (spread from a real one so it keeps every other method of the port).
      queue: { ...engine.queue('broken'), receive: async () => Promise.reject(new Error('queue gone')) },
      store,
      logger: silentLogger(),
      pollTimeoutMs: 20,
    });
    const app = buildMessagesApp({ name: 'messages-2' }, { store, consumer, health: engineHealth(engine), logger: silentLogger() });
    t.after(async () => {
      await app.close();
      store.close();
    });
    consumer.start();
    assert.ok(await eventually(() => consumer.lastError !== undefined));
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 503);
    assert.match((res.json() as { message: string }).message, /queue gone/);
  });

  test('closing the app stops the consumer', { timeout: 5000 }, async (t) => {
    const { consumer, app } = appSetup(t);
    consumer.start();
    await app.close();
    assert.equal(consumer.running, false);
  });

  test('unknown route 404, wrong method 405', async (t) => {
    const { app } = appSetup(t);
    assert.equal((await app.inject({ method: 'GET', url: '/nope' })).statusCode, 404);
    const res = await app.inject({ method: 'POST', url: '/messages', payload: {} });
    assert.equal(res.statusCode, 405);
    assert.equal(typeof (res.json() as { message: string }).message, 'string');
  });
});
