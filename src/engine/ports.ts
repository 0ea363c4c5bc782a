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
  size(): Promise<number>;
}

/** A bounded FIFO queue shared by producers and consumers. */
export interface MessageQueue {
  /** Adds the item, waiting at most timeoutMs for room. False when still full. */
  offer(item: QueueItem, timeoutMs: number): Promise<boolean>;
  /** Takes the head item, waiting at most timeoutMs for one; null when none came or the signal aborted. */
  poll(timeoutMs: number, signal?: AbortSignal): Promise<QueueItem | null>;
  /**
   * Takes up to `max` head items at once, waiting at most timeoutMs for the
   * first; [] when none came or the signal aborted. Lets a busy consumer pay
   * for one take per batch instead of one per item.
   */
  pollMany(max: number, timeoutMs: number, signal?: AbortSignal): Promise<QueueItem[]>;
  /** The head item without taking it; null when empty. */
  peek(): Promise<QueueItem | null>;
  depth(): Promise<number>;
}

/** One item handed to a consumer under a lease. */
export interface Delivery {
  readonly item: QueueItem;
  /** Identifies this delivery to ack(); opaque to services. */
  readonly tag: string;
}

/**
 * The queue port with acknowledged delivery (what MessageQueue becomes): a
 * bounded queue whose items are leased to a consumer until acknowledged.
 */
export interface LeasedMessageQueue {
  /** Adds the item, waiting at most timeoutMs for room. False when still full (bounded). */
  offer(item: QueueItem, timeoutMs: number): Promise<boolean>;
  /**
   * Up to `max` items, waiting at most timeoutMs for the first; [] when none came or the signal aborted.
   * Each is leased to this consumer: not acknowledged within the engine's lease time, it is delivered again (to any consumer).
   */
  receive(max: number, timeoutMs: number, signal?: AbortSignal): Promise<Delivery[]>;
  /** The items are stored: never delivered again. Idempotent; a tag already acknowledged or unknown is ignored. */
  ack(deliveries: readonly Delivery[]): Promise<void>;
  /** Items offered and not yet acknowledged. */
  depth(): Promise<number>;
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

export interface Engine {
  /** "embedded" | "hazelcast" | "memory" */
  readonly kind: string;
  log(name: string): MessageLog;
  queue(name: string): MessageQueue;
  kv<V>(name: string): KvMap<V>;
  /** Resolves when the engine answers; rejects with the reason otherwise. */
  ping(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
