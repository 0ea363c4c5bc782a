import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Delivery, MessageQueue, QueueItem } from '../../src/engine/ports.js';

/** A queue handle the suite can close (each stands for one process's client). */
export type ClosableQueue = MessageQueue & { close(): Promise<void> };

export interface LeasedQueueHarness {
  /**
   * Opens a client of the queue `name`; two opens of one name are two
   * consumers of one queue (one consumer group). `ordered` asks for a queue
   * the engine keeps in one FIFO order (Kafka: one partition).
   */
  open(name: string, o: { capacity: number; leaseMs: number; ordered?: boolean }): Promise<ClosableQueue>;
  /** The unit within which the engine keeps FIFO order (Kafka: the partition); default: the whole queue. */
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

/** The at-least-once properties of the queue port with leases, for any engine. */
export function leasedQueueContract(label: string, h: LeasedQueueHarness, skip: string | false = false) {
  describe(`leased queue contract: ${label}`, { skip }, () => {
    const open: ClosableQueue[] = [];
    const waitMs = h.waitMs ?? 60_000;
    const openQ = async (name: string, o: { capacity: number; leaseMs: number; ordered?: boolean }) => {
      const q = await h.open(name, o);
      open.push(q);
      return q;
    };
    after(async () => {
      await Promise.all(open.map((q) => q.close().catch(() => {})));
    });

    it('offers from one producer are first delivered in offer order within each ordering unit', async () => {
      const name = `fifo-${randomUUID()}`;
      const q = await openQ(name, { capacity: 1000, leaseMs: 60_000, ordered: true });
      const ids = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, '0')}`);
      // Sequential offers: the producer's order is well defined.
      for (const id of ids) assert.equal(await q.offer(item(id), 5000), true);
      const { deliveries } = await receiveIds(q, ids.length, waitMs, true);
      const byUnit = new Map<string, string[]>();
      const first = new Set<string>();
      for (const d of deliveries) {
        if (first.has(d.item.id)) continue;
        first.add(d.item.id);
        const k = h.orderKey?.(d) ?? '';
        byUnit.set(k, [...(byUnit.get(k) ?? []), d.item.id]);
      }
      assert.equal(first.size, ids.length, 'every offered item is delivered');
      for (const [unit, seq] of byUnit) assert.deepEqual(seq, ids.filter((id) => seq.includes(id)), `order within ${unit || 'the queue'}`);
    });

    it('an item received and not acknowledged is received again after the lease', async () => {
      const name = `lease-${randomUUID()}`;
      const q = await openQ(name, { capacity: 100, leaseMs: 1500 });
      assert.equal(await q.offer(item('once'), 5000), true);
      const first = await receiveIds(q, 1, waitMs);
      assert.deepEqual([...first.ids], ['once']);
      const t0 = Date.now();
      const again = await receiveIds(q, 1, waitMs);
      assert.deepEqual([...again.ids], ['once'], 'the unacknowledged item comes back');
      assert.ok(Date.now() - t0 >= 1000, 'not before its lease ran out');
      await q.ack(again.deliveries);
      await q.ack(first.deliveries); // an old tag of an acknowledged item is ignored
    });

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

    it('depth counts unacknowledged items, and the bound makes offer answer false', async () => {
      const name = `bound-${randomUUID()}`;
      const q = await openQ(name, { capacity: 5, leaseMs: 60_000 });
      for (let i = 0; i < 5; i++) assert.equal(await q.offer(item(`b${i}`), 5000), true);
      assert.equal(await q.depth(), 5);
      const t0 = Date.now();
      assert.equal(await q.offer(item('b-over'), 300), false, 'full: refused');
      assert.ok(Date.now() - t0 >= 250, 'after waiting for room');
      const got = await receiveIds(q, 5, waitMs);
      assert.equal(await q.depth(), 5, 'received but unacknowledged items still count');
      await q.ack(got.deliveries.filter((d) => d.item.id === 'b0' || d.item.id === 'b1'));
      const deadline = Date.now() + waitMs;
      let depth = await q.depth();
      while (depth !== 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        depth = await q.depth();
      }
      // b0 and b1 were offered first, so nothing unacknowledged is ahead of them (Kafka counts per partition up to the first unacknowledged item).
      assert.equal(depth, 3, 'two acknowledged: three left');
      await q.ack(got.deliveries);
      while ((depth = await q.depth()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(depth, 0, 'all acknowledged: empty');
      assert.equal(await q.offer(item('b-room'), 1000), true, 'room again');
    });
  });
}
