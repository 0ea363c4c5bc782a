/**
 * Engine ports: the only view of storage and messaging that services get.
 * Adapters (embedded SQLite, Hazelcast, in-memory fake) implement these;
 * services never import an adapter.
 */
import type { LogEntry } from '../contracts/log-entry.js';
import type { QueueDetails } from '../contracts/queue-info.js';

export type { LogEntry };

/** One item travelling facade → queue → messages consumer. */
export interface QueueItem {
  id: string;
  msg: string;
  enqueuedAt: string;
  correlationId?: string;
  /**
   * W3C trace context (`traceparent`) of a traced message: the consumer
   * continues the trace from it. Absent on untraced messages. Every engine
   * carries it with the item (Kafka also as a record header).
   */
  traceparent?: string;
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
  /** True when the item was handed out before and came again (its lease ended unacknowledged, or its holder closed). */
  readonly redelivered?: boolean;
  /** Where the item was held, for a trace (on traced items: Kafka "partition 4, offset 1187", Hazelcast "member 127.0.0.1:5702"); absent where the engine has nothing cheap to say. */
  readonly from?: string;
}

/**
 * A bounded queue shared by producers and consumers, delivering at least once.
 *
 * A consumer receives items under a lease and acknowledges each once it has
 * stored it. An item not acknowledged within the engine's lease time (a
 * consumer that died, hung or forgot) is delivered again: so an item may
 * arrive twice, and consumers dedup by id. An acknowledged item is never
 * delivered again. How the lease is kept is the adapter's business.
 *
 * Where engines differ — which consumer gets an item again, where a lease
 * starts, what depth() and the bound count, the unit of order — each
 * engine's queue keeps the readings QUEUE_PROMISES gives for it, and the
 * contract suites assert exactly those.
 */
export interface MessageQueue {
  /** Adds the item, waiting at most timeoutMs for room (what takes room: QueuePromises.bound). False when still full. */
  offer(item: QueueItem, timeoutMs: number): Promise<boolean>;
  /**
   * Up to `max` items in order of first delivery, waiting at most timeoutMs
   * for the first; [] when none came or the signal aborted. Each is leased to
   * this caller: no other receive gets it until the lease ends unacknowledged.
   */
  receive(max: number, timeoutMs: number, signal?: AbortSignal): Promise<Delivery[]>;
  /** The items are stored: never deliver them again. Idempotent; a tag already acknowledged is ignored. */
  ack(deliveries: readonly Delivery[]): Promise<void>;
  /** Items offered and not yet acknowledged, waiting or leased (exactly which: QueuePromises.depth). */
  depth(): Promise<number>;
  /**
   * What ack() waits for beyond writing the acknowledgement, where that takes
   * noticeable time (Kafka: the group's offset commit, made on a timer); a
   * traced item's ack span names it, so its length is explained.
   */
  readonly ackWaitsFor?: string;
  /** What the engine can say about where the queue lives (for operators); absent when it has nothing to say. */
  describe?(): Promise<QueueInfo>;
}

/** What one engine's queue does where the engines differ; each field names the reading that holds. */
export interface QueuePromises {
  /**
   * Who receives an item again once its lease ended unacknowledged.
   * - 'any': the next receive of any consumer of the queue.
   * - 'holder': the consumer that held it (the item's partition stays with that
   *   consumer), and no other while it stays in the group; once it leaves (it
   *   closes, or is silent for the group's session timeout) its partitions move
   *   to another consumer, which receives again every item not acknowledged
   *   there from the partition's last commit on.
   */
  redelivery: 'any' | 'holder';
  /**
   * Where an item's lease starts.
   * - 'receive': at the receive that handed it out; the item comes again when,
   *   and only when, the lease ends unacknowledged.
   * - 'offer': at its offer. An item that waited in the queue longer than the
   *   lease may come again soon after it is received, if it is not acknowledged
   *   within two of the reconciler's scans (harmless: consumers dedup by id).
   */
  leaseFrom: 'receive' | 'offer';
  /**
   * What depth() counts.
   * - 'unacknowledged': exactly the items offered and not yet acknowledged,
   *   waiting or leased, as of every offer and ack that returned before it.
   * - 'from-first-unacknowledged': per partition, every item from the first
   *   one not yet acknowledged to the end (an offset is committed, not single
   *   items): acknowledged items behind an unacknowledged one still count. Read
   *   from the brokers and reused for up to 250 ms, so it may follow an offer
   *   or ack a moment late.
   */
  depth: 'unacknowledged' | 'from-first-unacknowledged';
  /**
   * What fills the queue, making offer() wait and answer false.
   * - 'depth': depth() at capacity: a received item keeps its room until it is
   *   acknowledged.
   * - 'waiting': items waiting to be received at capacity: a received item
   *   makes room at once, acknowledged or not (depth() may then exceed the
   *   capacity by the items leased).
   */
  bound: 'depth' | 'waiting';
  /**
   * Within what one producer's offers are first delivered in offer order.
   * - 'queue': the whole queue is FIFO.
   * - 'partition': each partition is (items are spread over partitions by id);
   *   the queue as a whole is not.
   */
  order: 'queue' | 'partition';
}

/** What each engine's queue promises (the engine's kind; "+kafka" engines keep Kafka's). */
export const QUEUE_PROMISES = {
  /** A table with a lease column: one SQLite file. */
  embedded: { redelivery: 'any', leaseFrom: 'receive', depth: 'unacknowledged', bound: 'depth', order: 'queue' },
  /** The unit tests' fake: as embedded. */
  memory: { redelivery: 'any', leaseFrom: 'receive', depth: 'unacknowledged', bound: 'depth', order: 'queue' },
  /** An IQueue (bounded by the members' max-size) and a delivery ledger beside it. */
  hazelcast: { redelivery: 'any', leaseFrom: 'offer', depth: 'unacknowledged', bound: 'waiting', order: 'queue' },
  /**
   * A topic read by one consumer group; the lease is kept by the member holding the partition.
   * Its bound counts the group's lag as last read (at most 250 ms old) plus this producer's own offers in
   * flight, so producers in several processes together may pass it by their offers in flight.
   */
  kafka: { redelivery: 'holder', leaseFrom: 'receive', depth: 'from-first-unacknowledged', bound: 'depth', order: 'partition' },
} as const satisfies Record<string, QueuePromises>;

/** The promises of an engine's queue by the engine's kind ("hazelcast+kafka" → Kafka's). */
export function queuePromisesOf(kind: string): QueuePromises {
  if (kind.endsWith('+kafka') || kind === 'kafka') return QUEUE_PROMISES.kafka;
  if (kind in QUEUE_PROMISES) return QUEUE_PROMISES[kind as keyof typeof QUEUE_PROMISES];
  throw new RangeError(`no queue promises known for engine kind '${kind}'`);
}

/** Where a queue lives, for `ps` and the dashboard. */
export interface QueueInfo {
  /** Where the queue lives, as data (members, partitions, lag, …): what `ps` and the dashboard draw. */
  details: QueueDetails;
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
  /**
   * Live (unexpired) entries, by key; only those whose key starts with
   * `prefix` when it is given (read where the data is: the others are not
   * sent or parsed).
   */
  entries(prefix?: string): Promise<Array<[string, V]>>;
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
  /**
   * What the engine's cluster is waiting for now, one line each (e.g. a
   * member that does not answer and is not yet declared gone: calls whose
   * data it holds wait); [] when nothing. Absent on engines without a cluster.
   */
  waiting?(): Promise<string[]>;
  /** Idempotent. */
  close(): Promise<void>;
}
