/**
 * The queue's producer: offers of one event-loop turn are collected by a
 * TurnBatch; batches that wait while sends are in flight are merged into the
 * next send.
 *
 * Sticky partition (KIP-480's idea): each send goes to one partition, the
 * next send to the next one. A send then waits on one leader's replication
 * instead of the slowest of all leaders, and costs one produce request
 * instead of one per leader. Per-partition order is the order of the sends.
 *
 * Sends in flight: up to `maxInFlight` at a time, never two on one
 * partition. The idempotent producer numbers records per partition and the
 * client moves a partition's sequence on only when its send is answered, so
 * two concurrent sends to one partition would carry the same numbers (the
 * broker refuses the second with the non-retriable
 * OUT_OF_ORDER_SEQUENCE_NUMBER, seen with this client); sends to distinct
 * partitions are numbered independently. Partitioned by key (sticky off),
 * a send spans every partition: one send at a time.
 */
import { ProduceAcks, Producer } from '@platformatic/kafka';
import type { QueueItem } from '../ports.js';
import { TurnBatch, type Waiting } from '../../lib/turn-batch.js';
import { guardUnknownBroker, producerOutOfStep } from './client-fixes.js';

export interface BatchProducerOptions {
  brokers: readonly string[];
  clientId: string;
  topic: string;
  /** How long a send the cluster refuses (a broker failing over) is retried before its offers fail. */
  sendTimeoutMs: number;
  /** Most items in one send. Default 500. */
  maxBatch?: number;
  /** One partition per send (default), or the client's own: keyed by id over all partitions. */
  sticky?: boolean;
  /** Most sends in flight, each on its own partition (sticky only; at most the topic's partitions). Default 1. */
  maxInFlight?: number;
  /** Makes the client (default: an idempotent producer, acks=all, on `brokers`); tests give a fake. */
  makeProducer?: () => Producer;
  /** Runs before each send attempt (creating the topic when missing). */
  beforeSend?: () => Promise<void>;
  isClosed: () => boolean;
  closedError: () => Error;
  onError?: (what: string, err: unknown) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const TRACEPARENT_KEY = Buffer.from('traceparent');

export class BatchProducer {
  private readonly turns: TurnBatch<QueueItem>;
  private readonly waiting: Array<Waiting<QueueItem, void>> = [];
  private inFlight = 0;
  private producer?: Producer;
  /** Sends in flight per client; a retired client is closed once its last one is answered. */
  private readonly uses = new Map<Producer, number>();
  private readonly retired = new Set<Producer>();
  /** Where the round of partitions goes on from (a random start: producers of one topic spread out). */
  private nextPartition = Math.floor(Math.random() * 1024);
  /** Partitions with a send in flight. */
  private readonly busy = new Set<number>();
  /** The topic's partition count, from the client's metadata (read once: Kafka never lowers it). */
  private partitionCount?: number;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(private readonly o: BatchProducerOptions) {
    this.maxBatch = o.maxBatch ?? 500;
    const inFlight = o.maxInFlight ?? 1;
    if (!Number.isInteger(inFlight) || inFlight < 1) throw new RangeError(`maxInFlight must be an integer ≥ 1, got ${inFlight}`);
    this.maxInFlight = o.sticky === false ? 1 : inFlight;
    this.turns = new TurnBatch((batch) => this.enqueue(batch), { maxItems: this.maxBatch });
  }

  /** Resolves once the item is written with acks=all; rejects after sendTimeoutMs of refusals, or on close. */
  send(item: QueueItem): Promise<void> {
    return this.turns.add(item);
  }

  private enqueue(batch: Array<Waiting<QueueItem, void>>): void {
    this.waiting.push(...batch);
    this.pump();
  }

  /** Starts sends while batches wait and a partition is free (one send until the partition count is known). */
  private pump(): void {
    for (;;) {
      const limit = this.partitionCount === undefined ? 1 : Math.min(this.maxInFlight, this.partitionCount);
      if (this.waiting.length === 0 || this.inFlight >= limit) return;
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight++;
      this.sendWithRetry(batch.map((w) => w.value)).then(
        () => batch.forEach((w) => w.resolve()),
        (e: unknown) => batch.forEach((w) => w.reject(e)),
      ).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The next partition in the round with no send in flight. */
  private claimPartition(count: number): number {
    for (let i = 0; i < count; i++) {
      const p = this.nextPartition++ % count;
      if (!this.busy.has(p)) {
        this.busy.add(p);
        return p;
      }
    }
    // Only when the topic shrank under sends in flight (a partition count is never lowered by Kafka): share one.
    return this.nextPartition++ % count;
  }

  private async sendWithRetry(items: QueueItem[]): Promise<void> {
    // Serialised once; the partition is set on them once claimed, and kept over retries.
    const messages: Array<{ topic: string; key: Buffer; value: Buffer; partition?: number; headers?: Map<Buffer, Buffer> }> = items.map((item) => ({
      topic: this.o.topic,
      key: Buffer.from(item.id),
      value: Buffer.from(JSON.stringify(item)),
      // A traced item's context also as a record header (OpenTelemetry's messaging conventions).
      // (Keys as bytes: the client has no header serializer and writes keys as given.)
      ...(item.traceparent === undefined ? {} : { headers: new Map([[TRACEPARENT_KEY, Buffer.from(item.traceparent)]]) }),
    }));
    let partition: number | undefined;
    const deadline = Date.now() + this.o.sendTimeoutMs;
    try {
      for (let attempt = 1, pause = 100; ; attempt++, pause = Math.min(pause * 2, 2000)) {
        if (this.o.isClosed()) throw this.o.closedError();
        const producer = this.client();
        this.uses.set(producer, (this.uses.get(producer) ?? 0) + 1);
        try {
          await this.o.beforeSend?.();
          if (this.o.sticky !== false && partition === undefined) {
            partition = this.claimPartition(await this.partitionsOf(producer));
            for (const m of messages) m.partition = partition;
          }
          await producer.send({ messages });
          return;
        } catch (e) {
          if (this.o.isClosed()) throw this.o.closedError();
          if (Date.now() + pause > deadline) {
            // The request may still have landed, and the client numbers the partition's next send as if it had not:
            // a next send of as many records would be taken for a duplicate and dropped. A new producer starts afresh.
            this.retire(producer);
            throw e;
          }
          this.o.onError?.(`sending ${items.length} item(s), attempt ${attempt}`, e);
          // After a broker dies the client keeps asking it from cached metadata; a re-send may duplicate (consumers dedup on id).
          producer.clearMetadata();
          // A producer whose sequence numbers went out of step does not recover: a new one gets a new producer id.
          // Other failures (a leader that died, stale metadata) keep the producer: a new one would first have to
          // get an id from the active controller, which may be the broker that just died.
          if (producerOutOfStep(e)) this.retire(producer);
          await sleep(pause);
        } finally {
          const left = (this.uses.get(producer) ?? 1) - 1;
          if (left > 0) this.uses.set(producer, left);
          else {
            this.uses.delete(producer);
            if (this.retired.delete(producer)) void producer.close().catch(() => {});
          }
        }
      }
    } finally {
      // Answered or given up: the partition takes the next send.
      if (partition !== undefined) this.busy.delete(partition);
    }
  }

  /** No new send goes to this client; it is closed once its sends in flight (on other partitions) are answered. */
  private retire(producer: Producer): void {
    if (this.producer === producer) this.producer = undefined;
    if (this.uses.has(producer)) this.retired.add(producer);
    else void producer.close().catch(() => {});
  }

  /** The topic's partition count (the client answers from its cached metadata); more sends may start once known. */
  private async partitionsOf(producer: Producer): Promise<number> {
    if (this.partitionCount !== undefined) return this.partitionCount;
    const md = await producer.metadata({ topics: [this.o.topic] });
    const count = md.topics.get(this.o.topic)?.partitionsCount;
    if (count === undefined || count < 1) throw new Error(`no partitions known for topic ${this.o.topic}`);
    this.partitionCount = count;
    setImmediate(() => this.pump());
    return count;
  }

  private client(): Producer {
    if (this.producer) return this.producer;
    this.producer = this.o.makeProducer?.() ?? this.newProducer();
    this.producer.on('error', (e: Error) => this.o.onError?.('producer', e));
    return this.producer;
  }

  private newProducer(): Producer {
    const producer = new Producer({
      clientId: `${this.o.clientId}-producer`,
      bootstrapBrokers: [...this.o.brokers],
      idempotent: true,
      acks: ProduceAcks.ALL,
      retries: 3,
      retryDelay: 250,
    });
    guardUnknownBroker(producer);
    return producer;
  }

  /** Fails what waits for a send (offers in the current turn fail when their turn ends); closes the client. */
  async close(): Promise<void> {
    for (const w of this.waiting.splice(0)) w.reject(this.o.closedError());
    const clients = [...(this.producer ? [this.producer] : []), ...this.retired];
    this.retired.clear();
    await Promise.all(clients.map((p) => p.close()));
  }
}
