import type { LogEntry } from '../ports.js';
import { compareKeyed, joinJson, keyedOf, sortedTexts, type Keyed } from './log-order.js';

/** What a mirror needs from the shared map: its added-entry events, its values and its size. */
export interface MirrorSource {
  /** Calls onAdded with the stored text of every entry added from now on, until stopped. */
  subscribe(onAdded: (text: string) => void): Promise<MirrorSubscription>;
  values(): Promise<Iterable<string>>;
  size(): Promise<number>;
  /**
   * A number that changes whenever events may have been missed or entries
   * lost: the client lost a connection, or a member left or joined.
   */
  disruptions(): number;
}

export interface MirrorSubscription {
  /** True when its events can no longer arrive (the client they came through was replaced). */
  stale(): boolean;
  /** Stops the events. */
  stop(): Promise<void>;
}

/** How far from the end an out-of-order event is put in its place (beyond: the copy is sorted on the next read). */
const PLACE_WITHIN = 256;

export interface LogMirrorOptions {
  /** With no read for this long, the mirror removes its listener and drops its copy. Default 60000. */
  idleMs?: number;
}

/**
 * A local copy of an insert-only log map, in entry order, kept current by the
 * map's entry-added events. A whole-log read then costs one size() round trip
 * instead of fetching every value from the members (10–20 ms for 1k entries,
 * most of a read at 10k).
 *
 * When the copy is trusted: entries are only ever added (put-if-absent, never
 * changed or removed), and the copy holds only texts the map sent, so while no
 * entry is lost it is a subset of the map. A read notes the copy's size c,
 * then asks the map's size n. If c = n, the copy as it was before the request
 * equals the map as it was then, so it holds every entry stored before the
 * read began — a message logged through another instance a moment ago
 * included. Otherwise (events still in flight) the read fetches every value
 * and merges them in, as a read without a copy would.
 *
 * The subset argument fails when entries are lost (members died before their
 * backups were in sync) and events are missed (a lost connection): the counts
 * could then match while the copy shows a lost entry and lacks a new one. So
 * after any such disruption (the client lost a connection, a member left or
 * joined), and whenever the copy is larger than the map, the copy is rebuilt
 * from the map before it is trusted again.
 *
 * The listener is added on the first read; after idleMs without reads it is
 * removed and the copy dropped, so memory and events are only spent while
 * someone reads. While they are (a dashboard open), each stored message also
 * costs an event to every instance that serves reads.
 */
export class LogMirror {
  private readonly idleMs: number;
  private texts = new Set<string>();
  private sorted: Keyed[] = [];
  private unsorted = false;
  private json: string | undefined;
  /** Entries of the copy per `loggedBy`, kept as entries are added. */
  private counts = new Map<string, number>();
  /** Reads waiting for the copy to reach a size (events in flight). */
  private readonly waiters = new Set<{ n: number; reached: () => void }>();
  private sub: Promise<MirrorSubscription> | undefined;
  /** Bumped whenever the copy is emptied: a fill that a reset followed no longer vouches for it. */
  private generation = 0;
  /** Bumped when a subscription is dropped: its late events are ignored. */
  private epoch = 0;
  /** disruptions() as it was when the copy was last rebuilt from the map; undefined: not trusted. */
  private trustedAt: number | undefined;
  private filling: Promise<number> | undefined;
  private fillRestarts = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly source: MirrorSource,
    options: LogMirrorOptions = {},
  ) {
    this.idleMs = options.idleMs ?? 60_000;
    if (!(this.idleMs > 0)) throw new RangeError(`LogMirror: idleMs must be > 0, got ${this.idleMs}`);
  }

  /** Every entry, in entry order. The array is the copy's own: use it at once, do not modify it. */
  async read(): Promise<readonly Keyed[]> {
    this.open();
    this.touch();
    let sub: MirrorSubscription;
    try {
      sub = await this.subscribed();
    } catch {
      // No listener (e.g. a member is leaving): this read is answered from the map; the next one tries again.
      this.open();
      return sortedTexts(await this.source.values());
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      this.open();
      const generation = this.generation;
      const mark = this.source.disruptions();
      const counted = this.texts.size;
      const n = await this.source.size();
      this.open();
      const trusted = this.trustedAt === mark && this.source.disruptions() === mark && !sub.stale();
      if (trusted && generation === this.generation && counted === n) return this.done();
      // Not trusted, or larger than the map: rebuild. Smaller: merge what is missing.
      const filled = await this.fill(!trusted || counted > n);
      this.open();
      // The copy now holds every value fetched after this read began, unless it was emptied since.
      if (filled === this.generation) return this.done();
    }
    // Emptied under this read each time (concurrent rebuilds): answer from the map.
    return sortedTexts(await this.source.values());
  }

  /**
   * How many entries each logging instance stored (`loggedBy` → count),
   * counted as the copy was filled: no value is fetched from the map unless
   * the copy cannot be trusted. See current() for how fresh it is.
   */
  async countByLogger(): Promise<Record<string, number>> {
    const values = await this.current();
    if (values === undefined) return Object.fromEntries(this.counts);
    const counts = new Map<string, number>();
    for (const text of values) {
      const by = loggedByOf(text);
      counts.set(by, (counts.get(by) ?? 0) + 1);
    }
    return Object.fromEntries(counts);
  }

  /**
   * The newest `limit` entries, newest first. Sorting the copy is close to
   * linear and only needed after events arrived out of order; only the
   * answered entries are parsed.
   */
  async newest(limit: number): Promise<LogEntry[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`bad limit: ${limit}`);
    const values = await this.current();
    const sorted = values === undefined ? this.view() : sortedTexts(values);
    return sorted
      .slice(-limit)
      .reverse()
      .map((k) => JSON.parse(k.text) as LogEntry);
  }

  /** The same as read(), joined into one JSON array (kept until the next added entry). */
  async readJson(): Promise<string> {
    const sorted = await this.read();
    if (sorted !== this.sorted) return joinJson(sorted);
    return (this.json ??= joinJson(sorted));
  }

  /**
   * Brings the copy up to at least the map's size as it was when called, and
   * answers undefined when the copy may be read; otherwise the map's values
   * to read instead (no listener could be added).
   *
   * Looser than read(): under steady writes the copy and the map are rarely
   * the same size at one instant, and read() would then fetch every value. A
   * trusted copy is a subset of the map, so once it holds as many entries as
   * the map did, it holds all of them unless an older event is still in
   * flight while a newer one arrived; for counts and the newest few entries
   * that is fresh enough, and with no writes under way it is exact. Events
   * that do not come within `catchUpMs` are fetched as read() would.
   */
  private async current(catchUpMs = 250): Promise<Iterable<string> | undefined> {
    this.open();
    this.touch();
    let sub: MirrorSubscription;
    try {
      sub = await this.subscribed();
    } catch {
      this.open();
      return this.source.values();
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      this.open();
      const generation = this.generation;
      const mark = this.source.disruptions();
      const counted = this.texts.size;
      const n = await this.source.size();
      this.open();
      const trusted = () => this.trustedAt === mark && this.source.disruptions() === mark && !sub.stale() && generation === this.generation;
      if (trusted() && counted <= n && (await this.reach(n, catchUpMs)) && trusted()) {
        this.touch();
        return undefined;
      }
      const filled = await this.fill(!trusted() || counted > n);
      this.open();
      if (filled === this.generation) {
        this.touch();
        return undefined;
      }
    }
    return this.source.values();
  }

  /** True once the copy holds n entries; false when it did not within ms. */
  private reach(n: number, ms: number): Promise<boolean> {
    if (this.texts.size >= n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        n,
        reached: () => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, ms);
      this.waiters.add(w);
    });
  }

  /** How many entries the copy holds (0 when asleep). */
  get size(): number {
    return this.texts.size;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sleep();
  }

  private open(): void {
    if (this.closed) throw new Error('log mirror closed');
  }

  private done(): readonly Keyed[] {
    this.touch();
    return this.view();
  }

  private touch(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => void this.sleep(), this.idleMs);
      this.idleTimer.unref();
    }
  }

  /** The current subscription, made anew when there is none or its client was replaced. */
  private async subscribed(): Promise<MirrorSubscription> {
    const pending = this.sub;
    if (pending) {
      const current = await pending.catch(() => undefined);
      if (current && !current.stale()) return current;
      if (this.sub === pending) void this.dropSubscription();
      // Another read replaced it meanwhile.
      else if (this.sub) return this.subscribed();
    }
    // A read that began before close() must not leave a listener behind.
    this.open();
    const epoch = this.epoch;
    const made = this.source.subscribe((text) => {
      if (epoch === this.epoch) this.add(text, true);
    });
    this.sub = made;
    // A failed subscribe is not kept: the next read tries again.
    made.then(undefined, () => {
      if (this.sub === made) this.sub = undefined;
    });
    return made;
  }

  /**
   * Fetches every value and merges it in; with `restart`, empties the copy
   * first and trusts it again from then on. Concurrent reads share a fill; a
   * rebuild asked for during a merge-only fill runs after it. Resolves with the
   * generation the copy had when the values were merged.
   */
  private fill(restart: boolean): Promise<number> {
    if (this.filling && (this.fillRestarts || !restart)) return this.filling;
    const before = this.filling;
    const run = (async () => {
      if (before) await before.catch(() => undefined);
      let mark: number | undefined;
      if (restart) {
        this.reset();
        mark = this.source.disruptions();
      }
      const values = await this.source.values();
      for (const text of values) this.add(text);
      if (mark !== undefined) this.trustedAt = mark;
      return this.generation;
    })();
    this.filling = run;
    this.fillRestarts = restart;
    const clear = () => {
      if (this.filling === run) {
        this.filling = undefined;
        this.fillRestarts = false;
      }
    };
    run.then(clear, clear);
    return run;
  }

  /**
   * Adds one stored text. An event (`fromEvent`) that arrives a little out of
   * order (events of different partitions race) is put in its place when that
   * is within the last few entries, so the copy mostly stays sorted and a
   * read need not sort it; anything else is appended and sorted on the next
   * read.
   */
  private add(text: string, fromEvent = false): void {
    if (this.texts.has(text)) return;
    let k: Keyed;
    try {
      k = keyedOf(text);
    } catch {
      // Not an entry (a foreign writer): left out, so the counts differ and reads fetch everything.
      return;
    }
    this.texts.add(text);
    this.place(k, fromEvent);
    this.json = undefined;
    const by = loggedByOf(text);
    this.counts.set(by, (this.counts.get(by) ?? 0) + 1);
    for (const w of this.waiters) if (this.texts.size >= w.n) w.reached();
  }

  private place(k: Keyed, fromEvent: boolean): void {
    const sorted = this.sorted;
    const last = sorted[sorted.length - 1];
    if (!last || compareKeyed(k, last) >= 0) {
      sorted.push(k);
      return;
    }
    if (fromEvent && !this.unsorted) {
      const stop = Math.max(0, sorted.length - PLACE_WITHIN);
      for (let i = sorted.length - 1; i > stop; i--) {
        if (compareKeyed(k, sorted[i - 1]!) >= 0) {
          sorted.splice(i, 0, k);
          return;
        }
      }
    }
    this.unsorted = true;
    sorted.push(k);
  }

  private view(): Keyed[] {
    if (this.unsorted) {
      // Mostly in order already (events arrive about in ts order): the sort is close to linear.
      this.sorted.sort(compareKeyed);
      this.unsorted = false;
    }
    return this.sorted;
  }

  private reset(): void {
    this.generation++;
    this.trustedAt = undefined;
    this.texts = new Set();
    this.sorted = [];
    this.unsorted = false;
    this.json = undefined;
    this.counts = new Map();
  }

  /** Forgets the subscription (stopping it) and the copy its events made. */
  private dropSubscription(): Promise<void> {
    const sub = this.sub;
    this.sub = undefined;
    this.epoch++;
    this.reset();
    return sub ? sub.then(stopQuietly, () => undefined) : Promise.resolve();
  }

  /** No reads for idleMs (or closing): remove the listener, drop the copy. */
  private sleep(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    return this.dropSubscription();
  }
}

/**
 * The `loggedBy` of a stored entry. As with tsOf, an unescaped `"loggedBy":"`
 * in JSON text can only be that key; a value holding an escape is parsed in
 * full.
 */
export function loggedByOf(text: string): string {
  const key = '"loggedBy":"';
  const at = text.indexOf(key);
  if (at >= 0) {
    const end = text.indexOf('"', at + key.length);
    const by = text.slice(at + key.length, end);
    if (end > 0 && !by.includes('\\')) return by;
  }
  try {
    return String((JSON.parse(text) as Partial<LogEntry>).loggedBy ?? '?');
  } catch {
    return '?';
  }
}

function stopQuietly(s: MirrorSubscription): Promise<void> {
  return Promise.resolve()
    .then(() => s.stop())
    .catch(() => undefined);
}
