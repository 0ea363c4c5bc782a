import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, type TestContext } from 'node:test';
import { LogMirror, loggedByOf, type LogMirrorOptions, type MirrorSource, type MirrorSubscription } from '../../../src/engine/hazelcast/log-mirror.js';
import type { LogEntry } from '../../../src/engine/ports.js';

/**
 * An insert-only map as the members hold it, with entry-added events that can
 * be held back (in flight), dropped (missed while disconnected) or reordered.
 */
class FakeMap implements MirrorSource {
  readonly texts = new Map<string, string>();
  readonly calls = { subscribe: 0, stop: 0, values: 0, size: 0 };
  private readonly listeners = new Map<number, { onAdded: (t: string) => void; stale: boolean }>();
  private nextListener = 0;
  holdEvents = false;
  dropEvents = false;
  failSubscribe = false;
  /** What disruptions() answers; bump it as the engine would on a lost connection or a member leaving. */
  disrupted = 0;
  /** While set, values() waits for it before reading the map. */
  valuesGate: Promise<void> | undefined;
  /** Runs inside size(), after the size was taken and before it is answered. */
  sizeHook: (() => void) | undefined;
  private held: string[] = [];

  disruptions(): number {
    return this.disrupted;
  }

  put(id: string, ts: number, msg = `text of ${id}`, loggedBy = 'logging-1'): string {
    const text = JSON.stringify({ id, msg, loggedBy, loggedAt: new Date(ts).toISOString(), ts } satisfies LogEntry);
    if (this.texts.has(id)) return this.texts.get(id)!;
    this.texts.set(id, text);
    if (this.dropEvents) return text;
    if (this.holdEvents) this.held.push(text);
    else this.emit(text);
    return text;
  }

  /** Delivers held events, in the given order (default: as held). */
  release(order?: (held: string[]) => string[]): void {
    const held = order ? order(this.held) : this.held;
    this.held = [];
    for (const t of held) this.emit(t);
  }

  /** Members died with their backups: the map lost these entries. */
  lose(...ids: string[]): void {
    for (const id of ids) this.texts.delete(id);
  }

  /** Makes every current subscription stale, as a replaced client would. */
  replaceClient(): void {
    for (const l of this.listeners.values()) l.stale = true;
  }

  get listening(): number {
    return [...this.listeners.values()].filter((l) => !l.stale).length;
  }

  private emit(text: string): void {
    for (const l of this.listeners.values()) if (!l.stale) l.onAdded(text);
  }

  async subscribe(onAdded: (text: string) => void): Promise<MirrorSubscription> {
    this.calls.subscribe++;
    await sleep(1);
    if (this.failSubscribe) throw new Error('cluster unreachable');
    const id = this.nextListener++;
    const l = { onAdded, stale: false };
    this.listeners.set(id, l);
    return {
      stale: () => l.stale,
      stop: async () => {
        this.calls.stop++;
        this.listeners.delete(id);
      },
    };
  }

  async values(): Promise<Iterable<string>> {
    this.calls.values++;
    await sleep(1);
    if (this.valuesGate) await this.valuesGate;
    return [...this.texts.values()];
  }

  async size(): Promise<number> {
    this.calls.size++;
    const n = this.texts.size;
    this.sizeHook?.();
    await sleep(1);
    return n;
  }

  /** What a read must answer: every entry, ordered by (ts, id). */
  expected(): string[] {
    return [...this.texts.values()]
      .map((t) => JSON.parse(t) as LogEntry)
      .sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((e) => e.id);
  }
}

const ids = async (m: LogMirror) => (await m.read()).map((k) => (JSON.parse(k.text) as LogEntry).id);

/** A fake map and a mirror of it, closed when the test ends. */
function mirrored(t: TestContext, options?: LogMirrorOptions): { map: FakeMap; mirror: LogMirror } {
  const map = new FakeMap();
  const mirror = new LogMirror(map, options);
  t.after(() => mirror.close());
  return { map, mirror };
}

describe('LogMirror: a local copy of the log map, trusted only when its size matches the map', () => {
  it('fills from the map on the first read, then answers from events with one size() per read', async (t) => {
    const { map, mirror } = mirrored(t);
    for (let i = 0; i < 5; i++) map.put(`a${i}`, 1000 + i);
    assert.deepEqual(await ids(mirror), map.expected());
    assert.equal(map.calls.values, 1);
    map.put('b0', 2000);
    map.put('b1', 2001);
    assert.deepEqual(await ids(mirror), map.expected());
    assert.deepEqual(await ids(mirror), map.expected());
    assert.equal(map.calls.values, 1, 'events kept the copy complete: no more full fetches');
    assert.equal(map.calls.subscribe, 1);
  });

  it('a read right after a write whose event is still in flight still sees it (read-your-writes)', async (t) => {
    const { map, mirror } = mirrored(t);
    map.put('a', 1);
    await mirror.read();
    map.holdEvents = true;
    map.put('b', 2);
    assert.deepEqual(await ids(mirror), ['a', 'b'], 'fetched from the map, since the copy was one short');
    map.release();
    assert.deepEqual(await ids(mirror), ['a', 'b'], 'the late event adds nothing twice');
    assert.equal(mirror.size, 2);
  });

  it('events missed altogether (a disconnect) are made up by the next read', async (t) => {
    const { map, mirror } = mirrored(t);
    await mirror.read();
    map.dropEvents = true;
    map.put('x', 5);
    map.put('y', 6);
    map.dropEvents = false;
    assert.deepEqual(await ids(mirror), ['x', 'y']);
    map.put('z', 7);
    const before = map.calls.values;
    assert.deepEqual(await ids(mirror), ['x', 'y', 'z']);
    assert.equal(map.calls.values, before, 'complete again: back to answering from the copy');
  });

  it('keeps entry order when events arrive out of order, including equal timestamps', async (t) => {
    const { map, mirror } = mirrored(t);
    await mirror.read();
    map.holdEvents = true;
    map.put('m', 30);
    map.put('k', 10);
    map.put('c', 20);
    map.put('b', 20);
    map.put('a', 20);
    map.release((held) => [...held].reverse());
    map.holdEvents = false;
    assert.deepEqual(await ids(mirror), ['k', 'a', 'b', 'c', 'm']);
    assert.deepEqual(JSON.parse(await mirror.readJson()).map((e: LogEntry) => e.id), ['k', 'a', 'b', 'c', 'm']);
  });

  it('readJson is the whole log as one JSON array, renewed when an entry is added', async (t) => {
    const { map, mirror } = mirrored(t);
    const first = map.put('p', 1, 'quote " backslash \\ and ✓');
    assert.deepEqual(JSON.parse(await mirror.readJson()), [JSON.parse(first)]);
    map.put('q', 2);
    assert.deepEqual(
      (JSON.parse(await mirror.readJson()) as LogEntry[]).map((e) => e.id),
      ['p', 'q'],
    );
  });

  it('when the map lost entries, the copy starts again from the map', async (t) => {
    const { map, mirror } = mirrored(t);
    for (let i = 0; i < 4; i++) map.put(`e${i}`, i);
    await mirror.read();
    map.lose('e1', 'e2');
    map.dropEvents = true;
    map.put('n', 9);
    map.dropEvents = false;
    // The copy (4) is larger than the map (3): it holds entries the map no longer has.
    assert.deepEqual(await ids(mirror), ['e0', 'e3', 'n']);
  });

  it('a subscription whose client was replaced is made anew; its late events are not used', async (t) => {
    const { map, mirror } = mirrored(t);
    map.put('a', 1);
    await mirror.read();
    map.replaceClient();
    map.put('b', 2);
    assert.deepEqual(await ids(mirror), ['a', 'b']);
    assert.equal(map.calls.subscribe, 2);
    assert.equal(map.listening, 1);
    map.put('c', 3);
    const before = map.calls.values;
    assert.deepEqual(await ids(mirror), ['a', 'b', 'c']);
    assert.equal(map.calls.values, before, 'the new subscription delivers');
  });

  it('when the listener cannot be added, the read is answered from the map, and the next read tries again', async (t) => {
    const { map, mirror } = mirrored(t);
    map.put('a', 1);
    map.failSubscribe = true;
    assert.deepEqual(await ids(mirror), ['a']);
    map.failSubscribe = false;
    map.put('b', 2);
    assert.deepEqual(await ids(mirror), ['a', 'b']);
    assert.equal(map.calls.subscribe, 2);
    assert.equal(map.listening, 1);
  });

  it('counts the copy before asking the map: an event overtaking an earlier one during size() is not mistaken for completeness', async (t) => {
    const { map, mirror } = mirrored(t);
    map.put('a', 1);
    await mirror.read();
    map.holdEvents = true;
    map.put('b', 2); // stored and acknowledged, its event still in flight
    map.sizeHook = () => {
      map.sizeHook = undefined;
      map.holdEvents = false;
      map.put('c', 3); // stored after the size was taken; its event arrives first
    };
    assert.deepEqual(await ids(mirror), ['a', 'b', 'c']);
  });

  it('after a disruption (lost connection, member left) the copy is rebuilt, even when the counts happen to match', async (t) => {
    const { map, mirror } = mirrored(t);
    for (let i = 0; i < 4; i++) map.put(`e${i}`, i);
    await mirror.read();
    // A member died before its backup was in sync (e1 lost) while this client missed an event (x).
    map.lose('e1');
    map.dropEvents = true;
    map.put('x', 10);
    map.dropEvents = false;
    map.disrupted++;
    map.put('y', 11);
    // Copy: e0 e1 e2 e3 y (5); map: e0 e2 e3 x y (5).
    assert.deepEqual(await ids(mirror), map.expected());
    assert.deepEqual(await ids(mirror), ['e0', 'e2', 'e3', 'x', 'y']);
  });

  it('a rebuild asked for while a merge is fetching runs after it, not folded into it', async (t) => {
    const { map, mirror } = mirrored(t);
    for (let i = 0; i < 4; i++) map.put(`e${i}`, i);
    await mirror.read();
    map.holdEvents = true;
    map.put('n', 9); // copy 4, map 5: the next read merges
    let open!: () => void;
    map.valuesGate = new Promise((r) => (open = r));
    const merging = mirror.read();
    await sleep(10);
    map.lose('e1', 'e2'); // map 3 < copy 4: the next read rebuilds
    const rebuilding = mirror.read();
    await sleep(10);
    map.valuesGate = undefined;
    open();
    await merging;
    assert.deepEqual(
      (await rebuilding).map((k) => (JSON.parse(k.text) as LogEntry).id),
      ['e0', 'e3', 'n'],
    );
    assert.equal(map.calls.values, 3);
  });

  it('concurrent reads share one fetch and all see every entry', async (t) => {
    const { map, mirror } = mirrored(t);
    for (let i = 0; i < 50; i++) map.put(`c${i}`, i);
    const all = await Promise.all([1, 2, 3, 4].map(() => ids(mirror)));
    for (const got of all) assert.deepEqual(got, map.expected());
    assert.equal(map.calls.values, 1);
  });

  it('with no reads for idleMs it removes its listener and frees the copy; the next read starts again', async (t) => {
    const { map, mirror } = mirrored(t, { idleMs: 100 });
    map.put('a', 1);
    await mirror.read();
    assert.equal(map.listening, 1);
    await sleep(300);
    assert.equal(map.listening, 0);
    assert.equal(map.calls.stop, 1);
    assert.equal(mirror.size, 0);
    map.put('b', 2);
    assert.deepEqual(await ids(mirror), ['a', 'b']);
    assert.equal(map.listening, 1);
    assert.equal(map.calls.subscribe, 2);
  });

  it('reads more often than idleMs keep the copy', async (t) => {
    const { map, mirror } = mirrored(t, { idleMs: 200 });
    map.put('a', 1);
    for (let i = 0; i < 12; i++) {
      map.put(`b${i}`, 2 + i);
      assert.equal((await ids(mirror)).length, 2 + i);
      await sleep(60);
    }
    assert.equal(map.calls.values, 1, 'one fetch, then events only');
  });

  it('a read in flight when close() is called leaves no listener behind', async () => {
    const map = new FakeMap();
    map.put('a', 1);
    const mirror = new LogMirror(map);
    await mirror.read();
    map.replaceClient(); // the next read must subscribe again
    const reading = mirror.read();
    await mirror.close();
    await reading.catch(() => undefined);
    await sleep(5);
    assert.equal(map.listening, 0);
  });

  it('close() is idempotent and later reads are refused', async () => {
    const map = new FakeMap();
    const mirror = new LogMirror(map);
    await mirror.read();
    await mirror.close();
    await mirror.close();
    assert.equal(map.listening, 0);
    await assert.rejects(mirror.read(), /closed/);
    assert.throws(() => new LogMirror(map, { idleMs: 0 }), /idleMs/);
  });
});

describe('LogMirror: counts per logging instance and the newest entries, without fetching the log', () => {
  it('counts and the newest come from the copy: one size() per call, no values fetched once filled', async (t) => {
    const { map, mirror } = mirrored(t);
    for (let i = 0; i < 6; i++) map.put(`a${i}`, 1000 + i, 'x', i < 4 ? 'logging-1' : 'logging-2');
    assert.deepEqual(await mirror.countByLogger(), { 'logging-1': 4, 'logging-2': 2 });
    map.put('b0', 2000, 'x', 'logging-3');
    const values = map.calls.values;
    assert.deepEqual(await mirror.countByLogger(), { 'logging-1': 4, 'logging-2': 2, 'logging-3': 1 });
    assert.deepEqual(
      (await mirror.newest(3)).map((e) => e.id),
      ['b0', 'a5', 'a4'],
    );
    assert.equal((await mirror.newest(100)).length, 7);
    assert.equal(map.calls.values, values, 'answered from the copy');
    await assert.rejects(mirror.newest(0), RangeError);
  });

  it('events in flight are waited for, not fetched; events that never come are fetched', async (t) => {
    const { map, mirror } = mirrored(t);
    map.put('a', 1);
    await mirror.countByLogger();
    const values = map.calls.values;
    map.holdEvents = true;
    map.put('b', 2, 'x', 'logging-2');
    const counted = mirror.countByLogger();
    setImmediate(() => map.release());
    assert.deepEqual(await counted, { 'logging-1': 1, 'logging-2': 1 });
    assert.equal(map.calls.values, values, 'the late event arrived: nothing fetched');
    map.holdEvents = false;
    map.dropEvents = true;
    map.put('c', 3, 'x', 'logging-2');
    map.dropEvents = false;
    assert.deepEqual(await mirror.countByLogger(), { 'logging-1': 1, 'logging-2': 2 });
    assert.deepEqual(
      (await mirror.newest(1)).map((e) => e.id),
      ['c'],
    );
    assert.equal(map.calls.values, values + 1, 'the missed event was made up by one fetch');
  });

  it('when the map lost entries, the counts start again from the map', async (t) => {
    const { map, mirror } = mirrored(t);
    for (let i = 0; i < 4; i++) map.put(`e${i}`, i, 'x', i % 2 ? 'logging-2' : 'logging-1');
    await mirror.countByLogger();
    map.lose('e1', 'e3');
    map.dropEvents = true;
    map.put('n', 9, 'x', 'logging-3');
    map.dropEvents = false;
    assert.deepEqual(await mirror.countByLogger(), { 'logging-1': 2, 'logging-3': 1 });
  });

  it('loggedByOf reads the instance from the stored text, escapes included', () => {
    const text = (loggedBy: string) => JSON.stringify({ id: 'i', msg: '"loggedBy":"fake"', loggedBy, loggedAt: '', ts: 1 });
    assert.equal(loggedByOf(text('logging-1')), 'logging-1');
    assert.equal(loggedByOf(text('odd "name" \\ here')), 'odd "name" \\ here');
    assert.equal(loggedByOf('{"id":"x"}'), '?');
    assert.equal(loggedByOf('not json'), '?');
  });
});
