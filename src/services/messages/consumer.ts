import type { Logger } from 'pino';
import type { Delivery, MessageQueue, QueueItem } from '../../engine/ports.js';
import { sleep } from '../../lib/wait.js';
import type { Tracing } from '../../shared/tracing/tracing.js';
import { ConsumeTrace } from './consume-trace.js';
import type { ConsumedStore } from './store.js';

export interface ConsumerOptions {
  instance: string;
  queue: MessageQueue;
  store: ConsumedStore;
  logger: Logger;
  /** Longest single wait for an item; bounds how long stop() can take. Default 1000. */
  pollTimeoutMs?: number;
  /** Most items taken and stored at once. Default 32. */
  batchSize?: number;
  /**
   * Batches whose acknowledgement may be in flight while the next is taken
   * and stored. Default 16. (An engine may answer an ack only once it is
   * durable — Kafka's commit runs on a short timer — so the loop does not
   * wait for each.)
   */
  acksInFlight?: number;
  /** Continues the traces of traced items (absent: none). */
  tracing?: Tracing;
  /** Called once an item is stored durably; created is false for a duplicate. */
  onStored?: (item: QueueItem, created: boolean) => void;
}

/**
 * Receives items from the queue as they arrive — a wait with a timeout, no
 * fixed sleep — stores each in this instance's store, and only then
 * acknowledges them: an item whose consumer dies before the ack is delivered
 * again (the store dedups by id). stop() lets the items in hand finish, then
 * returns.
 */
export class QueueConsumer {
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly acking = new Set<Promise<void>>();
  consumed = 0;
  duplicates = 0;
  lastError: string | undefined;

  constructor(private readonly o: ConsumerOptions) {}

  get running(): boolean {
    return this.loop !== undefined && !this.ac.signal.aborted;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    try {
      await this.consume();
    } finally {
      // Items stored are acknowledged before stop() returns.
      await Promise.all(this.acking);
    }
  }

  private async consume(): Promise<void> {
    const { queue, logger } = this.o;
    const acksInFlight = this.o.acksInFlight ?? 16;
    const signal = this.ac.signal;
    let backoff = 100;
    while (!signal.aborted) {
      let deliveries: Delivery[];
      try {
        deliveries = await queue.receive(this.o.batchSize ?? 32, this.o.pollTimeoutMs ?? 1000, signal);
        backoff = 100;
        this.lastError = undefined;
      } catch (err) {
        this.lastError = (err as Error).message;
        logger.warn({ err, retryInMs: backoff }, 'queue receive failed');
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 2000);
        continue;
      }
      if (deliveries.length === 0) {
        // An engine that answers [] at once must not spin this loop without letting timers run.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const items = deliveries.map((d) => d.item);
      const traces = ConsumeTrace.of(this.o.tracing, deliveries, this.o.instance);
      // From here on the items are in hand: finish them even if stop() was called.
      const created = await this.storeWithRetry(items, traces);
      if (created === undefined) return;
      items.forEach((item, i) => {
        if (created[i]) this.consumed++;
        else this.duplicates++;
        const traceId = traces?.[i]?.traceId;
        logger.info({ id: item.id, text: item.msg, correlationId: item.correlationId, duplicate: !created[i], traceId }, created[i] ? 'consumed message' : 'message already consumed');
      });
      items.forEach((item, i) => this.o.onStored?.(item, created[i]!));
      traces?.forEach((t) => t?.ackStarted(queue.ackWaitsFor));
      // Acknowledged together: the engine writes them as one batch. A failed
      // ack only means the items come again, and the store skips them.
      const acked = queue.ack(deliveries).then(
        () => traces?.forEach((t) => t?.acked(undefined)),
        (err: unknown) => {
          logger.warn({ err, ids: items.map((i) => i.id) }, 'acknowledge failed; the items may be delivered again');
          traces?.forEach((t) => t?.acked((err as Error).message));
        },
      );
      this.acking.add(acked);
      void acked.finally(() => this.acking.delete(acked)).catch(() => undefined);
      if (this.acking.size >= acksInFlight) await Promise.race(this.acking);
    }
  }

  /**
   * Stores the items in one transaction, retrying while the store fails
   * (disk full, file locked): they were already taken off the queue, so
   * giving up would lose them. Undefined only when stop() came while the
   * store kept failing; the items then stay unacknowledged and are
   * delivered again when their lease ends.
   */
  private async storeWithRetry(items: QueueItem[], traces?: Array<ConsumeTrace | undefined>): Promise<boolean[] | undefined> {
    let backoff = 100;
    for (;;) {
      traces?.forEach((t) => t?.storeStarted());
      try {
        const consumedAt = new Date().toISOString();
        const created = this.o.store.addMany(
          items.map((item) => ({
            id: item.id,
            msg: item.msg,
            consumedBy: this.o.instance,
            consumedAt,
            enqueuedAt: item.enqueuedAt,
            ...(item.correlationId ? { correlationId: item.correlationId } : {}),
          })),
        );
        this.lastError = undefined;
        traces?.forEach((t, i) => t?.stored(created[i]));
        return created;
      } catch (err) {
        this.lastError = `store failed: ${(err as Error).message}`;
        traces?.forEach((t) => t?.stored(undefined, this.lastError));
        this.o.logger.error({ ids: items.map((i) => i.id), err, retryInMs: backoff }, 'could not store a consumed message; retrying');
        if (this.ac.signal.aborted) return undefined;
        await sleep(backoff, this.ac.signal);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /** Stops taking items; resolves once the item in hand is stored. Safe to call twice. */
  async stop(): Promise<void> {
    this.ac.abort();
    await this.loop;
  }
}
