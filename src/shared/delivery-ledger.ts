import type { Logger } from 'pino';
import type { KvMap, MessageQueue, QueueItem } from '../engine/ports.js';
import { sleep } from '../engine/wait.js';

/**
 * At-least-once delivery over a queue whose poll removes the item.
 *
 * The facade records every item in a shared ledger map before it offers it;
 * a consumer deletes the record once the item is stored durably. A record
 * that stays means the item may be lost: its consumer died between poll and
 * store, or the facade died between record and offer. A reconciler (one at a
 * time, chosen by a lease) re-offers such items. An item counts as lost when
 * it is older than `redeliverAfterMs`, and the queue cannot still hold it
 * (the queue is empty, or its head was offered well after it: the queue is
 * FIFO), and that was so on two scans in a row — the second scan lets an
 * item that a live consumer is storing right now be acknowledged first.
 * A re-offered item may reach a second instance; stores dedup on id, so an
 * instance never holds it twice.
 */
export interface LedgerRecord {
  item: QueueItem;
  /** Epoch ms of the latest offer. */
  offeredAt: number;
  redeliveries: number;
}

export const LOCK_MAP = 'locks';

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

export class DeliveryLedger {
  /**
   * @param writesCommitTogether the engine commits writes issued together
   *   atomically (the embedded engine's batches), so the record may be sent
   *   with the offer. Otherwise the record must land first: were a
   *   consumer's acknowledgement to land before it, the record would stay
   *   and the item be offered again (seen on a CPU-starved Hazelcast cluster).
   */
  constructor(
    private readonly kv: KvMap<LedgerRecord>,
    private readonly writesCommitTogether = false,
  ) {}

  async record(item: QueueItem): Promise<void> {
    await this.kv.set(item.id, { item, offeredAt: Date.parse(item.enqueuedAt), redeliveries: 0 });
  }

  /** Records the item, offers it, and drops the record again if the queue stayed full. */
  async recordAndOffer(item: QueueItem, queue: MessageQueue, timeoutMs: number): Promise<boolean> {
    let queued: boolean;
    try {
      if (this.writesCommitTogether) {
        [, queued] = await Promise.all([this.record(item), queue.offer(item, timeoutMs)]);
      } else {
        await this.record(item);
        queued = await queue.offer(item, timeoutMs);
      }
    } catch (err) {
      // The caller answers an error: the record must not make the reconciler deliver it later.
      await this.forget(item.id).catch(() => undefined);
      throw err;
    }
    if (!queued) await this.forget(item.id);
    return queued;
  }

  /** The offer failed: the client was told so, nothing to deliver. */
  async forget(id: string): Promise<void> {
    await this.kv.delete(id);
  }

  /** Stored durably by a consumer. */
  async ack(id: string): Promise<void> {
    await this.kv.delete(id);
  }

  async pending(): Promise<LedgerRecord[]> {
    return (await this.kv.entries()).map(([, r]) => r);
  }
}

export class LedgerReconciler {
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
  private suspects = new Set<string>();
  redelivered = 0;

  constructor(
    private readonly kv: KvMap<LedgerRecord>,
    private readonly locks: KvMap<string>,
    private readonly queue: MessageQueue,
    private readonly log: Logger,
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

  /** One scan; returns how many items were re-offered. Stops early on stop() or before its lease runs out. */
  async scan(now = Date.now()): Promise<number> {
    const leaseEnds = Date.now() + this.interval * 2;
    const redeliverAfter = this.o.redeliverAfterMs ?? 20_000;
    const slack = this.o.orderSlackMs ?? 2000;
    const head = await this.queue.peek();
    const headAt = head ? Date.parse(head.enqueuedAt) : Infinity;
    const lost = (await this.kv.entries())
      .map(([, r]) => r)
      .filter((r) => now - r.offeredAt > redeliverAfter && (head === null || r.offeredAt < headAt - slack));
    const next = new Set<string>();
    let n = 0;
    for (const r of lost) {
      if (this.ac.signal.aborted || Date.now() > leaseEnds) break;
      if (!this.suspects.has(r.item.id)) {
        next.add(r.item.id);
        continue;
      }
      // Still unacknowledged one scan later, and the queue cannot hold it: offer it again.
      const fresh = await this.kv.get(r.item.id);
      if (!fresh || fresh.offeredAt !== r.offeredAt) continue;
      const item: QueueItem = { ...r.item, enqueuedAt: new Date().toISOString() };
      await this.kv.set(item.id, { item, offeredAt: Date.parse(item.enqueuedAt), redeliveries: r.redeliveries + 1 });
      if (await this.queue.offer(item, this.o.offerTimeoutMs ?? 1000)) {
        n++;
        this.redelivered++;
        this.log.warn({ id: item.id, correlationId: item.correlationId, redeliveries: r.redeliveries + 1 }, 'redelivered an unacknowledged message');
      } else {
        next.add(item.id);
      }
    }
    this.suspects = next;
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
          else this.suspects.clear();
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'ledger scan failed');
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
