/**
 * Engine ports: the only view of storage and messaging that services get.
 * Adapters (embedded SQLite, Hazelcast, in-memory fake) implement these;
 * services never import an adapter.
 */

/** One message as held in the shared log. */
export interface LogEntry {
  id: string;
  msg: string;
  /** Instance name of the logging service that stored it. */
  loggedBy: string;
  /** ISO time it was stored. */
  loggedAt: string;
  /** Ordering key: epoch milliseconds with sub-millisecond fraction. */
  ts: number;
  correlationId?: string;
}

/** One item travelling facade → queue → messages consumer. */
export interface QueueItem {
  id: string;
  msg: string;
  enqueuedAt: string;
  correlationId?: string;
}

export interface LogPage {
  entries: LogEntry[];
  /** Pass back as `after` to get the next page; absent on the last page. */
  next?: string;
}

/** The distributed map holding every logged message, keyed by id. */
export interface MessageLog {
  /** Stores the entry unless its id is present. Returns the stored entry and whether it was new. */
  put(entry: LogEntry): Promise<{ created: boolean; entry: LogEntry }>;
  get(id: string): Promise<LogEntry | undefined>;
  /** All entries in arrival order. */
  list(): Promise<LogEntry[]>;
  /** The same as list(), as JSON text: lets a service answer a large read without parsing and re-serialising it. */
  listJson(): Promise<string>;
  /** One page in arrival order, starting after the cursor. */
  page(limit: number, after?: string): Promise<LogPage>;
  /** The newest `limit` entries (at most), newest first. Reads only those entries, however long the log. */
  newest(limit: number): Promise<LogEntry[]>;
  size(): Promise<number>;
  /**
   * How many entries each logging instance stored (`loggedBy` → count), from
   * counts the engine keeps or computes: no entry is sent to the caller, and
   * the answer's size grows with the number of instances, not of entries.
   */
  countByLogger(): Promise<Record<string, number>>;
}

/** One item handed to a consumer under a lease. */
export interface Delivery {
  readonly item: QueueItem;
  /** Names this delivery to ack(); opaque to services. */
  readonly tag: string;
}

/**
 * A bounded queue shared by producers and consumers, delivering at least once.
 *
 * A consumer receives items under a lease and acknowledges each once it has
 * stored it. An item not acknowledged within the engine's lease time (a
 * consumer that died, hung or forgot) is delivered again, to any consumer: so
 * an item may arrive twice, and consumers dedup by id. An acknowledged item
 * is never delivered again. How the lease is kept is the adapter's business.
 */
export interface MessageQueue {
  /** Adds the item, waiting at most timeoutMs for room. False when still full. */
  offer(item: QueueItem, timeoutMs: number): Promise<boolean>;
  /**
   * Up to `max` items in order of first delivery, waiting at most timeoutMs
   * for the first; [] when none came or the signal aborted. Each is leased to
   * this caller: no other receive gets it until the lease ends unacknowledged.
   */
  receive(max: number, timeoutMs: number, signal?: AbortSignal): Promise<Delivery[]>;
  /** The items are stored: never deliver them again. Idempotent; a tag already acknowledged is ignored. */
  ack(deliveries: readonly Delivery[]): Promise<void>;
  /** Items offered and not yet acknowledged (waiting or leased). */
  depth(): Promise<number>;
  /** What the engine can say about where the queue lives (for operators); absent when it has nothing to say. */
  describe?(): Promise<QueueInfo>;
}

/** Where a queue lives, for `ps` and the dashboard. */
export interface QueueInfo {
  /** One line per fact, e.g. "partition owner 127.0.0.1:5702". */
  lines: string[];
  /** The member ('host:port') holding the queue, where one does. */
  owner?: string;
  /** Items this process delivered again because their lease ended unacknowledged. */
  redelivered?: number;
}

/** A small shared key/value map with optional per-entry time-to-live. */
export interface KvMap<V> {
  set(key: string, value: V, ttlMs?: number): Promise<void>;
  get(key: string): Promise<V | undefined>;
  /** Sets the value only when the key is absent (or expired); returns the value that was there, if any. */
  setIfAbsent(key: string, value: V, ttlMs?: number): Promise<V | undefined>;
  delete(key: string): Promise<void>;
  /** Live (unexpired) entries. */
  entries(): Promise<Array<[string, V]>>;
}

export { EngineUnavailableError, isEngineUnavailable, ProtectionError, isProtectionError } from '../lib/errors.js';

export interface Engine {
  /** "embedded" | "hazelcast" | "memory", with "+kafka" when the queue is Kafka's */
  readonly kind: string;
  log(name: string): MessageLog;
  queue(name: string): MessageQueue;
  kv<V>(name: string): KvMap<V>;
  /** Resolves when the engine answers; rejects with the reason otherwise. */
  ping(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
