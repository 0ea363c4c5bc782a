import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, after, before } from 'node:test';
import type { Engine, LogEntry } from '../../src/engine/ports.js';

/**
 * The behaviour every engine adapter must show. Each adapter's test file
 * calls this with a factory; names are random so runs never collide.
 * `makeEngine` may be called more than once: engines it returns share data
 * (two processes, two clients of one cluster).
 * `queueCapacity` bounds every queue the test names `bounded-*` (on the
 * embedded engine, every queue); `burst` is how many offers to make at once
 * on an unbounded queue (default queueCapacity).
 */
export function engineContract(label: string, makeEngine: () => Promise<Engine>, opts: { queueCapacity: number; skip?: string | false; burst?: number }) {
  describe(`engine contract: ${label}`, { skip: opts.skip ?? false }, () => {
    let a: Engine;
    let b: Engine;
    before(async () => {
      a = await makeEngine();
      b = await makeEngine();
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

    it('queue: FIFO across clients, depth, poll timeout returns null', async () => {
      const name = `q-${randomUUID()}`;
      const q = a.queue(name);
      for (let i = 0; i < 5; i++) assert.equal(await q.offer({ id: `i${i}`, msg: `m${i}`, enqueuedAt: '' }, 1000), true);
      assert.equal(await b.queue(name).depth(), 5);
      assert.equal((await b.queue(name).peek())?.id, 'i0', 'peek shows the head');
      assert.equal(await q.depth(), 5, 'peek takes nothing');
      const got: string[] = [];
      for (let i = 0; i < 5; i++) got.push((await b.queue(name).poll(1000))!.id);
      assert.deepEqual(got, ['i0', 'i1', 'i2', 'i3', 'i4']);
      const t0 = Date.now();
      assert.equal(await q.poll(300), null);
      assert.equal(await q.peek(), null);
      assert.ok(Date.now() - t0 < 5000);
      assert.equal(await q.depth(), 0);
    });

    it('queue: concurrent consumers never get the same item', async () => {
      const name = `q-${randomUUID()}`;
      const n = opts.queueCapacity;
      await Promise.all(Array.from({ length: n }, (_, i) => a.queue(name).offer({ id: `c${i}`, msg: 'x', enqueuedAt: '' }, 5000)));
      const take = async (e: Engine) => {
        const mine: string[] = [];
        for (;;) {
          const it = await e.queue(name).poll(200);
          if (!it) return mine;
          mine.push(it.id);
        }
      };
      const [x, y] = await Promise.all([take(a), take(b)]);
      const all = [...x, ...y];
      assert.equal(all.length, n);
      assert.equal(new Set(all).size, n);
    });

    it('queue: pollMany takes up to max items in order, [] on timeout', async () => {
      const name = `q-${randomUUID()}`;
      for (let i = 0; i < 7; i++) await a.queue(name).offer({ id: `m${i}`, msg: 'x', enqueuedAt: '' }, 1000);
      assert.deepEqual((await b.queue(name).pollMany(5, 1000)).map((x) => x.id), ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.deepEqual((await b.queue(name).pollMany(5, 1000)).map((x) => x.id), ['m5', 'm6']);
      assert.deepEqual(await a.queue(name).pollMany(5, 200), []);
      assert.equal(await a.queue(name).depth(), 0);
    });

    it('queue: a waiting poll gets an item offered later', async () => {
      const name = `q-${randomUUID()}`;
      const p = b.queue(name).poll(5000);
      setTimeout(() => void a.queue(name).offer({ id: 'late', msg: 'x', enqueuedAt: '' }, 1000), 100);
      assert.equal((await p)?.id, 'late');
    });

    it('queue: poll ends promptly when its signal aborts', async () => {
      const ac = new AbortController();
      const t0 = Date.now();
      setTimeout(() => ac.abort(), 100);
      assert.equal(await a.queue(`q-${randomUUID()}`).poll(30_000, ac.signal), null);
      assert.ok(Date.now() - t0 < 10_000, 'poll did not return after abort');
    });

    it('queue: bounded — offer fails after its timeout when full', async () => {
      const name = `bounded-${randomUUID()}`;
      const q = a.queue(name);
      for (let i = 0; i < opts.queueCapacity; i++) assert.equal(await q.offer({ id: `f${i}`, msg: 'x', enqueuedAt: '' }, 1000), true);
      assert.equal(await q.offer({ id: 'over', msg: 'x', enqueuedAt: '' }, 200), false);
      assert.equal(await q.depth(), opts.queueCapacity);
      await b.queue(name).poll(1000);
      assert.equal(await q.offer({ id: 'room', msg: 'x', enqueuedAt: '' }, 1000), true);
    });

    it('queue: offers made together all land, in the order they were made', async () => {
      const name = `q-${randomUUID()}`;
      const n = opts.burst ?? opts.queueCapacity; // Hazelcast: more than one of the adapter's batches
      const oks = await Promise.all(Array.from({ length: n }, (_, i) => a.queue(name).offer({ id: `t${i}`, msg: 'x', enqueuedAt: '' }, 5000)));
      assert.ok(oks.every(Boolean));
      const got = (await b.queue(name).pollMany(n + 1, 1000)).map((x) => x.id);
      assert.deepEqual(got, Array.from({ length: n }, (_, i) => `t${i}`));
    });

    it('queue: bounded — a burst larger than the room left fills it and the rest time out', async () => {
      const name = `bounded-${randomUUID()}`;
      const q = a.queue(name);
      const cap = opts.queueCapacity;
      for (let i = 0; i < 5; i++) assert.equal(await q.offer({ id: `pre${i}`, msg: 'x', enqueuedAt: '' }, 1000), true);
      const burst = await Promise.all(Array.from({ length: cap }, (_, i) => q.offer({ id: `b${i}`, msg: 'x', enqueuedAt: '' }, 300)));
      assert.equal(burst.filter(Boolean).length, cap - 5, 'exactly the room left is taken');
      assert.equal(await q.depth(), cap);
      const ids = (await b.queue(name).pollMany(cap + 1, 1000)).map((x) => x.id);
      assert.equal(new Set(ids).size, cap, 'no item twice');
      const accepted = new Set(burst.flatMap((ok, i) => (ok ? [`b${i}`] : [])));
      assert.deepEqual(ids.filter((id) => id.startsWith('b')).sort(), [...accepted].sort(), 'the queue holds exactly the accepted offers');
    });

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
