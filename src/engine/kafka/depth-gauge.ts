/**
 * The queue's depth (the group's lag) for the offer bound: the last reading
 * plus the offers made since. An offer either waits for a reading no older
 * than refreshMs (the queue's default), or — `offerDepthCheck:
 * 'near-capacity'` — goes by the estimate and refreshes it in the
 * background, waiting only near capacity. Overcounting is possible (an offer that
 * lands while a reading is in flight counts twice until the next one): the bound
 * errs on the full side. exact() is the queue's depth(): a reading asked for
 * after the call, never the estimate.
 */
export interface DepthGaugeOptions {
  /** A reading older than this is refreshed (in the background on the offer path). Default 250. */
  refreshMs?: number;
  /** How long an offer waits for a fresh reading before it goes by the last known one. Default 1000. */
  waitMs?: number;
  onError?: (what: string, err: unknown) => void;
}

export class DepthGauge {
  private value = 0;
  private at = -Infinity;
  /** Offers that succeeded since the reading in `value` was asked for. */
  private offered = 0;
  private reading?: Promise<number>;
  /** Readings started so far (the one in flight, if any, is number `started`). */
  private started = 0;
  /** invalidate() calls so far. */
  private invalidations = 0;
  private readonly refreshMs: number;
  private readonly waitMs: number;

  constructor(
    private readonly read: () => Promise<number>,
    o: DepthGaugeOptions = {},
    private readonly onError = o.onError,
  ) {
    this.refreshMs = o.refreshMs ?? 250;
    this.waitMs = o.waitMs ?? 1000;
  }

  /** The depth as far as known without asking: the last reading plus the offers since. */
  estimate(): number {
    return this.value + this.offered;
  }

  /** Whether a reading exists at all. */
  known(): boolean {
    return this.at > -Infinity;
  }

  /** An offer succeeded. */
  add(n = 1): void {
    this.offered += n;
  }

  /** The last reading no longer holds (a commit moved the group's offsets); nor does one in flight. */
  invalidate(): void {
    this.at = -Infinity;
    this.invalidations++;
  }

  /** Starts a reading when the last is stale; does not wait for it. */
  refreshInBackground(): void {
    if (Date.now() - this.at >= this.refreshMs) void this.fresh().catch((e: unknown) => this.onError?.('reading the queue depth', e));
  }

  /** A reading no older than refreshMs (one request at a time), plus the offers since it was asked for. */
  async fresh(): Promise<number> {
    if (Date.now() - this.at < this.refreshMs) return this.estimate();
    await this.start();
    return this.estimate();
  }

  /**
   * The depth as read by a request made after this call: no estimate, and
   * not a reading asked for before it, either of which may count an offer
   * twice (for the queue's depth(), which promises a count, not a bound).
   */
  async exact(): Promise<number> {
    // Callers together share a reading, so long as it started after each of them was called.
    const asked = this.started;
    while (this.reading && this.started <= asked) await this.reading.catch(() => {});
    return this.start();
  }

  /** The reading in flight, or a new one; resolves to what was read. */
  private start(): Promise<number> {
    this.reading ??= (async () => {
      this.started++;
      const before = this.offered;
      const invalidations = this.invalidations;
      try {
        const v = await this.read();
        this.value = v;
        this.offered = Math.max(0, this.offered - before);
        // A commit during the reading may not be in it: it stays stale, and the next check reads again.
        if (this.invalidations === invalidations) this.at = Date.now();
        return v;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  /**
   * A fresh reading for the bound, waiting at most waitMs: during a failover
   * the lag can take seconds to read (or fail), and the last known value
   * stands in rather than holding up or failing the offer.
   */
  async forBound(): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), this.waitMs)));
      return (await Promise.race([this.fresh(), late])) ?? this.estimate();
    } catch (e) {
      this.onError?.('reading the queue depth', e);
      return this.estimate();
    } finally {
      clearTimeout(timer);
    }
  }
}
