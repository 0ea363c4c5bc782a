import { randomUUID } from 'node:crypto';
import type { KvMap, QueueItem } from '../ports.js';
import { settleAll, TurnBatch } from '../../lib/turn-batch.js';
import { sleep } from '../../lib/wait.js';

/**
 * At-least-once delivery over a queue whose poll removes the item
 * (Hazelcast's IQueue). Only the Hazelcast adapter uses it: services see the
 * queue port's receive/ack and nothing of this.
 *
 * The adapter records every item in a shared ledger map with its offer; a
 * consumer's ack acknowledges it once the item is stored durably. An item recorded
 * but never acknowledged may be lost: its consumer died between poll and
 * store. A reconciler (one at a time, chosen by a lease) re-offers such items.
 * An item counts as lost when it is older than `redeliverAfterMs`, and the
 * queue cannot still hold it (the queue is empty, or its head was offered
 * well after it: the queue is FIFO), and that was so on two scans in a row —
 * the second scan lets an item that a live consumer is storing right now be
 * acknowledged first. A re-offered item may reach a second instance; stores
 * dedup on id, so an instance never holds it twice.
 *
 * Writes are grouped: the records one process makes in one turn of the event
 * loop are one map entry (`r:<uuid>`), and so are its acknowledgements
 * (`a:<uuid>`, also written when an offer failed: nothing to deliver). Per
 * message that is a share of two map writes instead of a write and a delete
 * each; the reconciler deletes groups whose items are all acknowledged, and
 * acknowledgements once nothing refers to them. Records and acknowledgements
 * are matched by id whatever order they land in, so a record may be written
 * beside its offer rather than before it.
 */
export interface LedgerRecord {
  item: QueueItem;
  /** Epoch ms of the latest offer. */
  offeredAt: number;
  redeliveries: number;
}

/** What the ledger map holds: a group of records, or a group of acknowledgements. */
export type LedgerEntry = { records: LedgerRecord[] } | { acks: string[]; at: number };

export const LOCK_MAP = 'locks';

/** What the ledger needs of a queue whose poll removes the item. */
export interface RemovingQueue {
  offer(item: QueueItem, timeoutMs: number): Promise<boolean>;
  /** The head item without taking it; null when empty. */
  peek(): Promise<QueueItem | null>;
}

/** Where the reconciler reports what it re-offered. */
export interface LedgerLog {
  warn(obj: object, msg: string): void;
}

/**
 * Each queue has its own ledger and its own reconciler lease: deployments
 * sharing one cluster with different queue names must never judge each
 * other's records against their own queue.
 */
export const ledgerMapFor = (queueName: string) => `delivery-ledger.${queueName}`;
const leaseKeyFor = (queueName: string) => `ledger-reconciler.${queueName}`;

export interface ReconcilerOptions {
  instance: string;
  /** The queue this ledger belongs to; names the lease. */
  queueName: string;
  /** How often to scan. Default 2000. */
  intervalMs?: number;
  /**
   * Minimum age of a record before it may be re-offered. Default 20000: longer
   * than an offer can take (Hazelcast retries an invocation for up to 15 s
   * while partitions move), so an offer still in flight is never mistaken
   * for a lost item.
   */
  redeliverAfterMs?: number;
  /** Slack for offers racing each other when comparing with the queue head. Default 2000. */
  orderSlackMs?: number;
  offerTimeoutMs?: number;
}

const groupKey = (kind: 'r' | 'a') => `${kind}:${randomUUID()}`;

export class DeliveryLedger {
  private readonly records = new TurnBatch<LedgerRecord>((b) => settleAll(b, this.kv.set(groupKey('r'), { records: b.map((w) => w.value) })));
  private readonly acks = new TurnBatch<string>((b) => settleAll(b, this.kv.set(groupKey('a'), { acks: b.map((w) => w.value), at: Date.now() })));
  /** The count read now running, and the one callers that came meanwhile wait for. */
  private counting: Promise<number> | undefined;
  private nextCount: Promise<number> | undefined;

  constructor(private readonly kv: KvMap<LedgerEntry>) {}

  async record(item: QueueItem): Promise<void> {
    await this.records.add({ item, offeredAt: Date.parse(item.enqueuedAt), redeliveries: 0 });
  }

  /**
   * Records the item and offers it, side by side (a record and its
   * acknowledgement are matched whatever order they land in). If the offer
   * fails or the queue stayed full, the item is acknowledged at once, so the
   * reconciler never delivers a message the client was told failed.
   */
  async recordAndOffer(item: QueueItem, queue: RemovingQueue, timeoutMs: number): Promise<boolean> {
    let queued: boolean;
    try {
      [, queued] = await Promise.all([this.record(item), queue.offer(item, timeoutMs)]);
    } catch (err) {
      await this.forget(item.id).catch(() => undefined);
      throw err;
    }
    if (!queued) await this.forget(item.id);
    return queued;
  }

  /** The offer failed: the client was told so, nothing to deliver. */
  async forget(id: string): Promise<void> {
    await this.acks.add(id);
  }

  /** Stored durably by a consumer. */
  async ack(id: string): Promise<void> {
    await this.acks.add(id);
  }

  /** Items recorded and not acknowledged. */
  async pending(): Promise<LedgerRecord[]> {
    const { groups, acked } = readLedger(await this.kv.entries());
    return groups.flatMap((g) => g.records.filter((r) => !acked.has(r.item.id)));
  }

  /**
   * How many items are recorded and not acknowledged: those waiting in the
   * queue, those taken and not yet acknowledged, and those lost and not yet
   * offered again. One read of the whole ledger (its size is what the
   * reconciler has not tidied yet: a couple of scans' worth, or the backlog).
   */
  unacknowledged(): Promise<number> {
    // Callers that come while a read runs share the next one, which starts after it: each answer is read
    // after its call was made, and one read runs at a time however many callers (dashboard viewers, gauges).
    if (!this.counting) return this.countNow();
    const next = () => {
      this.nextCount = undefined;
      return this.countNow();
    };
    return (this.nextCount ??= this.counting.then(next, next));
  }

  private countNow(): Promise<number> {
    const run = (async () => {
      const { groups, acked } = readLedger(await this.kv.entries());
      const open = new Set<string>();
      for (const g of groups) for (const r of g.records) if (!acked.has(r.item.id)) open.add(r.item.id);
      return open.size;
    })();
    this.counting = run;
    const done = () => {
      if (this.counting === run) this.counting = undefined;
    };
    run.then(done, done);
    return run;
  }
}

interface Group {
  key: string;
  records: LedgerRecord[];
}

interface AckGroup {
  key: string;
  ids: string[];
  at: number;
}

/** Splits the map into record groups and acknowledgements. A record written by an older version (one per key) counts as a group of one. */
function readLedger(entries: Array<[string, LedgerEntry | LedgerRecord]>) {
  const groups: Group[] = [];
  const ackGroups: AckGroup[] = [];
  const acked = new Set<string>();
  for (const [key, v] of entries) {
    if ('acks' in v) {
      ackGroups.push({ key, ids: v.acks, at: v.at });
      for (const id of v.acks) acked.add(id);
    } else if ('records' in v) {
      groups.push({ key, records: v.records });
    } else if ('item' in v) {
      groups.push({ key, records: [v] });
    }
  }
  return { groups, ackGroups, acked };
}

export class LedgerReconciler {
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
  private suspects = new Set<string>();
  /** Ids whose records the last scan deleted (or found acknowledged and dropped): their acknowledgements may go now. */
  private tidied = new Set<string>();
  redelivered = 0;

  constructor(
    private readonly kv: KvMap<LedgerEntry>,
    private readonly locks: KvMap<string>,
    private readonly queue: RemovingQueue,
    private readonly log: LedgerLog,
    private readonly o: ReconcilerOptions,
  ) {}

  private get interval() {
    return this.o.intervalMs ?? 2000;
  }

  /** Holds the reconciler lease; true when this instance may reconcile now. */
  private async lease(): Promise<boolean> {
    const ttl = this.interval * 3;
    const key = leaseKeyFor(this.o.queueName);
    const holder = await this.locks.setIfAbsent(key, this.o.instance, ttl);
    if (holder === undefined) return true;
    if (holder !== this.o.instance) return false;
    await this.locks.set(key, this.o.instance, ttl);
    return true;
  }

  /**
   * One scan; returns how many items were re-offered. Also tidies the map:
   * deletes record groups whose items are all acknowledged, and, a scan
   * later, the acknowledgements no record refers to any more (those naming
   * an id no record ever had are kept for `redeliverAfterMs`: the record may
   * still be on its way). Stops early on stop() or before its lease runs out.
   */
  async scan(now = Date.now()): Promise<number> {
    const leaseEnds = Date.now() + this.interval * 2;
    const redeliverAfter = this.o.redeliverAfterMs ?? 20_000;
    const slack = this.o.orderSlackMs ?? 2000;
    const head = await this.queue.peek();
    const headAt = head ? Date.parse(head.enqueuedAt) : Infinity;
    const { groups, ackGroups, acked } = readLedger(await this.kv.entries());
    const stopping = () => this.ac.signal.aborted || Date.now() > leaseEnds;

    // Re-offer what is lost; rewrite or delete each group by what is left of it.
    const next = new Set<string>();
    const recorded = new Set<string>();
    const goneGroups: string[] = [];
    const goneAcks: string[] = [];
    let n = 0;
    // An item offered again has a newer record (written before its offer): the older one is superseded,
    // never judged lost — another reconciler's scan must not offer the item a second time.
    const newest = new Map<string, number>();
    for (const g of groups) for (const r of g.records) newest.set(r.item.id, Math.max(newest.get(r.item.id) ?? 0, r.offeredAt));
    for (const g of groups) {
      if (stopping()) break;
      const open = g.records.filter((r) => !acked.has(r.item.id) && r.offeredAt >= (newest.get(r.item.id) ?? 0));
      const lost = open.filter((r) => now - r.offeredAt > redeliverAfter && (head === null || r.offeredAt < headAt - slack));
      const again: LedgerRecord[] = [];
      for (const r of lost) {
        // Still unacknowledged one scan later, and the queue cannot hold it: offer it again.
        if (this.suspects.has(r.item.id)) again.push(r);
        else next.add(r.item.id);
      }
      const reoffered = new Set<string>();
      if (again.length > 0) {
        const records = again.map((r) => {
          // Marked, so the consumer that receives it knows it comes again (Delivery.redelivered).
          const item = { ...r.item, enqueuedAt: new Date().toISOString(), redelivery: r.redeliveries + 1 };
          return { item, offeredAt: Date.parse(item.enqueuedAt), redeliveries: r.redeliveries + 1 };
        });
        await this.kv.set(groupKey('r'), { records });
        for (const f of records) {
          if (await this.queue.offer(f.item, this.o.offerTimeoutMs ?? 1000)) {
            n++;
            this.redelivered++;
            this.log.warn({ id: f.item.id, correlationId: f.item.correlationId, redeliveries: f.redeliveries }, 'redelivered an unacknowledged message');
          } else {
            next.add(f.item.id);
          }
          reoffered.add(f.item.id);
          recorded.add(f.item.id);
        }
      }
      const left = open.filter((r) => !reoffered.has(r.item.id));
      // A group whose items were just offered again loses them now, not with the tidying at the end:
      // a scan cut short before that would leave the old records to be offered a second time.
      if (left.length === 0 && reoffered.size > 0) await this.kv.delete(g.key);
      else if (left.length === 0) goneGroups.push(g.key);
      else {
        if (left.length < g.records.length) await this.kv.set(g.key, { records: left });
        for (const r of left) recorded.add(r.item.id);
      }
    }
    this.suspects = next;

    // Acknowledgements go one scan after the last record they cover, never in the same scan: a reader of
    // the whole map (depth(), which counts records not acknowledged) that still met a record group about to
    // be deleted must also meet its acknowledgements. Young ones naming ids no record has are kept (the record
    // may be on its way), old ones dropped.
    const known = new Set<string>(groups.flatMap((g) => g.records.map((r) => r.item.id)));
    if (!stopping()) {
      for (const a of ackGroups) {
        if (stopping()) break;
        if (a.ids.some((id) => known.has(id))) continue;
        if (a.ids.every((id) => this.tidied.has(id)) || now - a.at > redeliverAfter) goneAcks.push(a.key);
      }
    }
    this.tidied = new Set([...known].filter((id) => !recorded.has(id)));
    // Deleted a few at a time side by side (under load a scan has hundreds to
    // delete): record groups first, so an acknowledgement never goes while a
    // record it covers stays (a failed delete ends the scan here).
    for (const keys of [goneGroups, goneAcks]) {
      for (let i = 0; i < keys.length && !this.ac.signal.aborted; i += 32) {
        await Promise.all(keys.slice(i, i + 32).map((k) => this.kv.delete(k)));
      }
    }
    return n;
  }

  start(): void {
    if (this.loop) return;
    this.loop = (async () => {
      while (!this.ac.signal.aborted) {
        await sleep(this.interval, this.ac.signal);
        if (this.ac.signal.aborted) break;
        try {
          if (await this.lease()) await this.scan();
          else {
            this.suspects.clear();
            this.tidied.clear();
          }
        } catch (err) {
          this.log.warn({ err }, 'ledger scan failed');
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await this.loop;
    const key = leaseKeyFor(this.o.queueName);
    await this.locks.get(key).then(
      (h) => (h === this.o.instance ? this.locks.delete(key) : undefined),
      () => undefined,
    );
  }
}
