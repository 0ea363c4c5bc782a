import type { Engine, KvMap, LogEntry, LogPage, MessageLog, MessageQueue, QueueItem } from '../ports.js';
import { waitFor } from '../wait.js';

/**
 * In-process engine for unit tests: the same contract as the real adapters,
 * held in plain Maps. Several services built in one test share one instance.
 */
export class MemoryEngine implements Engine {
  readonly kind = 'memory';
  private readonly logs = new Map<string, Map<string, LogEntry>>();
  private readonly queues = new Map<string, QueueItem[]>();
  private readonly kvs = new Map<string, Map<string, { value: unknown; expiresAt?: number }>>();
  /** Set to make every operation fail, to test how services report an engine outage. */
  down = false;

  constructor(private readonly queueCapacity = 100_000) {}

  private check(): void {
    if (this.down) throw new Error('memory engine is down');
  }

  log(name: string): MessageLog {
    let m = this.logs.get(name);
    if (!m) this.logs.set(name, (m = new Map()));
    const map = m;
    return {
      put: async (entry) => {
        this.check();
        const had = map.get(entry.id);
        if (had) return { created: false, entry: had };
        map.set(entry.id, entry);
        return { created: true, entry };
      },
      get: async (id) => (this.check(), map.get(id)),
      list: async () => (this.check(), [...map.values()]),
      listJson: async () => (this.check(), JSON.stringify([...map.values()])),
      page: async (limit, after): Promise<LogPage> => {
        this.check();
        const all = [...map.values()];
        const from = after === undefined ? 0 : Number(after);
        const entries = all.slice(from, from + limit);
        return from + limit < all.length ? { entries, next: String(from + limit) } : { entries };
      },
      size: async () => (this.check(), map.size),
    };
  }

  queue(name: string): MessageQueue {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = []));
    const items = q;
    return {
      offer: async (item, timeoutMs) => {
        this.check();
        const ok = await waitFor(() => (items.length < this.queueCapacity ? (items.push(item), true) : undefined), timeoutMs);
        return ok === true;
      },
      poll: async (timeoutMs, signal) => {
        this.check();
        return (await waitFor(() => items.shift(), timeoutMs, signal)) ?? null;
      },
      pollMany: async (max, timeoutMs, signal) => {
        this.check();
        return (await waitFor(() => (items.length > 0 ? items.splice(0, max) : undefined), timeoutMs, signal)) ?? [];
      },
      peek: async () => (this.check(), items[0] ?? null),
      depth: async () => (this.check(), items.length),
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
      entries: async () => {
        this.check();
        return [...map.entries()].filter(([, e]) => live(e)).map(([k, e]) => [k, e.value as V] as [string, V]);
      },
    };
  }

  async ping(): Promise<void> {
    this.check();
  }

  async close(): Promise<void> {}
}
