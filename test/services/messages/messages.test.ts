import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { Engine, MessageQueue, QueueItem } from '../../../src/engine/ports.js';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import type { ConsumedEntry } from '../../../src/services/messages/store.js';
import { eventually, withQueues } from '../../helpers/fakes.js';
import { buildMessages, startRegistered } from '../../helpers/services.js';

const item = (id: string, msg = `msg ${id}`): QueueItem => ({ id, msg, enqueuedAt: new Date().toISOString() });

async function offerAll(queue: MessageQueue, items: QueueItem[]) {
  for (const i of items) assert.equal(await queue.offer(i, 100), true);
}

function appSetup<E extends Engine = MemoryEngine>(t: TestContext, engine: E = new MemoryEngine() as Engine as E, name = 'messages-1') {
  const { service, config } = buildMessages(t, engine, { name, 'queue-name': `q-${randomUUID()}` });
  return { engine, queue: engine.queue(config.queueName), store: service.store, consumer: service.consumer, app: service.app, service };
}

/** The value of one series in a Prometheus text page (undefined when absent). */
function metric(page: string, name: string): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('messages service HTTP', () => {
  test('a correlation id that is not short and plain is replaced on every route, and the answer says so', async (t) => {
    const { app } = appSetup(t);
    for (const url of ['/messages/count', '/health/live', '/nope']) {
      const res = await app.inject({ method: 'GET', url, headers: { 'x-correlation-id': `<i>${'w'.repeat(300)}</i>` } });
      assert.match(String(res.headers['x-correlation-id']), /^[0-9a-f-]{36}$/);
      assert.equal(res.headers['x-correlation-id-replaced'], 'longer than 128 characters');
      assert.ok(!res.payload.includes('wwwwwwwwww'));
    }
    const plain = await app.inject({ method: 'GET', url: '/messages/count', headers: { 'x-correlation-id': 'trace:1' } });
    assert.equal(plain.headers['x-correlation-id'], 'trace:1');
    assert.equal(plain.headers['x-correlation-id-replaced'], undefined);
  });

  test('GET /messages lists what was consumed, in order, with consumedBy; /messages/count and /metrics count', { timeout: 5000 }, async (t) => {
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
    const newest = await app.inject({ method: 'GET', url: '/messages?newest=1' });
    assert.equal(newest.statusCode, 200);
    assert.deepEqual(
      (newest.json() as ConsumedEntry[]).map((e) => e.id),
      ['m2'],
      'the newest first',
    );
    assert.deepEqual(
      (await app.inject({ method: 'GET', url: '/messages?newest=10' })).json<ConsumedEntry[]>().map((e) => e.id),
      ['m2', 'm1'],
    );
    for (const url of ['/messages?newest=0', '/messages?newest=1001', '/messages?newest=-1', '/messages?newest=2&limit=2', '/messages?newest=2&after=0']) {
      const bad = await app.inject({ method: 'GET', url });
      assert.equal(bad.statusCode, 400, url);
      assert.match(String(bad.headers['content-type']), /application\/json/);
      assert.equal(typeof bad.json<{ message?: unknown }>().message, 'string', url);
    }
    // What the consumer reports once an item is stored shows in the metrics.
    const page = (await app.inject({ method: 'GET', url: '/metrics' })).payload;
    assert.equal(metric(page, 'messages_consumed_total'), 2);
    assert.equal(metric(page, 'messages_duplicates_skipped_total'), 1);
    assert.equal(metric(page, 'messages_stored'), 2);
    assert.ok(await eventually(async () => (await queue.depth()) === 0), 'every delivery was acknowledged');
    assert.equal(metric((await app.inject({ method: 'GET', url: '/metrics' })).payload, 'queue_depth'), 0);
  });

  test('ready when the engine answers, it is registered and the consumer runs', { timeout: 10_000 }, async (t) => {
    const { consumer, app, service } = appSetup(t);
    const notStarted = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(notStarted.statusCode, 503);
    assert.match((notStarted.json() as { message: string }).message, /not registered yet/);
    await startRegistered(service);
    assert.equal(consumer.running, true, 'start() starts the consumer');
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as Record<string, unknown>;
    assert.equal(body.status, 'ready');
    assert.equal(body.service, 'messages');
    assert.equal(body.consumed, 0);
    // Registered, but its consumer stopped: not ready, and it says why.
    await consumer.stop();
    const stopped = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(stopped.statusCode, 503);
    assert.match((stopped.json() as { message: string }).message, /consumer is not running/);
  });

  test('readiness fails with the reason when the engine is down; liveness stays 200', { timeout: 10_000 }, async (t) => {
    const { engine, app, service } = appSetup(t);
    await startRegistered(service);
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

  test('readiness reports a consumer that cannot reach the queue while the engine pings fine', { timeout: 10_000 }, async (t) => {
    const memory = new MemoryEngine();
    // An engine whose queue reads fail (spread from a real queue so it keeps every other method of the port).
    const engine = withQueues(memory, (_n, own) => ({ ...own, receive: async () => Promise.reject(new Error('queue gone')) }));
    const { consumer, app, service } = appSetup(t, engine, 'messages-2');
    await service.start();
    assert.ok(await eventually(() => consumer.lastError !== undefined));
    const res = await eventually(async () => {
      const r = await app.inject({ method: 'GET', url: '/health/ready' });
      return /queue gone/.test(r.payload) ? r : undefined;
    }, 5000);
    assert.ok(res, 'readiness names the failing queue once registered');
    assert.equal(res.statusCode, 503);
    assert.match((res.json() as { message: string }).message, /queue gone/);
  });

  test('closing the app stops the consumer', { timeout: 5000 }, async (t) => {
    const { consumer, app } = appSetup(t);
    consumer.start();
    await app.close();
    assert.equal(consumer.running, false);
  });

  test('stop() stops the consumer, deregisters and is safe twice', { timeout: 10_000 }, async (t) => {
    const { consumer, service, engine } = appSetup(t);
    await startRegistered(service);
    assert.ok(await engine.kv('registry').get('messages/messages-1'));
    await service.stop();
    await service.stop();
    assert.equal(consumer.running, false);
    assert.equal(await engine.kv('registry').get('messages/messages-1'), undefined);
  });

  test('unknown route 404, wrong method 405', async (t) => {
    const { app } = appSetup(t);
    assert.equal((await app.inject({ method: 'GET', url: '/nope' })).statusCode, 404);
    const res = await app.inject({ method: 'POST', url: '/messages', payload: {} });
    assert.equal(res.statusCode, 405);
    assert.equal(typeof (res.json() as { message: string }).message, 'string');
  });
});
