import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedEngine, whileBusy } from '../../src/engine/embedded/embedded-engine.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { QUEUE_PROMISES } from '../../src/engine/ports.js';
import { engineConfigWith, receiveAndDie } from '../helpers/consumer-process.js';
import { engineContract } from './contract.js';
import { leasedQueueContract } from './leased-queue-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const leaseMs = 1000;
engineContract('embedded (SQLite)', async () => new EmbeddedEngine({ dataDir: dir, queueCapacity: 50, leaseMs }), {
  queueCapacity: 50,
  leaseMs,
  consumerProcess: receiveAndDie(engineConfigWith({ kind: 'embedded', dataDir: dir, queueCapacity: 50, queueLeaseMs: leaseMs })),
});

// The queue contract the Kafka adapter passes too: each open is another process's client of the same file.
leasedQueueContract('embedded (SQLite)', {
  promises: QUEUE_PROMISES.embedded,
  open: async (name, o) => {
    const e = new EmbeddedEngine({ dataDir: dir, queueCapacity: o.capacity, leaseMs: o.leaseMs });
    return Object.assign(e.queue(name), { close: () => e.close() });
  },
  waitMs: 20_000,
});

const shared = new MemoryEngine(50, leaseMs);
engineContract('memory (test fake)', async () => shared, { queueCapacity: 50, leaseMs });

describe('embedded engine specifics', () => {
  it('a queue row that is not JSON is dropped, the rest of the batch is delivered', async () => {
    const engine = new EmbeddedEngine({ dataDir: dir });
    const q = engine.queue('with-a-bad-row');
    await q.offer({ id: 'good-1', msg: 'a', enqueuedAt: '' }, 100);
    const raw = new Database(engine.file);
    raw.prepare('INSERT INTO queue (name, body) VALUES (?, ?)').run('with-a-bad-row', '{not json');
    raw.close();
    await q.offer({ id: 'good-2', msg: 'b', enqueuedAt: '' }, 100);
    const got = await q.receive(10, 500);
    assert.deepEqual(got.map((d) => d.item.id), ['good-1', 'good-2']);
    await q.ack(got);
    assert.equal(await q.depth(), 0, 'the bad row is gone too: it would come back after every lease');
    await engine.close();
  });

  it('a queue file made before leases existed is upgraded, its items delivered', async () => {
    const old = mkdtempSync(join(dir, 'old-'));
    const raw = new Database(join(old, 'engine.db'));
    raw.exec(`CREATE TABLE queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, body TEXT NOT NULL);
      CREATE TABLE queue_size (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
      INSERT INTO queue (name, body) VALUES ('messages-queue', '{"id":"from-before","msg":"x","enqueuedAt":""}');
      INSERT INTO queue_size VALUES ('messages-queue', 1);`);
    raw.close();
    const engine = new EmbeddedEngine({ dataDir: old });
    const q = engine.queue('messages-queue');
    const got = await q.receive(10, 500);
    assert.deepEqual(got.map((d) => d.item.id), ['from-before']);
    await q.ack(got);
    assert.equal(await q.depth(), 0);
    await engine.close();
  });

  it('a log file made before the counts per logging instance existed is counted once, then kept counting', async () => {
    const old = mkdtempSync(join(dir, 'old-log-'));
    const raw = new Database(join(old, 'engine.db'));
    raw.exec(`CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (name, id));
      INSERT INTO log (name, id, body) VALUES
        ('messages-log', 'a', '{"id":"a","msg":"x","loggedBy":"logging-1","loggedAt":"","ts":1}'),
        ('messages-log', 'b', '{"id":"b","msg":"x","loggedBy":"logging-2","loggedAt":"","ts":2}'),
        ('messages-log', 'c', '{"id":"c","msg":"x","loggedBy":"logging-1","loggedAt":"","ts":3}'),
        ('other-log', 'a', '{"id":"a","msg":"x","loggedBy":"logging-1","loggedAt":"","ts":1}');`);
    raw.close();
    // Two processes opening the old file together: it is counted once.
    const [one, two] = [new EmbeddedEngine({ dataDir: old }), new EmbeddedEngine({ dataDir: old })];
    assert.deepEqual(await two.log('messages-log').countByLogger(), { 'logging-1': 2, 'logging-2': 1 });
    await one.log('messages-log').put({ id: 'd', msg: 'y', loggedBy: 'logging-2', loggedAt: '', ts: 4 });
    assert.deepEqual(await two.log('messages-log').countByLogger(), { 'logging-1': 2, 'logging-2': 2 });
    assert.equal(await two.log('messages-log').size(), 4);
    assert.equal(await two.log('other-log').size(), 1);
    await one.close();
    await two.close();
  });
});

describe('describe(): where the queue lives, as data', () => {
  it('embedded: the file, the depth and the items leased now', async () => {
    const engine = new EmbeddedEngine({ dataDir: dir, leaseMs: 60_000 });
    try {
      const q = engine.queue('described');
      for (let i = 0; i < 5; i++) assert.equal(await q.offer({ id: `d${i}`, msg: 'x', enqueuedAt: '' }, 100), true);
      const got = await q.receive(2, 500);
      assert.equal(got.length, 2);
      assert.deepEqual((await q.describe!()).details, { kind: 'embedded', queue: 'described', file: engine.file, depth: 5, leased: 2 });
      await q.ack(got.slice(0, 1));
      assert.deepEqual((await q.describe!()).details, { kind: 'embedded', queue: 'described', file: engine.file, depth: 4, leased: 1 });
    } finally {
      await engine.close();
    }
  });

  it('memory: the depth and the items leased now', async () => {
    const engine = new MemoryEngine(50, 60_000);
    const q = engine.queue('described');
    for (let i = 0; i < 3; i++) assert.equal(await q.offer({ id: `m${i}`, msg: 'x', enqueuedAt: '' }, 100), true);
    const got = await q.receive(1, 500);
    assert.deepEqual((await q.describe!()).details, { kind: 'memory', queue: 'described', depth: 3, leased: 1 });
    await q.ack(got);
    assert.deepEqual((await q.describe!()).details, { kind: 'memory', queue: 'described', depth: 2, leased: 0 });
  });
});

describe('embedded engine: opening a new file from several processes at once', () => {
  const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

  it('the set-up runs again while SQLite answers SQLITE_BUSY without waiting (seen when processes turn a new file to WAL together)', () => {
    let calls = 0;
    const t0 = Date.now();
    const v = whileBusy(() => {
      if (++calls < 4) throw busy();
      return 'set up';
    }, 5000);
    assert.equal(v, 'set up');
    assert.equal(calls, 4);
    assert.ok(Date.now() - t0 >= 5 + 10 + 20, 'it paused between attempts');
  });

  it('gives up with the last SQLITE_BUSY after the busy timeout, and passes any other error at once', () => {
    let calls = 0;
    assert.throws(() => whileBusy(() => (calls++, (() => { throw busy(); })()), 200), /database is locked/);
    assert.ok(calls > 1 && calls < 20, `tried again within the timeout, then gave up (${calls} calls)`);
    calls = 0;
    assert.throws(() => whileBusy(() => (calls++, (() => { throw new Error('disk I/O error'); })()), 5000), /disk I\/O error/);
    assert.equal(calls, 1);
  });
});
