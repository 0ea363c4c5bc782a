/**
 * The queue's producer: offers of one event-loop turn are collected by a
 * TurnBatch, and batches go out one send at a time (concurrent sends of an
 * idempotent producer fail with the non-retriable
 * OUT_OF_ORDER_SEQUENCE_NUMBER, seen with this client); batches that wait
 * while a send is in flight are merged into the next send.
 *
 * Sticky partition (KIP-480's idea): each send goes to one partition, the
 * next send to the next one. A send then waits on one leader's replication
 * instead of the slowest of all leaders, and costs one produce request
 * instead of one per leader. Per-partition order is the order of the sends.
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
  private sending = false;
  private producer?: Producer;
  /** The next send's partition (the client takes it modulo the topic's partition count). */
  private partition = Math.floor(Math.random() * 1024);
  private readonly maxBatch: number;

  constructor(private readonly o: BatchProducerOptions) {
    this.maxBatch = o.maxBatch ?? 500;
    this.turns = new TurnBatch((batch) => this.enqueue(batch), { maxItems: this.maxBatch });
  }

  /** Resolves once the item is written with acks=all; rejects after sendTimeoutMs of refusals, or on close. */
  send(item: QueueItem): Promise<void> {
    return this.turns.add(item);
  }

  private enqueue(batch: Array<Waiting<QueueItem, void>>): void {
    this.waiting.push(...batch);
    void this.loop();
  }

  private async loop(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, this.maxBatch);
        try {
          await this.sendWithRetry(batch.map((w) => w.value));
          batch.forEach((w) => w.resolve());
        } catch (e) {
          batch.forEach((w) => w.reject(e));
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async sendWithRetry(items: QueueItem[]): Promise<void> {
    const partition = this.o.sticky === false ? undefined : this.partition++;
    const messages = items.map((item) => ({
      topic: this.o.topic,
      key: Buffer.from(item.id),
      value: Buffer.from(JSON.stringify(item)),
      ...(partition === undefined ? {} : { partition }),
      // A traced item's context also as a record header (OpenTelemetry's messaging conventions).
      // (Keys as bytes: the client has no header serializer and writes keys as given.)
      ...(item.traceparent === undefined ? {} : { headers: new Map([[TRACEPARENT_KEY, Buffer.from(item.traceparent)]]) }),
    }));
    const deadline = Date.now() + this.o.sendTimeoutMs;
    for (let attempt = 1, pause = 100; ; attempt++, pause = Math.min(pause * 2, 2000)) {
      if (this.o.isClosed()) throw this.o.closedError();
      const producer = this.client();
      try {
        await this.o.beforeSend?.();
        await producer.send({ messages });
        return;
      } catch (e) {
        if (this.o.isClosed()) throw this.o.closedError();
        if (Date.now() + pause > deadline) throw e;
        this.o.onError?.(`sending ${items.length} item(s), attempt ${attempt}`, e);
        // After a broker dies the client keeps asking it from cached metadata; a re-send may duplicate (consumers dedup on id).
        producer.clearMetadata();
        if (producerOutOfStep(e)) {
          // A producer whose sequence numbers went out of step does not recover: a new one gets a new producer id.
          // Other failures (a leader that died, stale metadata) keep the producer: a new one would first have to
          // get an id from the active controller, which may be the broker that just died.
          this.producer = undefined;
          void producer.close().catch(() => {});
        }
        await sleep(pause);
      }
    }
  }

  private client(): Producer {
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

  /** Fails what waits for a send (offers in the current turn fail when their turn ends); closes the client. */
  async close(): Promise<void> {
    for (const w of this.waiting.splice(0)) w.reject(this.o.closedError());
    await this.producer?.close();
  }
}
