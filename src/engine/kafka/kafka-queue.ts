/**
 * The messages queue on a Kafka topic (@platformatic/kafka 1.35 on Node 20).
 *
 * offer   → an idempotent produce with acks=all, one send at a time (the
 *           offers of one event-loop turn, or made while a send is in
 *           flight, go in one batch); bounded by the group's lag.
 * receive → records of the partitions this member holds in the consumer
 *           group, leased: not acknowledged within leaseMs, a record is
 *           handed out again by this member. Kafka itself only moves a
 *           partition when its member leaves, so the lease is kept here;
 *           when this member dies, the rebalance gives its partitions,
 *           from the committed offsets, to another.
 * ack     → per partition, commits the offset below which every record
 *           is acknowledged (an acknowledgement out of order never
 *           commits past an unacknowledged record).
 * depth   → end offsets minus the group's committed offsets.
 *
 * Delivery is at least once: a re-sent batch after a broker failure, or a
 * rebalance, can deliver an item twice. Consumers dedup on id.
 *
 * Order: Kafka keeps order per partition. Items are keyed by id, so they
 * spread over the partitions and the queue as a whole is not FIFO; items
 * of one partition are first delivered in the order they were offered
 * (by one producer). A topic with one partition is FIFO.
 */
import { Admin, Consumer, Producer, ProduceAcks, type Message, type MessagesStream } from '@platformatic/kafka';
import type { Delivery, MessageQueue, QueueInfo, QueueItem } from '../ports.js';
import { forceClose, guardUnknownBroker } from './client-fixes.js';
import { groupLagOf, partitionLag, partitionStates } from './offsets.js';

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
  /** How long a depth() answer is reused (offers add to it meanwhile). Default 250. */
  depthCacheMs?: number;
  /** How long offer() keeps retrying a send the cluster refuses (a broker failing over) before it throws. Default 30000. */
  sendTimeoutMs?: number;
  /** The group drops a member that stops heartbeating after this. Default 10000 (the client's own default is 60 s). */
  sessionTimeoutMs?: number;
  /** Records read ahead and not yet handed out; reading pauses above it. Default 2000. */
  maxBuffered?: number;
  /** Errors this queue recovers from by itself (a stream that failed, a send retried); default: none. */
  onError?: (what: string, err: unknown) => void;
}

/** Thrown by offer() and receive() after close(). */
export class QueueClosedError extends Error {
  readonly isQueueClosedError = true;
  constructor() {
    super('the Kafka queue is closed');
    this.name = 'QueueClosedError';
  }
}

interface Pending {
  item: QueueItem;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A record read from a partition, waiting to be handed out. */
interface Buffered {
  partition: number;
  offset: bigint;
  epoch: number;
  item: QueueItem;
}

interface Lease extends Buffered {
  tag: string;
  expires: number;
}

/** What this member knows of one partition since it was (last) given it. */
interface PartState {
  /** Changes each time the partition is given to this member again: an older tag is not acknowledged into it. */
  epoch: number;
  /** Highest offset read: a record at or below it is a re-read (after a rejoin) and skipped. */
  highest: bigint;
  /** Offsets read and not yet below the watermark, ascending; `head` is the first still relevant. */
  order: bigint[];
  head: number;
  acked: Set<bigint>;
  /** Next offset to commit: every record before it is acknowledged. -1n before any. */
  watermark: bigint;
  /** Last offset committed. */
  committed: bigint;
}

/** How long an offer waits for a fresh depth before it goes by the last known one. */
const DEPTH_WAIT_MS = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class KafkaQueue implements MessageQueue {
  private readonly o: Required<Omit<KafkaQueueOptions, 'onError' | 'replicationFactor'>> & Pick<KafkaQueueOptions, 'onError'> & { replicationFactor: number };
  private producer?: Producer;
  private consumer?: Consumer;
  private admin?: Admin;
  private stream?: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
  private consuming?: Promise<void>;
  private closed = false;
  private closing?: Promise<void>;

  private readonly pending: Pending[] = [];
  private sendScheduled = false;
  private sending = false;
  private inflightOffers = 0;

  private readonly buffer: Buffered[] = [];
  private bufferHead = 0;
  /** In lease order = expiry order: a re-lease moves to the end. */
  private readonly leases = new Map<string, Lease>();
  private readonly parts = new Map<number, PartState>();
  private assigned: Set<number> | undefined;
  private epochs = 0;
  private readonly wakers = new Set<() => void>();
  private commitChain: Promise<void> = Promise.resolve();
  private commitRetry?: NodeJS.Timeout;
  private heartbeatFailures = 0;
  private streamFailures = 0;
  private commitFailures = 0;

  private depthCache?: { value: number; at: number };
  private depthInflight?: Promise<number>;
  private topicReady?: Promise<void>;

  constructor(opts: KafkaQueueOptions) {
    if (opts.brokers.length === 0) throw new RangeError('brokers must name at least one host:port');
    if (!opts.topic) throw new RangeError('topic must not be empty');
    if (!opts.groupId) throw new RangeError('groupId must not be empty');
    if (!Number.isInteger(opts.capacity) || opts.capacity < 1) throw new RangeError(`capacity must be an integer ≥ 1, got ${opts.capacity}`);
    this.o = {
      brokers: [...opts.brokers],
      topic: opts.topic,
      groupId: opts.groupId,
      clientId: opts.clientId,
      capacity: opts.capacity,
      leaseMs: opts.leaseMs ?? 30_000,
      partitions: opts.partitions ?? 6,
      replicationFactor: opts.replicationFactor ?? Math.min(3, opts.brokers.length),
      depthCacheMs: opts.depthCacheMs ?? 250,
      sendTimeoutMs: opts.sendTimeoutMs ?? 30_000,
      sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000,
      maxBuffered: opts.maxBuffered ?? 2000,
      onError: opts.onError,
    };
    if (this.o.leaseMs < 1) throw new RangeError(`leaseMs must be ≥ 1, got ${this.o.leaseMs}`);
  }

  // ---- offer ------------------------------------------------------------

  async offer(item: QueueItem, timeoutMs: number): Promise<boolean> {
    this.checkOpen();
    const deadline = Date.now() + Math.max(0, timeoutMs);
    // Offers still in flight count as queued: many concurrent offers must not all see the same free room.
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const depth = await this.depthForBound();
      if (depth + this.inflightOffers < this.o.capacity) break;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await sleep(Math.min(pause, left));
      this.checkOpen();
      this.depthCache = undefined;
    }
    this.inflightOffers++;
    try {
      await new Promise<void>((resolve, reject) => {
        this.pending.push({ item, resolve, reject });
        this.scheduleSend();
      });
      if (this.depthCache) this.depthCache.value++;
      return true;
    } finally {
      this.inflightOffers--;
    }
  }

  /**
   * depth() for the bound. During a failover the lag can take seconds to
   * read (or fail): the last known value stands in rather than holding up or
   * failing the offer.
   */
  private async depthForBound(): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), DEPTH_WAIT_MS)));
      const d = await Promise.race([this.depth(), late]);
      return d ?? this.depthCache?.value ?? 0;
    } catch (e) {
      this.o.onError?.('reading the queue depth', e);
      return this.depthCache?.value ?? 0;
    } finally {
      clearTimeout(timer);
    }
  }

  private scheduleSend(): void {
    if (this.sendScheduled || this.sending) return;
    this.sendScheduled = true;
    // Let the rest of this turn's offers join the batch.
    setImmediate(() => {
      this.sendScheduled = false;
      void this.sendLoop();
    });
  }

  /**
   * One send at a time: concurrent sends of an idempotent producer fail with
   * the non-retriable OUT_OF_ORDER_SEQUENCE_NUMBER (seen with this client).
   */
  private async sendLoop(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, 500);
        try {
          await this.sendWithRetry(batch.map((p) => p.item));
          batch.forEach((p) => p.resolve());
        } catch (e) {
          batch.forEach((p) => p.reject(e));
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async sendWithRetry(items: QueueItem[]): Promise<void> {
    const messages = items.map((item) => ({
      topic: this.o.topic,
      key: Buffer.from(item.id),
      value: Buffer.from(JSON.stringify(item)),
    }));
    const deadline = Date.now() + this.o.sendTimeoutMs;
    for (let attempt = 1, pause = 100; ; attempt++, pause = Math.min(pause * 2, 2000)) {
      this.checkOpen();
      const producer = this.getProducer();
      try {
        await this.ensureTopic();
        await producer.send({ messages });
        return;
      } catch (e) {
        if (this.closed) throw new QueueClosedError();
        if (Date.now() + pause > deadline) throw e;
        this.o.onError?.(`sending ${items.length} item(s), attempt ${attempt}`, e);
        // After a broker dies the client keeps asking it from cached metadata; a re-send may duplicate (consumers dedup on id).
        producer.clearMetadata();
        if (attempt % 3 === 0) {
          // A producer whose sequence numbers went out of step does not recover: a new one gets a new producer id.
          this.producer = undefined;
          void producer.close().catch(() => {});
        }
        await sleep(pause);
      }
    }
  }

  private getProducer(): Producer {
    if (this.producer) return this.producer;
    this.producer = new Producer({
      clientId: `${this.o.clientId}-producer`,
      bootstrapBrokers: [...this.o.brokers],
      idempotent: true,
      acks: ProduceAcks.ALL,
      retries: 3,
      retryDelay: 250,
    });
    guardUnknownBroker(this.producer);
    this.producer.on('error', (e: Error) => this.o.onError?.('producer', e));
    return this.producer;
  }

  // ---- receive ----------------------------------------------------------

  async receive(max: number, timeoutMs: number, signal?: AbortSignal): Promise<Delivery[]> {
    this.checkOpen();
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be an integer ≥ 1, got ${max}`);
    this.startConsuming();
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      if (this.closed || signal?.aborted) return [];
      const out = this.take(max);
      if (out.length > 0) return out;
      const now = Date.now();
      if (now >= deadline) return [];
      const first = this.leases.values().next().value;
      const wakeAt = first ? Math.min(deadline, first.expires) : deadline;
      await this.waitForWake(Math.max(1, wakeAt - now), signal);
    }
  }

  /** Expired leases first (they are the oldest), then fresh records. */
  private take(max: number): Delivery[] {
    const now = Date.now();
    const out: Delivery[] = [];
    for (const lease of this.leases.values()) {
      if (out.length >= max || lease.expires > now) break;
      this.leases.delete(lease.tag);
      lease.expires = now + this.o.leaseMs;
      this.leases.set(lease.tag, lease);
      out.push({ item: lease.item, tag: lease.tag });
    }
    while (out.length < max && this.bufferHead < this.buffer.length) {
      const rec = this.buffer[this.bufferHead++]!;
      if (this.parts.get(rec.partition)?.epoch !== rec.epoch) continue;
      const tag = `${rec.partition}:${rec.offset}:${rec.epoch}`;
      this.leases.set(tag, { ...rec, tag, expires: now + this.o.leaseMs });
      out.push({ item: rec.item, tag });
    }
    if (this.bufferHead > 1024 && this.bufferHead * 2 > this.buffer.length) {
      this.buffer.splice(0, this.bufferHead);
      this.bufferHead = 0;
    }
    if (this.stream?.isPaused() && this.buffered() < this.o.maxBuffered / 2) this.stream.resume();
    return out;
  }

  private buffered(): number {
    return this.buffer.length - this.bufferHead;
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

  private getConsumer(): Consumer {
    if (!this.consumer) {
      const consumer = new Consumer({
        clientId: `${this.o.clientId}-consumer`,
        groupId: this.o.groupId,
        bootstrapBrokers: [...this.o.brokers],
        sessionTimeout: this.o.sessionTimeoutMs,
        rebalanceTimeout: Math.max(this.o.sessionTimeoutMs, 20_000),
        heartbeatInterval: Math.min(1000, Math.floor(this.o.sessionTimeoutMs / 3)),
        autocommit: false,
        // Short fetch waits: a record offered to an idle queue is handed out soon, and close() does not wait long.
        maxWaitTime: 500,
        retries: 3,
        retryDelay: 250,
      });
      guardUnknownBroker(consumer);
      // A failed rejoin is emitted as 'error': unheard, it would throw.
      consumer.on('error', (e: Error) => this.o.onError?.('consumer', e));
      consumer.on('consumer:group:join', (payload) => {
        if (consumer === this.consumer) this.onAssigned(payload.assignments);
      });
      consumer.on('consumer:heartbeat:error', (payload) => {
        if (consumer !== this.consumer) return;
        // The client never looks the coordinator up again once it has one: when that broker died, only a new consumer finds the new one.
        if (++this.heartbeatFailures >= 3) this.resetConsumer('heartbeats failing', payload.error);
      });
      consumer.on('consumer:heartbeat:end', () => {
        if (consumer === this.consumer) this.heartbeatFailures = 0;
      });
      this.heartbeatFailures = 0;
      this.commitFailures = 0;
      this.consumer = consumer;
    }
    return this.consumer;
  }

  /**
   * Drops the consumer and joins the group with a new one (a new member; the
   * old one is removed by its leave, or by the session timeout when the leave
   * cannot reach the coordinator). What this member read and leased stays:
   * the new member's assignment prunes what it no longer holds.
   */
  private resetConsumer(why: string, err: unknown): void {
    if (this.closed || !this.consumer) return;
    this.o.onError?.(`${why}; joining again with a new consumer`, err);
    const old = this.consumer;
    const oldStream = this.stream;
    this.consumer = undefined;
    this.stream = undefined;
    this.consuming = undefined;
    void (async () => {
      await bounded(oldStream?.close(), 5000);
      await bounded(forceClose(old), 5000);
    })();
    this.startConsuming();
  }

  /** Starts (once) reading the topic as a member of the group; retries until it works or the queue closes. */
  private startConsuming(): void {
    this.consuming ??= (async () => {
      await this.ensureTopic().catch((e: unknown) => this.o.onError?.('creating the topic', e));
      for (let attempt = 1, pause = 200; !this.closed; attempt++, pause = Math.min(pause * 2, 3000)) {
        const consumer = this.getConsumer();
        try {
          const stream = await consumer.consume({
            topics: [this.o.topic],
            mode: 'committed',
            fallbackMode: 'earliest',
            autocommit: false,
            sessionTimeout: this.o.sessionTimeoutMs,
            rebalanceTimeout: Math.max(this.o.sessionTimeoutMs, 20_000),
            heartbeatInterval: Math.min(1000, Math.floor(this.o.sessionTimeoutMs / 3)),
            maxWaitTime: 500,
          });
          if (this.closed) {
            await stream.close().catch(() => {});
            return;
          }
          this.stream = stream;
          stream.on('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => {
            if (stream === this.stream) this.onRecord(m);
          });
          stream.once('error', (e: Error) => this.onStreamError(stream, e));
          return;
        } catch (e) {
          if (this.closed) return;
          // After a broker dies, the client retries it from cached metadata and a cached coordinator (`joinGroup failed`):
          // forget the metadata, and from the second failure on start over with a new consumer.
          consumer.clearMetadata();
          if (attempt >= 2 && consumer === this.consumer) {
            this.consumer = undefined;
            void bounded(forceClose(consumer), 5000);
          }
          this.o.onError?.(`joining group ${this.o.groupId}, attempt ${attempt}`, e);
          await sleep(pause);
        }
      }
    })();
  }

  /** A stream that failed (e.g. `Listing offsets failed` after a broker died) ends; a new one continues from the committed offsets. */
  private onStreamError(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>, e: Error): void {
    if (this.stream !== stream || this.closed) return;
    this.stream = undefined;
    // A second failure with no record read in between is the cached coordinator (or partition leader) being gone for good.
    if (++this.streamFailures >= 2) {
      this.streamFailures = 0;
      void bounded(stream.close(), 5000);
      this.resetConsumer('the consumer stream failed again', e);
      return;
    }
    this.o.onError?.('the consumer stream failed; consuming again', e);
    void stream.close().catch(() => {});
    this.consumer?.clearMetadata();
    this.consuming = undefined;
    this.startConsuming();
  }

  private onAssigned(assignments: { topic: string; partitions: number[] }[] | undefined): void {
    const mine = new Set<number>();
    for (const a of assignments ?? []) if (a.topic === this.o.topic) a.partitions.forEach((p) => mine.add(p));
    this.assigned = mine;
    // A partition given to another member is its business now: drop what was read and leased of it (that member reads it again from the committed offset).
    for (const p of [...this.parts.keys()]) if (!mine.has(p)) this.parts.delete(p);
    for (const [tag, lease] of this.leases) if (!mine.has(lease.partition)) this.leases.delete(tag);
  }

  private onRecord(m: Message<Buffer, Buffer, Buffer, Buffer>): void {
    if (this.closed || m.topic !== this.o.topic) return;
    // Right after a rebalance a member may still get a few records of a partition it just lost.
    if (this.assigned && !this.assigned.has(m.partition)) return;
    let st = this.parts.get(m.partition);
    if (!st) {
      st = { epoch: ++this.epochs, highest: -1n, order: [], head: 0, acked: new Set(), watermark: -1n, committed: -1n };
      this.parts.set(m.partition, st);
    }
    this.streamFailures = 0;
    if (m.offset <= st.highest) return;
    st.highest = m.offset;
    st.order.push(m.offset);
    const item = parseItem(m.value);
    if (!item) {
      // Not one of ours: nothing to hand out, but it must not hold the partition's commit back.
      this.markAcked(st, m.offset);
      return;
    }
    this.buffer.push({ partition: m.partition, offset: m.offset, epoch: st.epoch, item });
    if (this.buffered() >= this.o.maxBuffered) this.stream?.pause();
    this.wake();
  }

  /** Partitions the group has given this member; undefined before it joined (diagnostics and tests). */
  assignedPartitions(): number[] | undefined {
    return this.assigned ? [...this.assigned].sort((a, b) => a - b) : undefined;
  }

  // ---- ack --------------------------------------------------------------

  async ack(deliveries: readonly Delivery[]): Promise<void> {
    let changed = false;
    for (const d of deliveries) {
      const lease = this.leases.get(d.tag);
      if (!lease) continue;
      this.leases.delete(d.tag);
      const st = this.parts.get(lease.partition);
      if (!st || st.epoch !== lease.epoch) continue;
      this.markAcked(st, lease.offset);
      changed = true;
    }
    if (changed) await this.commit();
  }

  private markAcked(st: PartState, offset: bigint): void {
    st.acked.add(offset);
    while (st.head < st.order.length && st.acked.has(st.order[st.head]!)) {
      const o = st.order[st.head++]!;
      st.acked.delete(o);
      st.watermark = o + 1n;
    }
    if (st.head > 1024) {
      st.order.splice(0, st.head);
      st.head = 0;
    }
  }

  /** Commits every partition whose watermark moved; one commit at a time. A failed commit is retried later: its items only come again if this member dies first. */
  private commit(): Promise<void> {
    const run = this.commitChain.then(async () => {
      const offsets = [...this.parts.entries()]
        .filter(([, st]) => st.watermark > st.committed)
        .map(([partition, st]) => ({ topic: this.o.topic, partition, offset: st.watermark, leaderEpoch: -1, st }));
      const consumer = this.consumer;
      if (offsets.length === 0 || !consumer) return;
      try {
        await consumer.commit({ offsets: offsets.map(({ st: _st, ...o }) => o) });
        for (const { st, offset } of offsets) if (offset > st.committed) st.committed = offset;
        this.commitFailures = 0;
        this.depthCache = undefined;
      } catch (e) {
        if (this.closed) return;
        this.o.onError?.('committing offsets', e);
        consumer.clearMetadata();
        if (consumer === this.consumer && ++this.commitFailures >= 2) this.resetConsumer('commits failing', e);
        this.commitRetry ??= setTimeout(() => {
          this.commitRetry = undefined;
          if (!this.closed) void this.commit();
        }, 1000);
      }
    });
    this.commitChain = run.catch(() => {});
    return run;
  }

  // ---- depth ------------------------------------------------------------

  async depth(): Promise<number> {
    const c = this.depthCache;
    if (c && Date.now() - c.at < this.o.depthCacheMs) return c.value;
    this.depthInflight ??= (async () => {
      try {
        await this.ensureTopic();
        const lag = await this.withAdmin((admin) => partitionLag(admin, this.o.groupId, this.o.topic));
        let value = 0;
        for (const l of lag.values()) value += l;
        this.depthCache = { value, at: Date.now() };
        return value;
      } finally {
        this.depthInflight = undefined;
      }
    })();
    return this.depthInflight;
  }

  private async withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (!this.admin) {
        this.admin = new Admin({ clientId: `${this.o.clientId}-admin`, bootstrapBrokers: [...this.o.brokers], retries: 2, retryDelay: 250 });
        guardUnknownBroker(this.admin);
        this.admin.on('error', (e: Error) => this.o.onError?.('admin client', e));
      }
      try {
        return await fn(this.admin);
      } catch (e) {
        if (attempt >= 3 || this.closed) throw e;
        // Like the consumer, it may keep asking a dead broker: a new client starts from the bootstrap list.
        const admin = this.admin;
        this.admin = undefined;
        void bounded(admin.close(), 5000);
        await sleep(200 * attempt);
      }
    }
  }

  /** Creates the topic when it is missing (a cluster run by the launcher has made it already). */
  private ensureTopic(): Promise<void> {
    this.topicReady ??= this.withAdmin(async (admin) => {
      const topics = await admin.listTopics();
      if (topics.includes(this.o.topic)) return;
      try {
        await admin.createTopics({
          topics: [this.o.topic],
          partitions: this.o.partitions,
          replicas: this.o.replicationFactor,
          configs: this.o.replicationFactor >= 3 ? [{ name: 'min.insync.replicas', value: '2' }] : [],
        });
      } catch (e) {
        if (!(await admin.listTopics()).includes(this.o.topic)) throw e;
      }
    }).catch((e: unknown) => {
      this.topicReady = undefined;
      throw e;
    });
    return this.topicReady;
  }

  // ---- describe ---------------------------------------------------------

  private described?: { at: number; info: Promise<QueueInfo> };

  /**
   * Which broker leads each partition, which replicas are out of sync, and
   * how far each consumer of the group is behind: for `ps` and the dashboard.
   * Reused for a second (the dashboard asks every second per viewer).
   */
  describe(): Promise<QueueInfo> {
    if (this.described && Date.now() - this.described.at < 1000) return this.described.info;
    const info = this.withAdmin(async (admin) => {
      await this.ensureTopic();
      const [parts, lag] = await Promise.all([partitionStates(admin, this.o.topic), groupLagOf(admin, this.o.groupId, this.o.topic)]);
      const leads = new Map<number, number[]>();
      for (const p of parts) leads.set(p.leader, [...(leads.get(p.leader) ?? []), p.partition]);
      const leaders = [...leads].sort((a, b) => a[0] - b[0]).map(([node, ps]) => `${node < 0 ? 'no leader' : `broker-${node}`}: ${ps.join(',')}`);
      const short = parts.filter((p) => p.isr.length < p.replicas.length).map((p) => `p${p.partition} isr ${p.isr.join(',') || 'none'} of ${p.replicas.join(',')}`);
      const members = lag.members.map((m) => `${m.clientId} ${m.lag} (p${m.partitions.join(',')})`);
      return {
        lines: [
          `topic ${this.o.topic}: ${parts.length} partitions, leaders ${leaders.join('; ')}`,
          `in-sync replicas: ${short.length ? short.join('; ') : 'all'}`,
          `group ${this.o.groupId} lag: ${members.length ? members.join(', ') : 'no consumer'}${lag.unassignedLag ? `, unassigned ${lag.unassignedLag}` : ''}`,
        ],
      };
    });
    this.described = { at: Date.now(), info };
    info.catch(() => (this.described = undefined));
    return info;
  }

  // ---- close ------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new QueueClosedError();
  }

  /** Commits what is acknowledged, leaves the group (its partitions move at once), closes the clients. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await bounded(this.commit(), 5000);
      this.closed = true;
      clearTimeout(this.commitRetry);
      this.wake();
      for (const p of this.pending.splice(0)) p.reject(new QueueClosedError());
      // The stream before its consumer; the consumer's close leaves the group.
      // Each step bounded: a client may wait on a broker that is gone.
      await bounded(this.stream?.close(), 5000);
      await Promise.all([this.consumer?.close(), this.producer?.close(), this.admin?.close()].map((p) => bounded(p, 5000)));
      this.leases.clear();
      this.parts.clear();
    })();
    return this.closing;
  }
}

/** Waits for the promise, at most ms; never rejects. */
function bounded(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.then(() => {}, () => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
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

/** The partition a delivery came from: for tests and diagnostics (services treat tags as opaque). */
export function partitionOfTag(tag: string): number {
  return Number(tag.split(':')[0]);
}
