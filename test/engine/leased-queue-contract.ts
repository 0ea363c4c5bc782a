import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Delivery, MessageQueue, QueueItem, QueuePromises } from '../../src/engine/ports.js';

/** A queue handle the suite can close (each stands for one process's client). */
export type ClosableQueue = MessageQueue & { close(): Promise<void> };

export interface LeasedQueueHarness {
  /** What the port promises of this engine's queue (QUEUE_PROMISES): the suite asserts exactly that. */
  promises: QueuePromises;
  /**
   * Opens a client of the queue `name`; two opens of one name are two
   * consumers of one queue (one consumer group). `ordered` asks for a queue
   * the engine keeps in one FIFO order (Kafka: one partition).
   */
  open(name: string, o: { capacity: number; leaseMs: number; ordered?: boolean }): Promise<ClosableQueue>;
  /** The partition a delivery came from, for an engine whose order is per partition (tags are opaque to services). */
  orderKey?: (d: Delivery) => string;
  /** Waits until these consumers of one queue are settled (Kafka: the group has given each its partitions). */
  settle?: (queues: ClosableQueue[]) => Promise<void>;
  /** Bound for waits on deliveries; default 60000. */
  waitMs?: number;
}

const item = (id: string): QueueItem => ({ id, msg: `m-${id}`, enqueuedAt: new Date().toISOString() });

/** Receives (without acknowledging) until `want` distinct ids came or the bound passed. */
export async function receiveIds(q: MessageQueue, want: number, boundMs: number, ack = false): Promise<{ ids: Set<string>; deliveries: Delivery[] }> {
  const ids = new Set<string>();
  const deliveries: Delivery[] = [];
  const deadline = Date.now() + boundMs;
  while (ids.size < want && Date.now() < deadline) {
    const got = await q.receive(50, Math.min(1000, Math.max(1, deadline - Date.now())));
    for (const d of got) {
      ids.add(d.item.id);
      deliveries.push(d);
    }
    if (ack && got.length) await q.ack(got);
  }
  return { ids, deliveries };
}

/** The at-least-once properties of the queue port with leases, for any engine, as the port's QUEUE_PROMISES state them for it. */
export function leasedQueueContract(label: string, h: LeasedQueueHarness, skip: string | false = false) {
  describe(`leased queue contract: ${label}`, { skip }, () => {
    const open: ClosableQueue[] = [];
    const waitMs = h.waitMs ?? 60_000;
    const p = h.promises;
    const openQ = async (name: string, o: { capacity: number; leaseMs: number; ordered?: boolean }) => {
      const q = await h.open(name, o);
      open.push(q);
      return q;
    };
    after(async () => {
      await Promise.all(open.map((q) => q.close().catch(() => {})));
    });

    it(`offers from one producer are first delivered in offer order ${p.order === 'queue' ? 'across the queue' : 'within each partition'}`, async () => {
      const name = `fifo-${randomUUID()}`;
      const q = await openQ(name, { capacity: 1000, leaseMs: 60_000, ordered: true });
      const ids = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, '0')}`);
      // Sequential offers: the producer's order is well defined.
      for (const id of ids) assert.equal(await q.offer(item(id), 5000), true);
      const { deliveries } = await receiveIds(q, ids.length, waitMs, true);
      const byUnit = new Map<string, string[]>();
      const first = new Set<string>();
      const unitOf = p.order === 'queue' ? () => 'the queue' : h.orderKey;
      assert.ok(unitOf, 'a partitioned queue needs orderKey');
      for (const d of deliveries) {
        if (first.has(d.item.id)) continue;
        first.add(d.item.id);
        const k = unitOf(d);
        byUnit.set(k, [...(byUnit.get(k) ?? []), d.item.id]);
      }
      assert.equal(first.size, ids.length, 'every offered item is delivered');
      for (const [unit, seq] of byUnit) assert.deepEqual(seq, ids.filter((id) => seq.includes(id)), `order within ${unit}`);
    });

    it('an item received and not acknowledged is received again after the lease', async () => {
      const name = `lease-${randomUUID()}`;
      const leaseMs = 1500;
      const q = await openQ(name, { capacity: 100, leaseMs });
      const offeredAt = Date.now();
      assert.equal(await q.offer(item('once'), 5000), true);
      const first = await receiveIds(q, 1, waitMs);
      assert.deepEqual([...first.ids], ['once']);
      // The last moment the lease can have started: its offer, or the end of the receive that handed it out.
      const t0 = p.leaseFrom === 'offer' ? offeredAt : Date.now();
      const again = await receiveIds(q, 1, waitMs);
      assert.deepEqual([...again.ids], ['once'], 'the unacknowledged item comes back');
      assert.ok(Date.now() - t0 >= leaseMs - 500, 'not before its lease ran out');
      await q.ack(again.deliveries);
      await q.ack(first.deliveries); // an old tag of an acknowledged item is ignored
    });

    // --- trace context (W3C traceparent) on queue items ---------------------------------
    // A traced message's item carries its traceparent (on Kafka also as a record header); the
    // consumer continues the trace from it, also when the item comes again after its lease.
    it("an item's traceparent survives offer → receive, also on its redelivery after the lease, which is marked", async () => {
      const name = `trace-${randomUUID()}`;
      const q = await openQ(name, { capacity: 100, leaseMs: 1500 });
      const traceparent = `00-${randomUUID().replaceAll('-', '')}-${randomUUID().replaceAll('-', '').slice(0, 16)}-01`;
      assert.equal(await q.offer({ ...item('traced'), traceparent }, 5000), true);
      assert.equal(await q.offer(item('plain'), 5000), true);
      const first = await receiveIds(q, 2, waitMs);
      const byId = new Map(first.deliveries.map((d) => [d.item.id, d]));
      assert.equal(byId.get('traced')?.item.traceparent, traceparent, 'the context travels with the item');
      assert.equal(byId.get('plain')?.item.traceparent, undefined, 'and only with it');
      assert.equal(byId.get('traced')?.redelivered, undefined, 'a first delivery is not marked');
      await q.ack([byId.get('plain')!]);
      const again = await receiveIds(q, 1, waitMs);
      assert.deepEqual([...again.ids], ['traced']);
      assert.equal(again.deliveries[0]!.item.traceparent, traceparent, 'the redelivered item continues the same trace');
      assert.equal(again.deliveries[0]!.redelivered, true, 'and says it comes again');
      await q.ack(again.deliveries);
    });
    // --- end of trace context -----------------------------------------------------------

    it('an item leased by a consumer that closes without acknowledging goes to another consumer', async () => {
      const name = `handover-${randomUUID()}`;
      const a = await openQ(name, { capacity: 100, leaseMs: 120_000 });
      for (let i = 0; i < 6; i++) assert.equal(await a.offer(item(`h${i}`), 5000), true);
      const got = await receiveIds(a, 6, waitMs);
      assert.equal(got.ids.size, 6);
      await a.close();
      const b = await openQ(name, { capacity: 100, leaseMs: 120_000 });
      const again = await receiveIds(b, 6, waitMs, true);
      assert.deepEqual([...again.ids].sort(), [...got.ids].sort());
    });

    it('an acknowledged item is never delivered again, also not to a consumer started later', async () => {
      const name = `acked-${randomUUID()}`;
      const a = await openQ(name, { capacity: 100, leaseMs: 1000, ordered: true });
      for (let i = 0; i < 10; i++) assert.equal(await a.offer(item(`a${i}`), 5000), true);
      const got = await receiveIds(a, 10, waitMs, true);
      assert.equal(got.ids.size, 10);
      // Well past the lease: nothing comes back to the same consumer; the marker, offered last, comes after anything that would.
      assert.equal(await a.offer(item('marker-1'), 5000), true);
      const later = await receiveIds(a, 1, waitMs, true);
      assert.deepEqual([...later.ids], ['marker-1']);
      await a.close();
      const b = await openQ(name, { capacity: 100, leaseMs: 1000, ordered: true });
      assert.equal(await b.offer(item('marker-2'), 5000), true);
      const after = await receiveIds(b, 1, waitMs, true);
      assert.deepEqual([...after.ids], ['marker-2'], 'a new consumer starts after the acknowledged items');
    });

    it('two consumers never both hold an unexpired lease on one item', async () => {
      const name = `split-${randomUUID()}`;
      const a = await openQ(name, { capacity: 1000, leaseMs: 120_000 });
      const b = await openQ(name, { capacity: 1000, leaseMs: 120_000 });
      // Both must be members before the items come, or the first takes all.
      const pollers = [a, b].map(async (q) => q.receive(1, 10));
      await Promise.all(pollers);
      await h.settle?.([a, b]);
      const n = 60;
      for (let i = 0; i < n; i++) assert.equal(await a.offer(item(`s${i}`), 5000), true);
      const holders = new Map<string, Set<ClosableQueue>>();
      const deadline = Date.now() + waitMs;
      await Promise.all(
        [a, b].map(async (q) => {
          while (holders.size < n && Date.now() < deadline) {
            for (const d of await q.receive(20, 500)) holders.set(d.item.id, new Set([...(holders.get(d.item.id) ?? []), q]));
          }
        }),
      );
      assert.equal(holders.size, n, 'every item is handed out');
      const both = [...holders].filter(([, s]) => s.size > 1).map(([id]) => id);
      assert.deepEqual(both, [], 'no item held by both');
    });

    it(
      p.redelivery === 'any'
        ? 'an item whose lease ended unacknowledged goes to another consumer'
        : 'an item whose lease ended unacknowledged comes again to the consumer that held it, and to no other while it stays',
      async () => {
        const name = `again-${randomUUID()}`;
        const leaseMs = 4000;
        const a = await openQ(name, { capacity: 1000, leaseMs });
        const b = await openQ(name, { capacity: 1000, leaseMs });
        await Promise.all([a, b].map(async (q) => q.receive(1, 10)));
        await h.settle?.([a, b]);
        const ids = Array.from({ length: 30 }, (_, i) => `r${i}`);
        for (const id of ids) assert.equal(await a.offer(item(id), 5000), true);
        // a takes what it is given and holds it. Where b holds partitions of its own, b takes its share and acknowledges it.
        const held = new Set<string>();
        const others = new Set<string>();
        let heldAt = 0;
        const deadline = Date.now() + waitMs;
        const handedOut = () => held.size + others.size >= ids.length || Date.now() > deadline;
        await Promise.all([
          (async () => {
            while (!handedOut()) {
              const ds = await a.receive(50, 300);
              ds.forEach((d) => held.add(d.item.id));
              if (ds.length) heldAt = Date.now();
            }
          })(),
          (async () => {
            while (p.redelivery === 'holder' && !handedOut()) {
              const ds = await b.receive(50, 300);
              ds.forEach((d) => others.add(d.item.id));
              if (ds.length) await b.ack(ds);
            }
          })(),
        ]);
        assert.equal(held.size + others.size, ids.length, 'every item is handed out');
        assert.ok(held.size > 0, 'the first consumer holds some');
        if (p.redelivery === 'any') {
          const again = await receiveIds(b, held.size, waitMs, true);
          assert.deepEqual([...again.ids].sort(), [...held].sort(), 'the other consumer receives every item the first one held');
        } else {
          // b asks through the lease and well past its end: none of a's items come to it.
          const seen = new Set<string>();
          for (let left = heldAt + leaseMs + 2000 - Date.now(); left > 0; left = heldAt + leaseMs + 2000 - Date.now()) {
            const ds = await b.receive(50, Math.min(500, left));
            ds.forEach((d) => seen.add(d.item.id));
            if (ds.length) await b.ack(ds);
          }
          assert.deepEqual([...seen].filter((id) => held.has(id)), [], 'no item held by the other consumer came to this one');
          const again = await receiveIds(a, held.size, waitMs, true);
          assert.deepEqual([...again.ids].sort(), [...held].sort(), 'the holder receives every item it held again');
        }
      },
    );

    it(`depth counts ${p.depth === 'unacknowledged' ? 'the unacknowledged items' : 'from the first unacknowledged item on'}; ${p.bound === 'depth' ? 'a received item keeps its room' : 'a received item makes room'} until acknowledged`, async () => {
      const name = `bound-${randomUUID()}`;
      // One partition: "the first unacknowledged item" is well defined.
      const q = await openQ(name, { capacity: 5, leaseMs: 60_000, ordered: true });
      for (let i = 0; i < 5; i++) assert.equal(await q.offer(item(`b${i}`), 5000), true);
      assert.equal(await q.depth(), 5);
      const t0 = Date.now();
      assert.equal(await q.offer(item('b-over'), 300), false, 'full: refused');
      assert.ok(Date.now() - t0 >= 250, 'after waiting for room');
      const got = await receiveIds(q, 5, waitMs);
      assert.deepEqual([...got.ids], ['b0', 'b1', 'b2', 'b3', 'b4']);
      assert.equal(await q.depth(), 5, 'received but unacknowledged items still count');
      if (p.bound === 'depth') {
        assert.equal(await q.offer(item('b-leased'), 300), false, 'received, not acknowledged: no room yet');
      } else {
        assert.equal(await q.offer(item('b-room'), 1000), true, 'a received item made room');
        const extra = await receiveIds(q, 1, waitMs, true);
        assert.deepEqual([...extra.ids], ['b-room']);
      }
      const byId = new Map(got.deliveries.map((d) => [d.item.id, d]));
      const ack = (...ids: string[]) => q.ack(ids.map((id) => byId.get(id)!));
      // depth() may follow an acknowledgement a moment late (Kafka reads it from the brokers): waited for, within the bound.
      const depthReaches = async (want: number, what: string) => {
        const deadline = Date.now() + waitMs;
        let depth = await q.depth();
        while (depth !== want && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          depth = await q.depth();
        }
        assert.equal(depth, want, what);
      };
      const exact = p.depth === 'unacknowledged';
      await ack('b3', 'b4');
      await depthReaches(exact ? 3 : 5, exact ? 'the last two acknowledged: three left' : 'the last two acknowledged: still behind b0, all five count');
      await ack('b0', 'b1');
      await depthReaches(exact ? 1 : 3, exact ? 'four acknowledged: one left' : 'the first two acknowledged too: from b2 on, three count');
      await ack('b2');
      await depthReaches(0, 'all acknowledged: empty');
      assert.equal(await q.offer(item('b-again'), 1000), true, 'room again');
      const last = await receiveIds(q, 1, waitMs, true);
      assert.deepEqual([...last.ids], ['b-again'], 'the refused offers were never delivered');
    });
  });
}
