/**
 * Commits the partitions' watermarks, one commit at a time: with
 * `intervalMs` 0 (the queue's default) as soon as they move, the next commit
 * taking everything acknowledged while one is in flight; with a timer, every
 * `intervalMs` or at once when `maxRecords` acknowledged records wait. Also
 * on flush() (depth, a rebalance, close). A crash loses the acknowledgements
 * not committed yet: their items come again and the stores dedup them on id.
 * A failed commit is retried a second later (its items only come again if
 * this member dies first).
 */
import type { CommitPoint, PartitionWatermarks } from './watermark.js';

export interface CommitterOptions {
  /** Longest an acknowledgement waits for its commit; 0 commits as soon as acknowledged. Default 0. */
  intervalMs?: number;
  /** Commit at once when this many acknowledged records wait. Default 1000. */
  maxRecords?: number;
  /** After a commit succeeded (depth readings before it are stale). */
  onCommitted?: () => void;
  onError?: (what: string, err: unknown) => void;
  isClosed?: () => boolean;
}

const RETRY_MS = 1000;

export class Committer {
  private chain: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
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
   * Acknowledgements were counted into the watermarks: commit soon. Without a
   * timer the promise is the commit's (ack() answers once its offsets are
   * committed, so they survive this member and a broker failing right after);
   * with one, it resolves at once.
   */
  acked(): Promise<void> {
    if (this.intervalMs === 0 || this.marks.uncommitted() >= this.maxRecords) return this.flush();
    this.schedule(this.intervalMs);
    return Promise.resolve();
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
    return this.chain;
  }

  /** Stops the timer (flush first for a last commit). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
