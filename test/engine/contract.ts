import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, after, before } from 'node:test';
import { queuePromisesOf, type Delivery, type Engine, type LogEntry, type QueueItem, type QueuePromises } from '../../src/engine/ports.js';

/**
 * The behaviour every engine adapter must show. Each adapter's test file
 * calls this with a factory; names are random so runs never collide.
 * `makeEngine` may be called more than once: engines it returns share data
 * (two processes, two clients of one cluster).
 * `queueCapacity` bounds every queue the test names `bounded-*` (on the
 * embedded engine, every queue); `burst` is how many offers to make at once
 * on an unbounded queue (default queueCapacity). `leaseMs` is the lease the
 * engines were made with. `consumerProcess`, where the engine can be used
 * from another process, starts one that receives `n` items of the queue,
 * reports their ids, and is killed before it acknowledges them.
 * Where engines differ, the queue tests assert what the port's
 * QUEUE_PROMISES says of the engine's kind, and nothing weaker.
 */
export interface ContractOptions {
  queueCapacity: number;
  leaseMs: number;
  skip?: string | false;
  burst?: number;
  consumerProcess?: (queueName: string, n: number) => Promise<string[]>;
  /** Time past the lease an engine may take to deliver an expired item again (an engine whose lease counts from the offer: its reconciler's scans). Default 1000. */
  redeliverySlackMs?: number;
}

export function engineContract(label: string, makeEngine: () => Promise<Engine>, opts: ContractOptions) {
  describe(`engine contract: ${label}`, { skip: opts.skip ?? false }, () => {
    let a: Engine;
    let b: Engine;
    /** What the port promises of this engine's queue. */
    let promises: QueuePromises;
    before(async () => {
      a = await makeEngine();
      b = await makeEngine();
      promises = queuePromisesOf(a.kind);
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    const entry = (id: string, msg: string, ts: number): LogEntry => ({
      id, msg, loggedBy: 'test', loggedAt: new Date(ts).toISOString(), ts,
    });

    it('log: put is idempotent by id and visible to another client', async () => {
      const name = `log-${randomUUID()}`;
      const first = await a.log(name).put(entry('k1', 'one', 1));
      assert.equal(first.created, true);
      const again = await b.log(name).put(entry('k1', 'changed', 2));
      assert.equal(again.created, false);
      assert.equal(again.entry.msg, 'one');
      assert.equal(await b.log(name).size(), 1);
      assert.deepEqual((await b.log(name).get('k1'))?.msg, 'one');
      assert.equal(await b.log(name).get('missing'), undefined);
    });

    it('log: list and page return arrival order', async () => {
      const name = `log-${randomUUID()}`;
      const ids = Array.from({ length: 25 }, (_, i) => `id-${String(i).padStart(2, '0')}`);
      let ts = Date.now();
      for (const id of ids) await (Number(id.slice(3)) % 2 ? a : b).log(name).put(entry(id, `m ${id}`, (ts += 1)));
      assert.deepEqual((await a.log(name).list()).map((e) => e.id), ids);
      assert.deepEqual(JSON.parse(await b.log(name).listJson()), await a.log(name).list(), 'listJson is list() as JSON');
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const p = await b.log(name).page(10, cursor);
        seen.push(...p.entries.map((e) => e.id));
        cursor = p.next;
        pages++;
      } while (cursor !== undefined);
      assert.deepEqual(seen, ids);
      assert.equal(pages, 3);
    });

    it('log: unicode round-trips exactly', async () => {
      const name = `log-${randomUUID()}`;
      const text = 'Привіт 👋🏽 <b>&amp;</b> "q" \\ \u0000 𝔘';
      await a.log(name).put(entry('u', text, 1));
      assert.equal((await b.log(name).get('u'))?.msg, text);
    });

    // --- log: counts per logging instance and the newest entries (what the dashboard reads) ---
    const loggedAs = (loggedBy: string, id: string, ts: number): LogEntry => ({ ...entry(id, `m ${id}`, ts), loggedBy });

    it('log: countByLogger counts the entries each logging instance stored, seen from any client', async () => {
      const name = `log-${randomUUID()}`;
      assert.deepEqual(await a.log(name).countByLogger(), {}, 'an empty log counts nothing');
      assert.equal(await a.log(name).size(), 0);
      let ts = Date.now();
      for (let i = 0; i < 7; i++) await (i % 2 ? a : b).log(name).put(loggedAs(i < 5 ? 'logging-1' : 'logging-2', `c${i}`, (ts += 1)));
      await b.log(name).put(loggedAs('logging-3', 'c0', (ts += 1)));
      assert.deepEqual(await b.log(name).countByLogger(), { 'logging-1': 5, 'logging-2': 2 }, 'a put of an id already held counts nothing');
      await a.log(name).put(loggedAs('logging-3', 'c7', (ts += 1)));
      assert.deepEqual(await b.log(name).countByLogger(), { 'logging-1': 5, 'logging-2': 2, 'logging-3': 1 });
      assert.equal(await a.log(name).size(), 8, 'size is the sum of the counts');
      assert.deepEqual(await a.log(`log-${randomUUID()}`).countByLogger(), {}, 'another log counts its own');
    });

    it('log: newest(n) answers the newest n entries, newest first', async () => {
      const name = `log-${randomUUID()}`;
      assert.deepEqual(await a.log(name).newest(5), []);
      let ts = Date.now();
      const ids = Array.from({ length: 12 }, (_, i) => `n${String(i).padStart(2, '0')}`);
      for (const [i, id] of ids.entries()) await (i % 2 ? a : b).log(name).put(entry(id, `m ${id}`, (ts += 1)));
      assert.deepEqual((await b.log(name).newest(3)).map((e) => e.id), ['n11', 'n10', 'n09']);
      const all = await a.log(name).newest(100);
      assert.deepEqual(all.map((e) => e.id), [...ids].reverse(), 'fewer entries than asked: all of them');
      assert.equal(all[0]!.msg, 'm n11');
      await assert.rejects(a.log(name).newest(0), RangeError);
    });
    // --- end of log counts and newest ---

    const item = (id: string): QueueItem => ({ id, msg: `m-${id}`, enqueuedAt: new Date().toISOString() });
    const ids = (ds: Delivery[]) => ds.map((d) => d.item.id);
    /** Receives and acknowledges until `n` items came or nothing comes for `quietMs`. */
    const drain = async (e: Engine, name: string, n: number, quietMs = 500) => {
      const got: string[] = [];
      while (got.length < n) {
        const ds = await e.queue(name).receive(n - got.length, quietMs);
        if (ds.length === 0) break;
        got.push(...ids(ds));
        await e.queue(name).ack(ds);
      }
      return got;
    };
    // Long enough for the lease to end and an engine that checks it on a timer to act on it.
    const afterLease = opts.leaseMs * 2 + (opts.redeliverySlackMs ?? 1000);

    it('queue: FIFO across clients; depth counts items until acknowledged; receive timeout returns []', async () => {
      assert.equal(promises.order, 'queue', 'this suite is for engines whose queue is FIFO as a whole (partitioned queues: the leased-queue contract)');
      assert.equal(promises.depth, 'unacknowledged');
      const name = `q-${randomUUID()}`;
      const q = a.queue(name);
      for (let i = 0; i < 5; i++) assert.equal(await q.offer(item(`i${i}`), 1000), true);
      assert.equal(await b.queue(name).depth(), 5);
      const got = await b.queue(name).receive(5, 1000);
      assert.deepEqual(ids(got), ['i0', 'i1', 'i2', 'i3', 'i4']);
      assert.equal(got[2]!.item.msg, 'm-i2');
      assert.equal(await q.depth(), 5, 'received but not acknowledged: still counted');
      await b.queue(name).ack(got);
      assert.equal(await q.depth(), 0);
      const t0 = Date.now();
      assert.deepEqual(await q.receive(5, 300), []);
      assert.ok(Date.now() - t0 < 5000);
    });

    it('queue: concurrent consumers never get the same item', async () => {
      const name = `q-${randomUUID()}`;
      const n = opts.queueCapacity;
      await Promise.all(Array.from({ length: n }, (_, i) => a.queue(name).offer(item(`c${i}`), 5000)));
      const take = async (e: Engine) => {
        const mine: string[] = [];
        for (;;) {
          const ds = await e.queue(name).receive(3, 300);
          if (ds.length === 0) return mine;
          mine.push(...ids(ds));
          await e.queue(name).ack(ds);
        }
      };
      const [x, y] = await Promise.all([take(a), take(b)]);
      const all = [...x, ...y];
      assert.equal(all.length, n);
      assert.equal(new Set(all).size, n);
    });

    it('queue: receive takes up to max items in order, [] on timeout', async () => {
      const name = `q-${randomUUID()}`;
      for (let i = 0; i < 7; i++) await a.queue(name).offer(item(`m${i}`), 1000);
      const first = await b.queue(name).receive(5, 1000);
      assert.deepEqual(ids(first), ['m0', 'm1', 'm2', 'm3', 'm4']);
      const second = await b.queue(name).receive(5, 1000);
      assert.deepEqual(ids(second), ['m5', 'm6']);
      await b.queue(name).ack([...first, ...second]);
      assert.deepEqual(await a.queue(name).receive(5, 200), []);
      assert.equal(await a.queue(name).depth(), 0);
    });

    it('queue: a waiting receive gets an item offered later', async () => {
      const name = `q-${randomUUID()}`;
      const p = b.queue(name).receive(10, 5000);
      setTimeout(() => void a.queue(name).offer(item('late'), 1000), 100);
      const ds = await p;
      assert.deepEqual(ids(ds), ['late']);
      await b.queue(name).ack(ds);
    });

    it('queue: receive ends promptly when its signal aborts', async () => {
      const ac = new AbortController();
      const t0 = Date.now();
      setTimeout(() => ac.abort(), 100);
      assert.deepEqual(await a.queue(`q-${randomUUID()}`).receive(10, 30_000, ac.signal), []);
      assert.ok(Date.now() - t0 < 10_000, 'receive did not return after abort');
    });

    it('queue: bounded — offer fails after its timeout when full; an acknowledged item makes room', async () => {
      const name = `bounded-${randomUUID()}`;
      const q = a.queue(name);
      for (let i = 0; i < opts.queueCapacity; i++) assert.equal(await q.offer(item(`f${i}`), 1000), true);
      assert.equal(await q.offer(item('over'), 200), false);
      assert.equal(await q.depth(), opts.queueCapacity);
      const one = await b.queue(name).receive(1, 1000);
      assert.deepEqual(ids(one), ['f0']);
      if (promises.bound === 'waiting') {
        assert.equal(await q.offer(item('room'), 1000), true, 'a received item makes room at once, acknowledged or not');
        assert.equal(await q.depth(), opts.queueCapacity + 1, 'depth counts the leased item beyond the bound');
        await b.queue(name).ack(one);
      } else {
        assert.equal(await q.offer(item('leased'), 200), false, 'a received item keeps its room until acknowledged');
        await b.queue(name).ack(one);
        assert.equal(await q.offer(item('room'), 1000), true, 'an acknowledged item makes room');
      }
      assert.equal(await q.depth(), opts.queueCapacity);
      const rest = await drain(b, name, opts.queueCapacity);
      assert.equal(rest.length, opts.queueCapacity, 'every accepted offer is delivered');
      assert.equal(rest.at(-1), 'room');
      assert.ok(!rest.includes('over') && !rest.includes('leased'), 'the refused offers are not delivered');
    });

    it('queue: offers made together all land, in the order they were made', async () => {
      const name = `q-${randomUUID()}`;
      const n = opts.burst ?? opts.queueCapacity; // Hazelcast: more than one of the adapter's batches
      const oks = await Promise.all(Array.from({ length: n }, (_, i) => a.queue(name).offer(item(`t${i}`), 5000)));
      assert.ok(oks.every(Boolean));
      const got = await b.queue(name).receive(n + 1, 1000);
      assert.deepEqual(ids(got), Array.from({ length: n }, (_, i) => `t${i}`));
      await b.queue(name).ack(got);
    });

    it('queue: bounded — a burst larger than the room left fills it and the rest time out', async () => {
      const name = `bounded-${randomUUID()}`;
      const q = a.queue(name);
      const cap = opts.queueCapacity;
      for (let i = 0; i < 5; i++) assert.equal(await q.offer(item(`pre${i}`), 1000), true);
      const burst = await Promise.all(Array.from({ length: cap }, (_, i) => q.offer(item(`b${i}`), 300)));
      assert.equal(burst.filter(Boolean).length, cap - 5, 'exactly the room left is taken');
      assert.equal(await q.depth(), cap);
      const got = await drain(b, name, cap + 1);
      assert.equal(new Set(got).size, cap, 'no item twice');
      const accepted = new Set(burst.flatMap((ok, i) => (ok ? [`b${i}`] : [])));
      assert.deepEqual(got.filter((id) => id.startsWith('b')).sort(), [...accepted].sort(), 'the queue holds exactly the accepted offers');
    });

    it('queue: an item received and never acknowledged is delivered again after its lease, to another consumer', async () => {
      assert.equal(promises.redelivery, 'any', "this suite's consumers share no partitions (consumers holding partitions: the leased-queue contract)");
      const name = `q-${randomUUID()}`;
      const t0 = Date.now();
      await a.queue(name).offer(item('forgotten'), 1000);
      await a.queue(name).offer(item('kept'), 1000);
      const t1 = Date.now();
      const held = await a.queue(name).receive(2, 2000);
      // No later than the lease's true start: it began at the offer or inside the receive.
      const leaseStart = promises.leaseFrom === 'offer' ? t0 : t1;
      assert.deepEqual(ids(held), ['forgotten', 'kept']);
      await a.queue(name).ack(held.slice(1));
      // Nobody else gets it while the lease runs.
      assert.deepEqual(ids(await b.queue(name).receive(10, Math.min(300, opts.leaseMs / 3))), [], 'a leased item went to a second consumer');
      const again = await b.queue(name).receive(10, afterLease);
      assert.ok(Date.now() - leaseStart >= opts.leaseMs, `not before the lease ended (${Date.now() - leaseStart} ms after it started)`);
      assert.deepEqual(ids(again), ['forgotten'], 'the unacknowledged item comes back, the acknowledged one does not');
      assert.equal(again[0]!.item.msg, 'm-forgotten');
      await b.queue(name).ack(again);
      assert.deepEqual(ids(await b.queue(name).receive(10, afterLease)), [], 'acknowledged on its second delivery: never again');
      assert.equal(await a.queue(name).depth(), 0);
    });

    // --- trace context (W3C traceparent) on queue items ---------------------------------
    // A traced message's item carries its traceparent; the consumer continues the trace from
    // it, also when the item comes again after its lease (then marked as redelivered).
    it('queue: an item\'s traceparent survives offer → receive, also on its redelivery, which is marked', async () => {
      assert.equal(promises.redelivery, 'any', "this suite's consumers share no partitions (consumers holding partitions: the leased-queue contract)");
      const name = `q-${randomUUID()}`;
      const traceparent = `00-${randomUUID().replaceAll('-', '')}-${randomUUID().replaceAll('-', '').slice(0, 16)}-01`;
      await a.queue(name).offer({ ...item('traced'), traceparent }, 1000);
      await a.queue(name).offer(item('plain'), 1000);
      const first = await b.queue(name).receive(2, 2000);
      assert.deepEqual(ids(first), ['traced', 'plain']);
      assert.deepEqual(first.map((d) => d.item.traceparent), [traceparent, undefined], 'the context travels with the item, and only with it');
      assert.deepEqual(first.map((d) => d.redelivered === true), [false, false], 'a first delivery is not marked');
      assert.equal(first[1]!.from, undefined, 'an untraced item is handed out as before, with no lookup of where it was held');
      await b.queue(name).ack(first.slice(1));
      const again = await a.queue(name).receive(10, afterLease);
      assert.deepEqual(ids(again), ['traced']);
      assert.equal(again[0]!.item.traceparent, traceparent, 'the redelivered item continues the same trace');
      assert.equal(again[0]!.redelivered, true, 'and says it comes again');
      assert.deepEqual(Object.keys(again[0]!.item).sort(), Object.keys(first[0]!.item).sort(), 'the item is as offered');
      await a.queue(name).ack(again);
    });
    // --- end of trace context -----------------------------------------------------------

    it('queue: an acknowledged item is never delivered again, also after the lease', async () => {
      const name = `q-${randomUUID()}`;
      for (let i = 0; i < 3; i++) await a.queue(name).offer(item(`once${i}`), 1000);
      const ds = await b.queue(name).receive(3, 2000);
      assert.equal(ds.length, 3);
      await b.queue(name).ack(ds);
      await b.queue(name).ack(ds); // twice: harmless
      assert.deepEqual(ids(await a.queue(name).receive(10, afterLease)), []);
      assert.equal(await a.queue(name).depth(), 0);
    });

    it('queue: two consumers never hold the same unexpired lease', async () => {
      const name = `q-${randomUUID()}`;
      for (let i = 0; i < 20; i++) await a.queue(name).offer(item(`l${i}`), 1000);
      // Both receive at once and hold what they got without acknowledging;
      // each waits well under the lease, so neither can see one end.
      const wait = Math.floor(opts.leaseMs / 4);
      const t0 = Date.now();
      const [x, y] = await Promise.all([a.queue(name).receive(20, wait), b.queue(name).receive(20, wait)]);
      const [again, elapsed] = [await b.queue(name).receive(20, wait), Date.now() - t0];
      const held = [...ids(x), ...ids(y), ...ids(again)];
      // Only judged while every lease taken is still running (a stalled machine proves nothing either way).
      if (elapsed < opts.leaseMs) assert.equal(new Set(held).size, held.length, `an item was leased twice within its lease: ${held.join(' ')}`);
      assert.equal(new Set(held).size, 20, 'every item was received');
      await a.queue(name).ack(x);
      await b.queue(name).ack([...y, ...again]);
      assert.equal(await a.queue(name).depth(), 0);
    });

    if (opts.consumerProcess) {
      const spawnConsumer = opts.consumerProcess;
      it('queue: a consumer process killed between receive and ack loses nothing', async () => {
        const name = `q-${randomUUID()}`;
        for (let i = 0; i < 10; i++) await a.queue(name).offer(item(`k${i}`), 1000);
        // Another process receives 6 and is killed (SIGKILL) before it acknowledges them.
        const taken = await spawnConsumer(name, 6);
        assert.deepEqual(taken, ['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
        const got = new Set<string>();
        const deadline = Date.now() + afterLease + 10_000;
        while (got.size < 10 && Date.now() < deadline) {
          const ds = await b.queue(name).receive(10, 500);
          for (const id of ids(ds)) got.add(id);
          await b.queue(name).ack(ds);
        }
        assert.deepEqual([...got].sort(), Array.from({ length: 10 }, (_, i) => `k${i}`).sort(), 'every item reached the surviving consumer');
        assert.equal(await a.queue(name).depth(), 0);
      });
    }

    it('kv: set/get/delete/entries with TTL expiry', async () => {
      const name = `kv-${randomUUID()}`;
      await a.kv<{ n: number }>(name).set('x', { n: 1 });
      await a.kv<{ n: number }>(name).set('short', { n: 2 }, 1000);
      assert.deepEqual(await b.kv<{ n: number }>(name).get('x'), { n: 1 });
      assert.deepEqual((await b.kv(name).entries()).map(([k]) => k).sort(), ['short', 'x']);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(await b.kv(name).get('short'), undefined);
      assert.deepEqual((await b.kv(name).entries()).map(([k]) => k), ['x']);
      await b.kv(name).delete('x');
      assert.equal(await a.kv(name).get('x'), undefined);
    });

    it('kv: entries(prefix) answers only the keys that start with it (%, _ and backslash taken literally), expired ones left out', async () => {
      const name = `kv-${randomUUID()}`;
      const kv = a.kv<number>(name);
      const keys = ['m1/a', 'm1/b', 'm10/a', 'm1', 'n1/a', 'x%y/1', 'xzy/1', 'x_y/1', 'xay/1', 'é/1', 'éé/1', 'a\\b/1', 'a\\c/1', 'ab/1'];
      await Promise.all(keys.map((k, i) => kv.set(k, i)));
      await kv.set('m1/short', 99, 1000);
      const keysOf = async (prefix: string) => (await b.kv<number>(name).entries(prefix)).map(([k]) => k);
      assert.deepEqual(await keysOf('m1/'), ['m1/a', 'm1/b', 'm1/short']);
      assert.deepEqual(await keysOf('x%y/'), ['x%y/1']);
      assert.deepEqual(await keysOf('x_y/'), ['x_y/1']);
      assert.deepEqual(await keysOf('é/'), ['é/1']);
      assert.deepEqual(await keysOf('a\\b/'), ['a\\b/1']);
      assert.deepEqual(await keysOf('none/'), []);
      assert.deepEqual((await b.kv<number>(name).entries('m1/')).map(([, v]) => v), [0, 1, 99], 'values come with their keys');
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(await keysOf('m1/'), ['m1/a', 'm1/b']);
    });

    it('kv: setIfAbsent keeps the first value, even when raced', async () => {
      const name = `kv-${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).kv<string>(name).setIfAbsent('k', `v${i}`, 60_000)),
      );
      const winners = results.filter((r) => r === undefined);
      assert.equal(winners.length, 1, 'exactly one caller finds the key absent');
      const stored = await a.kv<string>(name).get('k');
      assert.ok(results.every((r) => r === undefined || r === stored));
    });

    it('ping answers and close is idempotent', async () => {
      await a.ping();
      const c = await makeEngine();
      await c.close();
      await c.close();
    });
  });
}
