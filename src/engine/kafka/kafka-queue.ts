/**
 * The messages queue on a Kafka topic (@platformatic/kafka 1.35 on Node 20),
 * composed of its parts:
 *
 * offer   → BatchProducer: an idempotent produce with acks=all, one
 *           partition per send, up to 3 sends in flight on distinct
 *           partitions; bounded by DepthGauge (the group's lag, a reading
 *           reused for 250 ms).
 * receive → ConsumerSession reads the partitions the group gives this
 *           member; LeaseTable leases the records: not acknowledged within
 *           leaseMs, a record is handed out again by this member (Kafka only
 *           moves a partition when its member leaves; when this member dies,
 *           the rebalance gives its partitions, from the committed offsets,
 *           to another).
 * ack     → PartitionWatermarks turn acknowledgements in any order into the
 *           offset to commit per partition; Committer commits them every
 *           200 ms (or at 256 records), one commit at a time; ack()
 *           answers once committed.
 * depth   → end offsets minus the group's committed offsets (admin.ts).
 *
 * Delivery is at least once: a re-sent batch after a broker failure, a
 * rebalance, or a crash between an acknowledgement and its commit can
 * deliver an item twice. Consumers dedup on id.
 *
 * Order: Kafka keeps order per partition; each send goes to one partition
 * and the next send to the next, so the queue as a whole is not FIFO; items
 * of one partition are first delivered in the order they were offered (by
 * one producer). A topic with one partition is FIFO.
 */
import type { Delivery, MessageQueue, QueueInfo, QueueItem } from '../ports.js';
import { bounded } from '../../lib/bounded.js';
import { AdminSession, depthOf, type TopicSpec } from './admin.js';
import { ConsumerWatch, kafkaQueueDetails, readQueueDescription } from './admin-describe.js';
import { BatchProducer } from './batch-producer.js';
import { ackWaitText, Committer, QUEUE_COMMIT } from './committer.js';
import { ConsumerSession, consumerTiming, type Record } from './consumer-session.js';
import { DepthGauge } from './depth-gauge.js';
import { LeaseTable, type Lease } from './lease-table.js';
import { PartitionWatermarks } from './watermark.js';

export { partitionOfTag } from './lease-table.js';

export interface KafkaQueueOptions {
  /** Bootstrap brokers, 'host:port'. */
  brokers: readonly string[];
  topic: string;
  /** Consumer group: all messages instances share one. */
  groupId: string;
  /** Names this instance's connections in the brokers' view (and in the group's member list). */
  clientId: string;
  /** offer() waits, then answers false, while depth() ≥ capacity. */
  capacity: number;
  /** A received item not acknowledged within this is handed out again. Default 30000. */
  leaseMs?: number;
  /** Partitions, when this queue has to create the topic itself. Default 6. */
  partitions?: number;
  /** Replication factor when creating the topic. Default min(3, number of brokers given). */
  replicationFactor?: number;
  /** How long a depth reading is reused (offers add to it meanwhile). Default 250. */
  depthCacheMs?: number;
  /** How long offer() keeps retrying a send the cluster refuses (a broker failing over) before it throws. Default 30000. */
  sendTimeoutMs?: number;
  /**
   * The group drops a member that stops heartbeating after this: a killed
   * instance's partitions wait this long before another member reads them.
   * Default 6000 (the broker's own minimum by default, group.min.session.timeout.ms; the client's default is 60 s).
   */
  sessionTimeoutMs?: number;
  /**
   * Longest an acknowledgement waits for its commit (ack() answers once committed either way; at once when 256
   * acknowledged records wait). Default 200: one commit per 200 ms and member instead of one per receive batch,
   * a third less of the brokers' CPU per message in the full system (bench/README.md); 0 commits as soon as
   * acknowledged.
   */
  commitIntervalMs?: number;
  /** One partition per send (default), or the client's own partitioner: keyed by id over all partitions. */
  stickyPartition?: boolean;
  /** Most sends in flight at a time, each on its own partition (with stickyPartition). Default 3. */
  maxSendsInFlight?: number;
  /**
   * When an offer waits for a fresh depth reading (one reused for depthCacheMs): on every offer (default), or only
   * within 10 % of capacity, refreshed in the background otherwise (measured no better, bench/README.md).
   */
  offerDepthCheck?: 'near-capacity' | 'every-offer';
  /** Records read ahead and not yet handed out; reading pauses above it. Default 2000. */
  maxBuffered?: number;
  /** Errors this queue recovers from by itself (a stream that failed, a send retried); default: none. */
  onError?: (what: string, err: unknown) => void;
}

/** Thrown by offer(), receive() and ack() once close() started (an acknowledgement then is not committed: the item comes again). */
export class QueueClosedError extends Error {
  readonly isQueueClosedError = true;
  constructor() {
    super('the Kafka queue is closed');
    this.name = 'QueueClosedError';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class KafkaQueue implements MessageQueue {
  private readonly capacity: number;
  private readonly maxBuffered: number;
  private readonly topic: TopicSpec;
  private readonly marks = new PartitionWatermarks();
  private readonly leases: LeaseTable<QueueItem>;
  private readonly producer: BatchProducer;
  private readonly session: ConsumerSession;
  private readonly committer: Committer;
  private readonly gauge: DepthGauge;
  private readonly watch = new ConsumerWatch();
  private readonly wakers = new Set<() => void>();
  private readonly admin: AdminSession;
  private consuming = false;
  private inflightOffers = 0;
  private closed = false;
  private closing?: Promise<void>;
  private described?: { at: number; info: Promise<QueueInfo> };
  readonly ackWaitsFor: string;

  constructor(private readonly o: KafkaQueueOptions) {
    if (o.brokers.length === 0) throw new RangeError('brokers must name at least one host:port');
    if (!o.topic) throw new RangeError('topic must not be empty');
    if (!o.groupId) throw new RangeError('groupId must not be empty');
    if (!Number.isInteger(o.capacity) || o.capacity < 1) throw new RangeError(`capacity must be an integer ≥ 1, got ${o.capacity}`);
    this.capacity = o.capacity;
    this.maxBuffered = o.maxBuffered ?? 2000;
    this.leases = new LeaseTable(o.leaseMs ?? 30_000);
    const rf = o.replicationFactor ?? Math.min(3, o.brokers.length);
    this.topic = { topic: o.topic, partitions: o.partitions ?? 6, replicationFactor: rf, ...(rf >= 3 ? { minInsyncReplicas: 2 } : {}) };
    const isClosed = () => this.closed;
    this.admin = new AdminSession(o.brokers, `${o.clientId}-admin`, o.onError);
    this.producer = new BatchProducer({
      brokers: o.brokers,
      clientId: o.clientId,
      topic: o.topic,
      sendTimeoutMs: o.sendTimeoutMs ?? 30_000,
      sticky: o.stickyPartition ?? true,
      maxInFlight: o.maxSendsInFlight ?? 3,
      beforeSend: () => this.ensureTopic(),
      isClosed,
      closedError: () => new QueueClosedError(),
      onError: o.onError,
    });
    this.session = new ConsumerSession({
      brokers: o.brokers,
      clientId: o.clientId,
      groupId: o.groupId,
      topic: o.topic,
      timing: consumerTiming(o.sessionTimeoutMs ?? 6000),
      onRecord: (m) => this.onRecord(m),
      onAssigned: (ps) => this.onAssigned(ps),
      // A partition that moves is read by its next member from the committed offset: commit before it moves.
      onRebalance: () => void this.committer.flush(),
      beforeJoin: () => this.ensureTopic(),
      onError: o.onError,
    });
    // The topic first: a new queue's first offer would otherwise wait out the reading of a topic not there yet.
    const readDepth = async () => {
      await this.ensureTopic();
      return this.admin.run((admin) => depthOf(admin, o.groupId, o.topic));
    };
    this.gauge = new DepthGauge(readDepth, { refreshMs: o.depthCacheMs ?? 250, onError: o.onError });
    const commitIntervalMs = o.commitIntervalMs ?? QUEUE_COMMIT.intervalMs;
    this.ackWaitsFor = ackWaitText(commitIntervalMs);
    this.committer = new Committer(this.marks, (points) => this.session.commit(points), {
      intervalMs: commitIntervalMs,
      // At once when this many wait: a consumer keeping fewer acknowledgements in flight than this would wait
      // for the timer (the messages service keeps up to 16 batches of 32).
      maxRecords: QUEUE_COMMIT.maxRecords,
      onCommitted: () => this.gauge.invalidate(),
      onError: o.onError,
      isClosed,
    });
  }

  async offer(item: QueueItem, timeoutMs: number): Promise<boolean> {
    this.checkOpen();
    const deadline = Date.now() + Math.max(0, timeoutMs);
    // Offers still in flight count as queued: many concurrent offers must not all see the same free room.
    const near = (this.o.offerDepthCheck ?? 'every-offer') === 'every-offer' ? 0 : this.capacity - Math.max(1, Math.ceil(this.capacity / 10));
    if (!this.gauge.known() || this.gauge.estimate() + this.inflightOffers >= near) {
      for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
        if ((await this.gauge.forBound()) + this.inflightOffers < this.capacity) break;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await sleep(Math.min(pause, left));
        this.checkOpen();
        this.gauge.invalidate();
      }
    } else {
      this.gauge.refreshInBackground();
    }
    this.inflightOffers++;
    try {
      await this.producer.send(item);
      this.gauge.add();
      return true;
    } finally {
      this.inflightOffers--;
    }
  }

  async receive(max: number, timeoutMs: number, signal?: AbortSignal): Promise<Delivery[]> {
    this.checkOpen();
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be an integer ≥ 1, got ${max}`);
    if (!this.consuming) {
      this.consuming = true;
      this.session.start();
    }
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      if (this.closed || signal?.aborted) return [];
      const now = Date.now();
      const out = this.leases.take(max, now, (p, epoch) => this.marks.isCurrent(p, epoch));
      if (this.leases.buffered() < this.maxBuffered / 2) this.session.resume();
      if (out.length > 0) return out.map(deliveryOf);
      if (now >= deadline) return [];
      const wakeAt = Math.min(deadline, this.leases.nextExpiry() ?? deadline);
      await this.waitForWake(Math.max(1, wakeAt - now), signal);
    }
  }

  async ack(deliveries: readonly Delivery[]): Promise<void> {
    this.checkOpen();
    let counted = false;
    for (const d of deliveries) {
      const lease = this.leases.release(d.tag);
      if (lease && this.marks.ack(lease.partition, lease.offset, lease.epoch)) counted = true;
    }
    if (counted) await this.committer.acked();
  }

  /** Commits what is acknowledged first, so the answer counts every acknowledgement made before the call. */
  async depth(): Promise<number> {
    await this.committer.flush();
    return this.gauge.exact();
  }

  /** Partitions the group has given this member; undefined before it joined (diagnostics and tests). */
  assignedPartitions(): number[] | undefined {
    return this.marks.assigned();
  }

  /**
   * Which broker leads each partition, which replicas are out of sync, the
   * group's lag per consumer and the partitions no live consumer reads: for
   * `ps` and the dashboard. Reused for a second (the dashboard asks every
   * second per viewer).
   */
  describe(): Promise<QueueInfo> {
    if (this.described && Date.now() - this.described.at < 1000) return this.described.info;
    const info = this.admin.run(async (admin) => {
      await this.ensureTopic();
      const d = await readQueueDescription(admin, this.o.topic, this.o.groupId, this.watch);
      return { details: kafkaQueueDetails(d), redelivered: this.leases.redelivered };
    });
    this.described = { at: Date.now(), info };
    info.catch(() => (this.described = undefined));
    return info;
  }

  /** Commits what is acknowledged, leaves the group (its partitions move at once), closes the clients. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await bounded(this.committer.flush(), 5000);
      this.closed = true;
      // Acknowledgements made during that commit (later ones are refused now) get theirs.
      await bounded(this.committer.flush(), 5000);
      this.committer.stop();
      this.wake();
      // Each step bounded: a client may wait on a broker that is gone.
      await Promise.all([bounded(this.session.close(), 10_000), bounded(this.producer.close(), 5000), bounded(this.admin.close(), 5000)]);
      this.leases.clear();
      this.marks.clear();
    })();
    return this.closing;
  }

  private onAssigned(partitions: number[]): void {
    this.marks.assign(partitions);
    this.leases.keepPartitions(new Set(partitions));
  }

  private onRecord(m: Record): void {
    if (this.closed || m.topic !== this.o.topic) return;
    const epoch = this.marks.read(m.partition, m.offset);
    if (epoch === undefined) return;
    const item = parseItem(m.value);
    // The record header is the trace context's carrier (untraced records have no headers).
    if (item && m.headers.size > 0) {
      const traceparent = headerOf(m.headers, 'traceparent');
      if (traceparent !== undefined) item.traceparent = traceparent;
    }
    if (!item) {
      // Not one of ours: nothing to hand out, but it must not hold the partition's commit back.
      this.marks.ack(m.partition, m.offset, epoch);
      return;
    }
    this.leases.push({ partition: m.partition, offset: m.offset, epoch, item });
    if (this.leases.buffered() >= this.maxBuffered) this.session.pause();
    this.wake();
  }

  private waitForWake(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  private ensureTopic(): Promise<void> {
    return this.admin.ensureTopic(this.topic);
  }

  private checkOpen(): void {
    if (this.closed) throw new QueueClosedError();
  }
}

/** A lease as a delivery; a traced item also says where it was read (partition and offset). */
function deliveryOf(l: Lease<QueueItem>): Delivery {
  const d: { item: QueueItem; tag: string; redelivered?: boolean; from?: string } = { item: l.item, tag: l.tag };
  if (l.again) d.redelivered = true;
  if (l.item.traceparent !== undefined) d.from = `partition ${l.partition}, offset ${l.offset}`;
  return d;
}

function headerOf(headers: Map<Buffer, Buffer>, name: string): string | undefined {
  for (const [k, v] of headers) if (k.toString('latin1') === name) return v.toString('latin1');
  return undefined;
}

function parseItem(value: Buffer | undefined): QueueItem | undefined {
  if (!value) return undefined;
  try {
    const o = JSON.parse(value.toString('utf8')) as Partial<QueueItem>;
    if (typeof o.id !== 'string' || typeof o.msg !== 'string' || typeof o.enqueuedAt !== 'string') return undefined;
    return o as QueueItem;
  } catch {
    return undefined;
  }
}
