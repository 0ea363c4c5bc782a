/** One value waiting in a batch, with the promise its caller holds. */
export interface Waiting<T, R> {
  value: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export interface TurnBatchOptions {
  /** The batch is sent at once when this many values wait. */
  maxItems?: number;
  /** The batch is sent first when the next value's size would take it over this. */
  maxSize?: number;
}

/**
 * Collects the values added in one turn of the event loop and hands them to
 * `send` together (on setImmediate, or sooner when a limit is reached).
 * `send` settles each value's promise: one call for many values instead of a
 * call each is what the batches built on this save.
 */
export class TurnBatch<T, R = void> {
  private waiting: Array<Waiting<T, R>> = [];
  private size = 0;

  constructor(
    private readonly send: (batch: Array<Waiting<T, R>>) => void,
    private readonly o: TurnBatchOptions = {},
  ) {}

  add(value: T, size = 0): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.o.maxSize !== undefined && this.size + size > this.o.maxSize) this.flush();
      if (this.waiting.length === 0) setImmediate(() => this.flush());
      this.waiting.push({ value, resolve, reject });
      this.size += size;
      if (this.o.maxItems !== undefined && this.waiting.length >= this.o.maxItems) this.flush();
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.size = 0;
    if (batch.length > 0) this.send(batch);
  }
}

/** Settles every value of a batch with the one outcome of its call. */
export function settleAll<T, R>(batch: Array<Waiting<T, R>>, outcome: Promise<R>): void {
  outcome.then(
    (r) => batch.forEach((w) => w.resolve(r)),
    (err: unknown) => batch.forEach((w) => w.reject(err)),
  );
}
