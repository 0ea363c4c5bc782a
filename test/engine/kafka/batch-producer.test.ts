import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Producer } from '@platformatic/kafka';
import { BatchProducer } from '../../../src/engine/kafka/batch-producer.js';
import type { QueueItem } from '../../../src/engine/ports.js';

interface Sent {
  partition: number | undefined;
  ids: string[];
  settled: boolean;
  settle: (err?: Error) => void;
}

/** A producer that holds each send until the test settles it, and records what was in flight. */
class FakeProducer {
  readonly sends: Sent[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** A partition seen with two sends in flight at once. */
  sharedPartition?: number;
  closed = false;
  private readonly busy = new Set<number>();
  constructor(private readonly partitions = 6) {}

  on(): this {
    return this;
  }
  clearMetadata(): void {}
  metadata(): Promise<{ topics: Map<string, { partitionsCount: number }> }> {
    return Promise.resolve({ topics: new Map([['t', { partitionsCount: this.partitions }]]) });
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  send(o: { messages: Array<{ key: Buffer; partition?: number }> }): Promise<void> {
    const partition = o.messages[0]?.partition;
    assert.ok(o.messages.every((m) => m.partition === partition), 'a send goes to one partition');
    if (partition !== undefined) {
      if (this.busy.has(partition)) this.sharedPartition = partition;
      this.busy.add(partition);
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<void>((resolve, reject) => {
      const sent: Sent = {
        partition,
        ids: o.messages.map((m) => m.key.toString()),
        settled: false,
        settle: (err) => {
          if (sent.settled) return;
          sent.settled = true;
          this.inFlight--;
          if (partition !== undefined) this.busy.delete(partition);
          if (err) reject(err);
          else resolve();
        },
      };
      this.sends.push(sent);
    });
  }
}

const item = (id: string): QueueItem => ({ id, msg: id, enqueuedAt: new Date(0).toISOString() });
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Waits for cond, turn by turn, then in 5 ms steps (a retry pauses 100 ms), for at most 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let i = 0; Date.now() < deadline; i++) {
    if (cond()) return;
    await (i < 50 ? turn() : new Promise((r) => setTimeout(r, 5)));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function setup(o: { maxInFlight?: number; partitions?: number; sticky?: boolean; fakes?: FakeProducer[] } = {}) {
  const fakes = o.fakes ?? [];
  const bp = new BatchProducer({
    brokers: ['127.0.0.1:1'],
    clientId: 'test',
    topic: 't',
    sendTimeoutMs: 60_000,
    maxInFlight: o.maxInFlight,
    ...(o.sticky === undefined ? {} : { sticky: o.sticky }),
    makeProducer: () => {
      const f = new FakeProducer(o.partitions);
      fakes.push(f);
      return f as unknown as Producer;
    },
    isClosed: () => false,
    closedError: () => new Error('closed'),
  });
  return { bp, fakes, fake: () => fakes[fakes.length - 1]! };
}

describe('batch producer: sends in flight', () => {
  it('one send at a time by default: what arrives meanwhile goes in the next send', async () => {
    const { bp, fake } = setup();
    const first = bp.send(item('a'));
    await until(() => fake()?.sends.length === 1, 'the first send');
    const later = [bp.send(item('b')), bp.send(item('c'))];
    await turn();
    await turn();
    assert.equal(fake().sends.length, 1, 'no second send while one is in flight');
    fake().sends[0]!.settle();
    await first;
    await until(() => fake().sends.length === 2, 'the second send');
    assert.deepEqual(fake().sends[1]!.ids, ['b', 'c']);
    fake().sends[1]!.settle();
    await Promise.all(later);
    assert.equal(fake().maxInFlight, 1);
  });

  it('up to maxInFlight sends at once, never two on one partition, each partition in turn', async () => {
    const { bp, fake } = setup({ maxInFlight: 3, partitions: 3 });
    const done: Array<Promise<void>> = [];
    // The first send learns the partition count; then one batch per turn, while three are in flight.
    done.push(bp.send(item('0')));
    await until(() => fake()?.sends.length === 1, 'the first send');
    for (let i = 1; i < 4; i++) {
      done.push(bp.send(item(String(i))));
      await turn();
      await turn();
    }
    await until(() => fake().sends.length === 3, 'three sends in flight');
    assert.equal(fake().inFlight, 3);
    assert.equal(fake().sends.length, 3, 'a fourth waits for a free slot');
    const partitions = fake().sends.map((s) => s.partition);
    assert.equal(new Set(partitions).size, 3, `three distinct partitions, got ${partitions.join(',')}`);
    // Answers out of order: the second first; the waiting batch goes out on a partition with nothing in flight.
    fake().sends[1]!.settle();
    await until(() => fake().sends.length === 4, 'the fourth send');
    const busy = new Set([fake().sends[0]!.partition, fake().sends[2]!.partition]);
    assert.ok(!busy.has(fake().sends[3]!.partition), 'not on a partition with a send in flight');
    for (const s of fake().sends) if (s !== fake().sends[1]) s.settle();
    await Promise.all(done);
    assert.equal(fake().maxInFlight, 3);
    assert.equal(fake().sharedPartition, undefined);
  });

  it('no more sends in flight than the topic has partitions', async () => {
    const { bp, fake } = setup({ maxInFlight: 6, partitions: 2 });
    const done = [bp.send(item('0'))];
    await until(() => fake()?.sends.length === 1, 'the first send');
    for (let i = 1; i < 5; i++) {
      done.push(bp.send(item(String(i))));
      await turn();
      await turn();
    }
    await until(() => fake().sends.length === 2, 'two sends');
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(fake().sends.length, 2);
    let finished = false;
    const all = Promise.all(done).then(() => (finished = true));
    while (!finished) {
      for (const s of fake().sends) s.settle();
      await until(() => finished || fake().inFlight > 0, 'the next sends');
    }
    await all;
    assert.deepEqual(fake().sends.flatMap((s) => s.ids).sort(), ['0', '1', '2', '3', '4']);
    assert.ok(fake().maxInFlight <= 2, `at most 2 in flight, saw ${fake().maxInFlight}`);
    assert.equal(fake().sharedPartition, undefined);
  });

  it('a retried send keeps its partition; the items of a failed send come back in order', async () => {
    const { bp, fake } = setup({ maxInFlight: 2, partitions: 4 });
    const a = bp.send(item('a'));
    await until(() => fake()?.sends.length === 1, 'the first send');
    const p = fake().sends[0]!.partition;
    fake().sends[0]!.settle(new Error('NOT_LEADER_OR_FOLLOWER'));
    await until(() => fake().sends.length === 2, 'the retry');
    assert.equal(fake().sends[1]!.partition, p);
    assert.deepEqual(fake().sends[1]!.ids, ['a']);
    fake().sends[1]!.settle();
    await a;
  });

  it('a producer out of step is replaced; a send in flight on it to another partition is answered there, then it is closed', async () => {
    const fakes: FakeProducer[] = [];
    const { bp } = setup({ maxInFlight: 2, partitions: 4, fakes });
    const a = bp.send(item('a'));
    await until(() => fakes[0]?.sends.length === 1, 'the first send');
    await turn();
    const b = bp.send(item('b'));
    await until(() => fakes[0]!.sends.length === 2, 'two in flight');
    const outOfStep = Object.assign(new Error('out of order'), { apiId: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    fakes[0]!.sends[0]!.settle(outOfStep);
    await until(() => fakes.length === 2 && fakes[1]!.sends.length === 1, 'a new producer sending');
    assert.deepEqual(fakes[1]!.sends[0]!.ids, ['a']);
    assert.equal(fakes[0]!.closed, false, 'not closed under the send still in flight');
    fakes[0]!.sends[1]!.settle();
    await b;
    await until(() => fakes[0]!.closed, 'the old producer closed once its last send was answered');
    fakes[1]!.sends[0]!.settle();
    await a;
    assert.equal(fakes.length, 2, 'one replacement');
    assert.equal(fakes[1]!.closed, false);
  });

  it('a send that gives up retires its producer: the next send starts on a new one', async () => {
    const fakes: FakeProducer[] = [];
    const bp = new BatchProducer({
      brokers: ['127.0.0.1:1'],
      clientId: 'test',
      topic: 't',
      sendTimeoutMs: 150,
      maxInFlight: 1,
      makeProducer: () => {
        const f = new FakeProducer(2);
        fakes.push(f);
        return f as unknown as Producer;
      },
      isClosed: () => false,
      closedError: () => new Error('closed'),
    });
    const a = bp.send(item('a'));
    const failed = a.then(() => undefined, (e: Error) => e);
    for (let i = 0; (await Promise.race([failed, Promise.resolve('pending')])) === 'pending'; i++) {
      await until(() => fakes[0]?.sends.some((s) => !s.settled) === true, 'an attempt');
      for (const s of fakes[0]!.sends) s.settle(new Error('REQUEST_TIMED_OUT'));
      await turn();
    }
    assert.match(String(await failed), /REQUEST_TIMED_OUT/);
    assert.ok(fakes[0]!.closed, 'the producer that gave up is closed');
    const b = bp.send(item('b'));
    await until(() => fakes[1]?.sends.length === 1, 'the next send on a new producer');
    fakes[1]!.sends[0]!.settle();
    await b;
  });

  it('partitioned by key (sticky off): one send at a time whatever maxInFlight says', async () => {
    const { bp, fake } = setup({ maxInFlight: 4, sticky: false });
    const done = [bp.send(item('a'))];
    await until(() => fake()?.sends.length === 1, 'the first send');
    done.push(bp.send(item('b')));
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(fake().sends.length, 1);
    assert.equal(fake().sends[0]!.partition, undefined);
    fake().sends[0]!.settle();
    await until(() => fake().sends.length === 2, 'the next send');
    fake().sends[1]!.settle();
    await Promise.all(done);
  });

  it('refuses a maxInFlight below 1', () => {
    assert.throws(() => setup({ maxInFlight: 0 }), /maxInFlight must be an integer ≥ 1/);
  });
});
