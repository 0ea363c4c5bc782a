/**
 * This member's place in the consumer group: joins, reads the topic as a
 * stream, and recovers by itself when a broker dies (see client-fixes.ts
 * for what the client does then). Records and assignments go to the
 * callbacks; commits go through commit().
 */
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import { bounded } from '../../lib/bounded.js';
import { forceClose, guardUnknownBroker, quietStreamsOfClosedConsumers } from './client-fixes.js';

quietStreamsOfClosedConsumers();

/** Consumer timing: one object, given both to the client and to each consume(). */
export interface ConsumerTiming {
  /** The group drops a member that stops heartbeating after this (the broker bounds it: group.min.session.timeout.ms). */
  sessionTimeout: number;
  rebalanceTimeout: number;
  heartbeatInterval: number;
  /** Longest a fetch waits for minBytes: a record offered to an idle queue is handed out within it, and close() waits no longer. */
  maxWaitTime: number;
  minBytes: number;
}

export function consumerTiming(sessionTimeoutMs: number, o: Partial<Omit<ConsumerTiming, 'sessionTimeout'>> = {}): ConsumerTiming {
  return {
    sessionTimeout: sessionTimeoutMs,
    rebalanceTimeout: o.rebalanceTimeout ?? Math.max(sessionTimeoutMs, 20_000),
    // A third of the session (the client's rule of thumb), at most 1 s.
    heartbeatInterval: o.heartbeatInterval ?? Math.min(1000, Math.floor(sessionTimeoutMs / 3)),
    maxWaitTime: o.maxWaitTime ?? 500,
    minBytes: o.minBytes ?? 1,
  };
}

export type Record = Message<Buffer, Buffer, Buffer, Buffer>;

export interface ConsumerSessionOptions {
  brokers: readonly string[];
  clientId: string;
  groupId: string;
  topic: string;
  timing: ConsumerTiming;
  onRecord: (m: Record) => void;
  /** The group's assignment of this topic's partitions to this member, after each join. */
  onAssigned: (partitions: number[]) => void;
  /** The group is rebalancing and this member rejoins: what is acknowledged should be committed now, while the old assignment still holds. */
  onRebalance?: () => void;
  /** Runs before the first join (creating the topic when missing). */
  beforeJoin?: () => Promise<void>;
  onError?: (what: string, err: unknown) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ConsumerSession {
  private consumer?: Consumer;
  private stream?: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
  private joining?: Promise<void>;
  private closed = false;
  /** Bumped by every start(): a join loop of an earlier generation stops at its next step instead of racing the new one. */
  private generation = 0;
  private heartbeatFailures = 0;
  private streamFailures = 0;
  private commitFailures = 0;

  constructor(private readonly o: ConsumerSessionOptions) {}

  /** Starts (once) reading the topic as a member of the group; retries until it works or the session closes. */
  start(): void {
    if (this.joining) return;
    const gen = ++this.generation;
    // A loop replaced by a later start() (a rejoin while this one waits to retry) must not go on: two loops
    // consuming through one consumer, or one closing the consumer the other just made current, end in the
    // client's "Client is closed" on the live stream.
    const current = () => !this.closed && gen === this.generation;
    this.joining = (async () => {
      await this.o.beforeJoin?.().catch((e: unknown) => this.o.onError?.('creating the topic', e));
      for (let attempt = 1, pause = 200; current(); attempt++, pause = Math.min(pause * 2, 3000)) {
        const consumer = this.client();
        try {
          const stream = await this.consumeBounded(consumer);
          // Every error is heard from the start (unheard, one is thrown: a stream closed unused below still fails
          // its start with "Client is closed" when its consumer was closed meanwhile); only the live stream's acts.
          stream.on('error', (e: Error) => this.onStreamError(stream, e));
          if (!current() || consumer !== this.consumer) {
            await bounded(stream.close(), 5000);
            return;
          }
          this.stream = stream;
          stream.on('data', (m: Record) => {
            if (stream !== this.stream) return;
            this.streamFailures = 0;
            this.o.onRecord(m);
          });
          return;
        } catch (e) {
          if (!current()) return;
          // After a broker dies, or the group's coordinator moved (a leader moved back to its preferred replica), the
          // client retries the old one from cached metadata and a cached coordinator (`joinGroup failed`, "not the
          // correct coordinator"); a second consume() through the same consumer was seen to hang for good. Start over
          // with a new consumer, which looks the coordinator up again.
          consumer.clearMetadata();
          if (consumer === this.consumer) {
            this.consumer = undefined;
            void bounded(forceClose(consumer), 5000);
          }
          this.o.onError?.(`joining group ${this.o.groupId}, attempt ${attempt}`, e);
          await sleep(pause);
        }
      }
    })();
  }

  /**
   * consume(), bounded: a join that has not answered within the rebalance timeout plus 10 s is given up (the
   * catch above starts over with a new consumer); a stream it yields late is closed unused.
   */
  private consumeBounded(consumer: Consumer): Promise<MessagesStream<Buffer, Buffer, Buffer, Buffer>> {
    const started = consumer.consume({ topics: [this.o.topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false, ...this.o.timing });
    const limitMs = this.o.timing.rebalanceTimeout + 10_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        started.then(
          (stream) => {
            stream.on('error', () => {});
            void bounded(stream.close(), 5000);
          },
          () => {},
        );
        reject(new Error(`joining the group took longer than ${limitMs} ms`));
      }, limitMs);
    });
    return Promise.race([started, late]).finally(() => clearTimeout(timer));
  }

  pause(): void {
    this.stream?.pause();
  }

  /** Resumes a paused stream. */
  resume(): void {
    if (this.stream?.isPaused()) this.stream.resume();
  }

  /** Commits offsets (the next offset to read, per partition); a failure is thrown, and from the second in a row the member joins again. */
  async commit(offsets: Array<{ partition: number; offset: bigint }>): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) throw new Error('not a member of the group yet');
    try {
      await consumer.commit({ offsets: offsets.map((o) => ({ topic: this.o.topic, partition: o.partition, offset: o.offset, leaderEpoch: -1 })) });
      this.commitFailures = 0;
    } catch (e) {
      if (!this.closed) {
        consumer.clearMetadata();
        if (consumer === this.consumer && ++this.commitFailures >= 2) this.rejoin('commits failing', e);
      }
      throw e;
    }
  }

  private client(): Consumer {
    if (this.consumer) return this.consumer;
    const consumer = new Consumer({
      clientId: `${this.o.clientId}-consumer`,
      groupId: this.o.groupId,
      bootstrapBrokers: [...this.o.brokers],
      autocommit: false,
      retries: 3,
      retryDelay: 250,
      ...this.o.timing,
    });
    guardUnknownBroker(consumer);
    // A failed rejoin is emitted as 'error': unheard, it would throw.
    consumer.on('error', (e: Error) => this.o.onError?.('consumer', e));
    consumer.on('consumer:group:join', (payload) => {
      if (consumer !== this.consumer) return;
      const mine: number[] = [];
      for (const a of payload.assignments ?? []) if (a.topic === this.o.topic) mine.push(...a.partitions);
      this.o.onAssigned(mine);
    });
    consumer.on('consumer:group:rebalance', () => {
      if (consumer === this.consumer) this.o.onRebalance?.();
    });
    consumer.on('consumer:heartbeat:error', (payload) => {
      if (consumer !== this.consumer) return;
      // The client never looks the coordinator up again once it has one: when that broker died, only a new consumer finds the new one.
      if (++this.heartbeatFailures >= 3) this.rejoin('heartbeats failing', payload.error);
    });
    consumer.on('consumer:heartbeat:end', () => {
      if (consumer === this.consumer) this.heartbeatFailures = 0;
    });
    this.heartbeatFailures = 0;
    this.commitFailures = 0;
    this.consumer = consumer;
    return consumer;
  }

  /**
   * Drops the consumer and joins the group with a new one (a new member; the
   * old one is removed by its leave, or by the session timeout when the leave
   * cannot reach the coordinator). What was read and leased stays: the new
   * assignment prunes what this member no longer holds.
   */
  private rejoin(why: string, err: unknown): void {
    if (this.closed || !this.consumer) return;
    this.o.onError?.(`${why}; joining again with a new consumer`, err);
    const old = this.consumer;
    const oldStream = this.stream;
    this.consumer = undefined;
    this.stream = undefined;
    this.joining = undefined;
    void (async () => {
      await bounded(oldStream?.close(), 5000);
      await bounded(forceClose(old), 5000);
    })();
    this.start();
  }

  /** A stream that failed (e.g. `Listing offsets failed` after a broker died) ends; a new one continues from the committed offsets. */
  private onStreamError(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>, e: Error): void {
    if (this.stream !== stream || this.closed) return;
    this.stream = undefined;
    // A second failure with no record read in between is the cached coordinator (or partition leader) being gone for good.
    if (++this.streamFailures >= 2) {
      this.streamFailures = 0;
      void bounded(stream.close(), 5000);
      this.rejoin('the consumer stream failed again', e);
      return;
    }
    this.o.onError?.('the consumer stream failed; consuming again', e);
    void stream.close().catch(() => {});
    this.consumer?.clearMetadata();
    this.joining = undefined;
    this.start();
  }

  /** Closes the stream, then the consumer (which leaves the group: its partitions move at once). Each step bounded. */
  async close(): Promise<void> {
    this.closed = true;
    await bounded(this.stream?.close(), 5000);
    await bounded(this.consumer?.close(), 5000);
  }
}
