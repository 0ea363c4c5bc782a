/**
 * Commits the partitions' watermarks, one commit at a time: with
 * `intervalMs` 0 as soon as they move, the next commit taking everything
 * acknowledged while one is in flight; with a timer (the queue's default),
 * every `intervalMs` or at once when `maxRecords` acknowledged records wait.
 * Also on flush() (depth, a rebalance, close). Either way acked() answers
 * once the commit that covers it is done: an acknowledged item is not handed
 * out again when this member or a broker fails right after. A failed commit
 * is reported and retried a second later (its items only come again if this
 * member dies first); the acknowledgements it covered answer then, as the
 * failure is not theirs to handle.
 */
import type { CommitPoint, PartitionWatermarks } from './watermark.js';

export interface CommitterOptions {
  /** Longest an acknowledgement waits for its commit; 0 commits as soon as acknowledged. Default 0 (the queue gives its own). */
  intervalMs?: number;
  /** Commit at once when this many acknowledged records wait. Default 1000. */
  maxRecords?: number;
  /** After a commit succeeded (depth readings before it are stale). */
  onCommitted?: () => void;
  onError?: (what: string, err: unknown) => void;
  isClosed?: () => boolean;
}

const RETRY_MS = 1000;

/** The Kafka queue's commit timing: KafkaQueueOptions.commitIntervalMs's default, and the record count that commits at once. */
export const QUEUE_COMMIT = { intervalMs: 200, maxRecords: 256 } as const;

/** What an acknowledgement waits for, in words (MessageQueue.ackWaitsFor: a traced ack span names it). */
export function ackWaitText(intervalMs: number): string {
  return intervalMs === 0
    ? "the group's offset commit"
    : `the group's offset commit (made every ${intervalMs} ms, or at once when ${QUEUE_COMMIT.maxRecords} acknowledged records wait)`;
}

export class Committer {
  private chain: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  /** What acknowledgements made since the last commit started wait for: the next flush. */
  private next?: { done: Promise<void>; resolve: () => void };
  private stopped = false;
  private readonly intervalMs: number;
  private readonly maxRecords: number;

  constructor(
    private readonly marks: PartitionWatermarks,
    private readonly commit: (points: CommitPoint[]) => Promise<void>,
    private readonly o: CommitterOptions = {},
  ) {
    this.intervalMs = o.intervalMs ?? 0;
    this.maxRecords = o.maxRecords ?? 1000;
  }

  /**
   * Acknowledgements were counted into the watermarks: commit soon. The
   * promise is the commit's that covers them (ack() answers once its offsets
   * are committed, so they survive this member and a broker failing right
   * after): at once without a timer, else on the timer or when maxRecords wait.
   */
  acked(): Promise<void> {
    // After stop() no timer runs: nothing would answer.
    if (this.stopped) return Promise.resolve();
    if (this.intervalMs === 0 || this.marks.uncommitted() >= this.maxRecords) return this.flush();
    this.schedule(this.intervalMs);
    return this.waiters().done;
  }

  private waiters(): { done: Promise<void>; resolve: () => void } {
    if (!this.next) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      this.next = { done, resolve };
    }
    return this.next;
  }

  private schedule(ms: number): void {
    if (this.timer || this.o.isClosed?.()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  /** Commits every partition whose watermark moved; resolves when done (never rejects: a failure is reported and retried). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Acknowledgements made until this commit reads the watermarks are in it: they answer with it.
    const waiting = this.next;
    this.next = undefined;
    this.chain = this.chain.then(async () => {
      const points = this.marks.due();
      if (points.length === 0) return;
      try {
        await this.commit(points);
        this.marks.committed(points);
        this.o.onCommitted?.();
      } catch (e) {
        if (this.o.isClosed?.()) return;
        this.o.onError?.('committing offsets', e);
        this.schedule(RETRY_MS);
      }
    });
    if (waiting) void this.chain.then(waiting.resolve);
    return this.chain;
  }

  /** Stops the timer (flush first for a last commit); acknowledgements still waiting answer now. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.next?.resolve();
    this.next = undefined;
  }
}
