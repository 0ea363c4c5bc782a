import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EmbeddedEngine } from '../../../src/engine/embedded/embedded-engine.js';
import { DeliveryLedger, ledgerMapFor, LedgerReconciler, LOCK_MAP, type LedgerEntry, type RemovingQueue } from '../../../src/engine/hazelcast/delivery-ledger.js';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import type { Engine, MessageQueue, QueueItem } from '../../../src/engine/ports.js';
import { QueueConsumer } from '../../../src/services/messages/consumer.js';
import { ConsumedStore } from '../../../src/services/messages/store.js';
import { silentLogger } from '../../helpers/fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'ledger-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A FIFO whose poll removes the item, as Hazelcast's IQueue does: what the ledger exists for. */
function removingFifo() {
  const items: QueueItem[] = [];
  return {
    offer: async (item: QueueItem, _timeoutMs: number) => (items.push(item), true),
    peek: async () => items[0] ?? null,
    poll: async (_timeoutMs: number) => items.shift() ?? null,
    pollMany: async (max: number, _timeoutMs: number) => items.splice(0, max),
    depth: async () => items.length,
  } satisfies RemovingQueue & Record<string, unknown>;
}

const item = (id: string, ageMs: number): QueueItem => ({ id, msg: `m-${id}`, enqueuedAt: new Date(Date.now() - ageMs).toISOString() });

for (const [label, make] of [
  ['memory', () => new MemoryEngine()],
  ['embedded', () => new EmbeddedEngine({ dataDir: dir })],
] as Array<[string, () => Engine]>) {
  describe(`delivery ledger (${label})`, () => {
    const setup = (instance = 'messages-a') => {
      const engine = make();
      const q = removingFifo();
      const kv = engine.kv<LedgerEntry>(ledgerMapFor(`q-${Math.random()}`));
      const locks = engine.kv<string>(`${LOCK_MAP}-${Math.random()}`);
      const ledger = new DeliveryLedger(kv);
      const rec = new LedgerReconciler(kv, locks, q, silentLogger(), { instance, queueName: 'q', redeliverAfterMs: 1000, orderSlackMs: 500 });
      return { engine, q, kv, locks, ledger, rec };
    };

    it('an item taken from the queue but never stored (its consumer died) is offered again after two scans', async () => {
      const { q, ledger, rec } = setup();
      const lost = item('lost-1', 5000);
      await ledger.record(lost);
      await q.offer(lost, 100);
      // A consumer takes it and dies before storing: it is gone from the queue.
      assert.equal((await q.poll(100))?.id, 'lost-1');
      assert.equal(await rec.scan(), 0, 'first scan only suspects');
      assert.equal(await rec.scan(), 1, 'second scan re-offers');
      const again = await q.poll(100);
      assert.equal(again?.id, 'lost-1');
      assert.equal(again?.msg, 'm-lost-1');
      assert.equal((await ledger.pending())[0]?.redeliveries, 1);
    });

    it('a failed offer leaves nothing pending, so the reconciler never delivers it', async () => {
      const { q, ledger, rec } = setup();
      const broken = { ...q, offer: async () => Promise.reject(new Error('member gone')) };
      await assert.rejects(ledger.recordAndOffer(item('fail', 5000), broken, 100), /member gone/);
      const full = { ...q, offer: async () => false };
      assert.equal(await ledger.recordAndOffer(item('full', 5000), full, 100), false);
      assert.deepEqual(await ledger.pending(), []);
      assert.equal(await rec.scan(), 0);
      assert.equal(await rec.scan(), 0);
      assert.equal(await q.depth(), 0);
    });

    it('records and acknowledgements made together are one map entry each, and scans remove both once matched', async () => {
      const { q, kv, ledger, rec } = setup();
      const items = Array.from({ length: 20 }, (_, i) => item(`g${i}`, 0));
      assert.deepEqual(await Promise.all(items.map((it) => ledger.recordAndOffer(it, q, 100))), items.map(() => true));
      assert.equal((await kv.entries()).length, 1, 'one record group');
      const taken = await q.pollMany(20, 100);
      await Promise.all(taken.map((it) => ledger.ack(it.id)));
      assert.equal((await kv.entries()).length, 2, 'plus one acknowledgement group');
      assert.deepEqual(await ledger.pending(), []);
      await rec.scan();
      assert.deepEqual((await kv.entries()).map(([k]) => k[0]), ['a'], 'a scan deletes the matched record group');
      assert.equal(await ledger.unacknowledged(), 0, 'a reader between the two deletions still counts nothing');
      await rec.scan();
      assert.deepEqual(await kv.entries(), [], 'the next scan deletes its acknowledgements');
    });

    it('counts the items recorded and not acknowledged: waiting, taken, or lost (each id once)', async () => {
      const { q, ledger, rec } = setup();
      for (const id of ['w1', 'w2', 't1', 't2', 'lost']) assert.equal(await ledger.recordAndOffer(item(id, id === 'lost' ? 5000 : 0), q, 100), true);
      assert.equal(await ledger.unacknowledged(), 5, 'all waiting');
      const taken = await q.pollMany(5, 100);
      assert.equal(taken.length, 5);
      assert.equal(await ledger.unacknowledged(), 5, 'taken and not acknowledged: still counted');
      await ledger.ack('t1');
      await ledger.ack('t2');
      assert.equal(await ledger.unacknowledged(), 3);
      // The old one is offered again by the reconciler (the queue is empty): a new record, the same item.
      await rec.scan();
      assert.equal(await rec.scan(), 1, 'only the old one is judged lost');
      assert.equal(await ledger.unacknowledged(), 3, 'an item offered again counts once');
      await Promise.all(['w1', 'w2', 'lost'].map((id) => ledger.ack(id)));
      assert.equal(await ledger.unacknowledged(), 0);
      await rec.scan();
      await rec.scan();
      assert.equal(await ledger.unacknowledged(), 0, 'and after the scans tidied');
    });

    it('concurrent counts share reads of the ledger, and each is read after it was asked', async () => {
      const { q, kv, ledger } = setup();
      let reads = 0;
      const counted = new DeliveryLedger({ ...kv, entries: async () => (reads++, kv.entries()) });
      for (const id of ['c1', 'c2', 'c3']) assert.equal(await ledger.recordAndOffer(item(id, 0), q, 100), true);
      assert.deepEqual(await Promise.all(Array.from({ length: 10 }, () => counted.unacknowledged())), Array(10).fill(3));
      assert.equal(reads, 2, 'the first read, and one more for every caller that came while it ran');
      // A count still running when the acknowledgement lands may or may not see it; one asked after it does.
      const running = counted.unacknowledged();
      await ledger.ack('c1');
      assert.equal(await counted.unacknowledged(), 2, 'a count asked after the acknowledgement sees it');
      assert.ok([2, 3].includes(await running));
    });

    it('an acknowledgement that lands before its record still matches it', async () => {
      const { q, kv, ledger, rec } = setup();
      const early = item('early', 5000);
      await ledger.ack('early');
      await rec.scan(); // sees an acknowledgement for an id no record has yet: keeps it
      assert.equal((await kv.entries()).length, 1);
      await ledger.record(early);
      assert.deepEqual(await ledger.pending(), []);
      await rec.scan();
      assert.equal(await rec.scan(), 0, 'never offered again');
      assert.equal(await q.depth(), 0);
      assert.deepEqual(await kv.entries(), []);
    });

    it('an acknowledgement no record ever matches is dropped after redeliverAfterMs', async () => {
      const { kv, ledger, rec } = setup();
      await ledger.ack('orphan');
      await rec.scan();
      assert.equal((await kv.entries()).length, 1, 'young: kept');
      await rec.scan(Date.now() + 1500);
      assert.deepEqual(await kv.entries(), [], 'old: dropped');
    });

    it('a record kept by an older version (one entry per id) is still reconciled', async () => {
      const { q, kv, rec } = setup();
      const old = item('old-format', 5000);
      await (kv as unknown as { set(k: string, v: unknown): Promise<void> }).set('old-format', { item: old, offeredAt: Date.parse(old.enqueuedAt), redeliveries: 0 });
      await rec.scan();
      assert.equal(await rec.scan(), 1);
      assert.equal((await q.poll(100))?.id, 'old-format');
    });

    it('an acknowledged item is never offered again', async () => {
      const { q, ledger, rec } = setup();
      const ok = item('ok-1', 5000);
      await ledger.record(ok);
      await q.offer(ok, 100);
      await q.poll(100);
      assert.equal(await rec.scan(), 0);
      await ledger.ack('ok-1');
      assert.equal(await rec.scan(), 0);
      assert.equal(await q.depth(), 0);
      assert.deepEqual(await ledger.pending(), []);
    });

    it('an old item still waiting in the queue (a backlog) is not offered twice', async () => {
      const { q, ledger, rec } = setup();
      for (let i = 0; i < 5; i++) {
        const it = item(`backlog-${i}`, 10_000);
        await ledger.record(it);
        await q.offer(it, 100);
      }
      await rec.scan();
      assert.equal(await rec.scan(), 0);
      assert.equal(await q.depth(), 5);
    });

    it('an item older than the queue head by more than the slack is known lost even while the queue is busy', async () => {
      const { q, ledger, rec } = setup();
      const lost = item('lost-old', 20_000);
      await ledger.record(lost);
      const fresh = item('fresh', 0);
      await ledger.record(fresh);
      await q.offer(fresh, 100);
      await rec.scan();
      assert.equal(await rec.scan(), 1);
      assert.equal(await q.depth(), 2);
    });

    it('two reconcilers that both judged an item lost offer it once: the new record of the first supersedes the old', async () => {
      const { q, kv, locks, ledger } = setup();
      const lost = item('lost-twice', 5000);
      await ledger.record(lost);
      // Two instances that each held the lease for two scans in turn (a slow scan let the lease pass).
      const a = new LedgerReconciler(kv, locks, q, silentLogger(), { instance: 'a', queueName: 'q', redeliverAfterMs: 1000, orderSlackMs: 500 });
      const b = new LedgerReconciler(kv, locks, q, silentLogger(), { instance: 'b', queueName: 'q', redeliverAfterMs: 1000, orderSlackMs: 500 });
      await a.scan();
      await b.scan();
      assert.equal(await a.scan(), 1, 'the first offers it again');
      assert.equal((await q.poll(100))?.id, 'lost-twice');
      // The second read the ledger before the first tidied it: the old record is still in its view.
      await (kv as unknown as { set(k: string, v: unknown): Promise<void> }).set('r:stale-view', { records: [{ item: lost, offeredAt: Date.parse(lost.enqueuedAt), redeliveries: 0 }] });
      assert.equal(await b.scan(), 0, 'the second sees the newer record and leaves it');
      assert.equal(await q.depth(), 0);
      assert.equal((await ledger.pending()).length, 1, 'one record left: the newer one');
    });

    it('a young unacknowledged item is left alone', async () => {
      const { ledger, rec } = setup();
      await ledger.record(item('young', 0));
      await rec.scan();
      assert.equal(await rec.scan(), 0);
    });

    it('with a real consumer: the lost item ends up stored once', async () => {
      const { q, ledger, kv, locks } = setup();
      const store = new ConsumedStore(':memory:');
      // The Hazelcast adapter's receive/ack in miniature: take removes, ack tells the ledger.
      const acked: MessageQueue = {
        offer: (i, t) => ledger.recordAndOffer(i, q, t),
        receive: async (max, t) => (await q.pollMany(max, t)).map((i) => ({ item: i, tag: i.id })),
        ack: async (ds) => void (await Promise.all(ds.map((d) => ledger.ack(d.tag)))),
        depth: () => q.depth(),
      };
      const consumer = new QueueConsumer({ instance: 'messages-b', queue: acked, store, logger: silentLogger(), pollTimeoutMs: 50 });
      const rec = new LedgerReconciler(kv, locks, q, silentLogger(), { instance: 'messages-b', queueName: 'q', intervalMs: 50, redeliverAfterMs: 200, orderSlackMs: 100 });
      const lost = item('lost-2', 0);
      await ledger.record(lost);
      await q.offer(lost, 100);
      assert.equal((await q.poll(100))?.id, 'lost-2'); // taken by a consumer that then died
      consumer.start();
      rec.start();
      const deadline = Date.now() + 5000;
      while (store.count() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await rec.stop();
      await consumer.stop();
      assert.deepEqual(store.list().map((e) => e.id), ['lost-2']);
      assert.deepEqual(await ledger.pending(), []);
    });

    it('only one reconciler holds the lease at a time', async () => {
      const engine = make();
      const q = removingFifo();
      const kv = engine.kv<LedgerEntry>(ledgerMapFor(`q-${Math.random()}`));
      const locks = engine.kv<string>(`${LOCK_MAP}-${Math.random()}`);
      const ledger = new DeliveryLedger(kv);
      const a = new LedgerReconciler(kv, locks, q, silentLogger(), { instance: 'a', queueName: 'q', intervalMs: 30, redeliverAfterMs: 10, orderSlackMs: 5 });
      const b = new LedgerReconciler(kv, locks, q, silentLogger(), { instance: 'b', queueName: 'q', intervalMs: 30, redeliverAfterMs: 10, orderSlackMs: 5 });
      await ledger.record(item('x', 1000));
      a.start();
      b.start();
      await new Promise((r) => setTimeout(r, 400));
      await a.stop();
      await b.stop();
      assert.ok(a.redelivered === 0 || b.redelivered === 0, `both reconciled: a=${a.redelivered} b=${b.redelivered}`);
    });
  });
}
