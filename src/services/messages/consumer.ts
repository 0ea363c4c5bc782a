import type { Logger } from 'pino';
import type { MessageQueue, QueueItem } from '../../engine/ports.js';
import { sleep } from '../../engine/wait.js';
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
  /** Called after an item is stored durably (acknowledges it to the delivery ledger); created is false for a duplicate. */
  onStored?: (item: QueueItem, created: boolean) => Promise<void>;
}

/**
 * Takes items from the queue as they arrive — a poll with a timeout, no
 * fixed sleep — and stores each in this instance's store. stop() lets the
 * item in hand finish, then returns.
 */
export class QueueConsumer {
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
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
    const { queue, logger } = this.o;
    const signal = this.ac.signal;
    let backoff = 100;
    while (!signal.aborted) {
      let items: QueueItem[];
      try {
        items = await queue.pollMany(this.o.batchSize ?? 32, this.o.pollTimeoutMs ?? 1000, signal);
        backoff = 100;
        this.lastError = undefined;
      } catch (err) {
        this.lastError = (err as Error).message;
        logger.warn({ err: this.lastError, retryInMs: backoff }, 'queue poll failed');
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 2000);
        continue;
      }
      if (items.length === 0) continue;
      // From here on the items are in hand: finish them even if stop() was called.
      const created = await this.storeWithRetry(items);
      if (created === undefined) return;
      items.forEach((item, i) => {
        if (created[i]) this.consumed++;
        else this.duplicates++;
        logger.info({ id: item.id, text: item.msg, correlationId: item.correlationId, duplicate: !created[i] }, created[i] ? 'consumed message' : 'message already consumed');
      });
      const onStored = this.o.onStored;
      if (onStored) {
        // Acknowledged together: the engine can write them as one batch.
        await Promise.all(
          items.map((item, i) =>
            onStored(item, created[i]!).catch((err: Error) => logger.warn({ id: item.id, err: err.message }, 'acknowledge failed; the item may be delivered again')),
          ),
        );
      }
    }
  }

  /**
   * Stores the items in one transaction, retrying while the store fails
   * (disk full, file locked): they were already taken off the queue, so
   * giving up would lose them. Undefined only when stop() came while the
   * store kept failing; the items then stay unacknowledged in the delivery
   * ledger and are offered again.
   */
  private async storeWithRetry(items: QueueItem[]): Promise<boolean[] | undefined> {
    let backoff = 100;
    for (;;) {
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
        return created;
      } catch (err) {
        this.lastError = `store failed: ${(err as Error).message}`;
        this.o.logger.error({ ids: items.map((i) => i.id), err: (err as Error).message, retryInMs: backoff }, 'could not store a consumed message; retrying');
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
