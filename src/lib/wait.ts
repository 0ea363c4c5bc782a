/**
 * Retries `attempt` until it yields a value, the timeout passes or the signal
 * aborts. Used where the engine cannot push a wake-up across processes: the
 * wait between tries starts at 1 ms and doubles up to 25 ms, so a busy queue
 * is drained back to back and an idle one costs little CPU.
 */
export async function waitFor<T>(
  attempt: () => T | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T | undefined> {
  const deadline = Date.now() + Math.max(0, timeoutMs);
  let pause = 1;
  for (;;) {
    if (signal?.aborted) return undefined;
    const v = attempt();
    if (v !== undefined) return v;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(pause, left), signal);
    pause = Math.min(pause * 2, 25);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retries fn until it yields a value; throws naming `what` after timeoutMs. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
