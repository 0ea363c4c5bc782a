import { EngineUnavailableError, type Delivery, type Engine, type KvMap, type LogEntry, type LogPage, type MessageLog, type MessageQueue, type QueueItem } from '../ports.js';
import type { MemoryQueueDetails } from '../../contracts/queue-info.js';
import { waitFor } from '../../lib/wait.js';

/**
 * In-process engine for unit tests: the same contract as the real adapters,
 * held in plain Maps. Several services built in one test share one instance.
 */
export class MemoryEngine implements Engine {
  readonly kind = 'memory';
  /** Per log: entries by id, in arrival order, and how many each logging instance stored. */
  private readonly logs = new Map<string, { byId: Map<string, LogEntry>; order: LogEntry[]; counts: Map<string, number> }>();
  private readonly queues = new Map<string, Array<{ seq: number; item: QueueItem; leaseUntil: number; delivered?: true }>>();
  private seq = 0;
  private readonly kvs = new Map<string, Map<string, { value: unknown; expiresAt?: number }>>();
  /** Set to make every operation fail, to test how services report an engine outage. */
  down = false;

  /**
   * @param queueCapacity most items a queue holds
   * @param leaseMs how long a received item stays leased before it is delivered again
   */
  constructor(
    private readonly queueCapacity = 100_000,
    private readonly leaseMs = 20_000,
  ) {}

  private check(): void {
    if (this.down) throw new EngineUnavailableError('memory engine is down');
  }

  log(name: string): MessageLog {
    let m = this.logs.get(name);
    if (!m) this.logs.set(name, (m = { byId: new Map(), order: [], counts: new Map() }));
    const { byId, order, counts } = m;
    return {
      put: async (entry) => {
        this.check();
        const had = byId.get(entry.id);
        if (had) return { created: false, entry: had };
        byId.set(entry.id, entry);
        order.push(entry);
        counts.set(entry.loggedBy, (counts.get(entry.loggedBy) ?? 0) + 1);
        return { created: true, entry };
      },
      get: async (id) => (this.check(), byId.get(id)),
      list: async () => (this.check(), [...order]),
      listJson: async () => (this.check(), JSON.stringify(order)),
      page: async (limit, after): Promise<LogPage> => {
        this.check();
        const from = after === undefined ? 0 : Number(after);
        const entries = order.slice(from, from + limit);
        return from + limit < order.length ? { entries, next: String(from + limit) } : { entries };
      },
      newest: async (limit) => {
        this.check();
        if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`bad limit: ${limit}`);
        return order.slice(-limit).reverse();
      },
      size: async () => (this.check(), order.length),
      countByLogger: async () => (this.check(), Object.fromEntries(counts)),
    };
  }

  queue(name: string): MessageQueue {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = []));
    const rows = q;
    // Kept exactly like the embedded engine: a receive leases rows, an ack removes them, an ended lease makes a row visible again.
    const take = (max: number): Delivery[] | undefined => {
      const now = Date.now();
      const out: Delivery[] = [];
      for (const r of rows) {
        if (out.length >= max) break;
        if (r.leaseUntil > now) continue;
        r.leaseUntil = now + this.leaseMs;
        out.push(r.delivered ? { item: r.item, tag: String(r.seq), redelivered: true } : { item: r.item, tag: String(r.seq) });
        r.delivered = true;
      }
      return out.length > 0 ? out : undefined;
    };
    return {
      offer: async (item, timeoutMs) => {
        this.check();
        const ok = await waitFor(() => (rows.length < this.queueCapacity ? (rows.push({ seq: ++this.seq, item, leaseUntil: 0 }), true) : undefined), timeoutMs);
        return ok === true;
      },
      receive: async (max, timeoutMs, signal) => {
        this.check();
        return (await waitFor(() => take(max), timeoutMs, signal)) ?? [];
      },
      ack: async (deliveries) => {
        this.check();
        const done = new Set(deliveries.map((d) => d.tag));
        for (let i = rows.length - 1; i >= 0; i--) if (done.has(String(rows[i]!.seq))) rows.splice(i, 1);
      },
      depth: async () => (this.check(), rows.length),
      describe: async () => {
        this.check();
        const now = Date.now();
        const details: MemoryQueueDetails = { kind: 'memory', queue: name, depth: rows.length, leased: rows.filter((r) => r.leaseUntil > now).length };
        return { details };
      },
    };
  }

  kv<V>(name: string): KvMap<V> {
    let m = this.kvs.get(name);
    if (!m) this.kvs.set(name, (m = new Map()));
    const map = m;
    const live = (e: { expiresAt?: number } | undefined) => e !== undefined && (e.expiresAt === undefined || e.expiresAt > Date.now());
    return {
      set: async (key, value, ttlMs) => {
        this.check();
        map.set(key, ttlMs ? { value, expiresAt: Date.now() + ttlMs } : { value });
      },
      get: async (key) => {
        this.check();
        const e = map.get(key);
        return live(e) ? (e!.value as V) : undefined;
      },
      setIfAbsent: async (key, value, ttlMs) => {
        this.check();
        const e = map.get(key);
        if (live(e)) return e!.value as V;
        map.set(key, ttlMs ? { value, expiresAt: Date.now() + ttlMs } : { value });
        return undefined;
      },
      delete: async (key) => {
        this.check();
        map.delete(key);
      },
      entries: async (prefix) => {
        this.check();
        return [...map.entries()]
          .filter(([k, e]) => live(e) && (prefix === undefined || k.startsWith(prefix)))
          .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
          .map(([k, e]) => [k, e.value as V] as [string, V]);
      },
    };
  }

  async ping(): Promise<void> {
    this.check();
  }

  async close(): Promise<void> {}
}
