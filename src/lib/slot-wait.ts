/**
 * Waiting on a local cluster's processes (Hazelcast members, Kafka brokers):
 * each process is a slot whose `child` is unset once it exited and whose
 * `started` says its log announced it; the runner calls `notify()` whenever
 * one of them changes.
 */
export interface WatchedSlot {
  child?: unknown;
  started: boolean;
}

export interface SlotWaiter<S extends WatchedSlot> {
  /** Wakes every wait to check its condition again. */
  notify(): void;
  /**
   * Resolves when `ready()` holds; rejects with `failed(slot, undefined)` when
   * a watched slot's process exits first, or `failed(laggingSlot, timeoutMs)`
   * after the timeout.
   */
  until(ready: () => boolean, timeoutMs: number, watch: S[], failed: (slot: S | undefined, timedOutAfterMs?: number) => Error): Promise<void>;
}

export function slotWaiter<S extends WatchedSlot>(): SlotWaiter<S> {
  const waiters = new Set<() => void>();
  return {
    notify: () => waiters.forEach((w) => w()),
    until: (ready, timeoutMs, watch, failed) =>
      new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        const check = () => {
          const dead = watch.find((s) => s.child === undefined);
          if (dead) {
            done();
            reject(failed(dead));
          } else if (ready()) {
            done();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(failed(watch.find((s) => !s.started) ?? watch[0], timeoutMs));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}
