import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { findFreeBasePort, startCluster, type LocalCluster } from '../../src/engine/hazelcast/cluster.js';
import { HazelcastEngine } from '../../src/engine/hazelcast/hazelcast-engine.js';
import { isEngineUnavailable } from '../../src/engine/ports.js';
import { hazelcastSkip } from '../helpers/hazelcast-gate.js';
import { engineConfigWith, receiveAndDie } from '../helpers/consumer-process.js';
import { engineContract } from './contract.js';

// Real members: needs java and the jar from `npm run hazelcast:fetch`. Without
// them the suite is skipped, unless REQUIRE_HAZELCAST=1 makes that a failure.
const skip = hazelcastSkip();

const clusterName = `contract-${randomUUID().slice(0, 8)}`;
let cluster: LocalCluster | undefined;

before(async () => {
  if (skip) return;
  const t0 = Date.now();
  // Away from 5701 so a cluster the user runs by hand is left alone; a random
  // start so concurrent test runs rarely race for the same ports.
  const basePort = await findFreeBasePort(3, 15701 + 3 * Math.floor(Math.random() * 300));
  cluster = await startCluster({ members: 3, basePort, clusterName });
  console.log(`# 3 Hazelcast members up in ${Date.now() - t0} ms on ${cluster.addresses.join(', ')}`);
});

after(async () => {
  await cluster?.stop();
});

const leaseMs = 1500;
const ledgerScanMs = 250;
const engine = (preferred = 0) =>
  new HazelcastEngine({
    members: cluster!.addresses,
    clusterName,
    preferredMember: cluster!.addresses[preferred],
    connectTimeoutMs: 10_000,
    leaseMs,
    ledgerScanMs,
  });

let clients = 0;
engineContract('hazelcast (3 members)', async () => engine(clients++ % 3), {
  queueCapacity: 50,
  skip,
  burst: 600,
  leaseMs,
  // The reconciler offers an item again two scans after its lease, when the queue cannot still hold it.
  redeliverySlackMs: 8 * ledgerScanMs + 3000,
  // A consumer in another process: the cluster is only known once it runs.
  consumerProcess: (queue, n) =>
    receiveAndDie(engineConfigWith({ kind: 'hazelcast', members: cluster!.addresses, clusterName, connectTimeoutMs: 10_000, queueLeaseMs: leaseMs, ledgerScanMs }))(queue, n),
});

describe('hazelcast engine: traced items', { skip }, () => {
  it('a traced item says which member held the queue; an untraced one says nothing', async () => {
    const e = engine(0);
    after(() => e.close());
    const q = e.queue(`q-${randomUUID()}`);
    const traceparent = `00-${randomUUID().replaceAll('-', '')}-${randomUUID().replaceAll('-', '').slice(0, 16)}-01`;
    await q.offer({ id: 'traced', msg: 'm', enqueuedAt: new Date().toISOString(), traceparent }, 1000);
    await q.offer({ id: 'plain', msg: 'm', enqueuedAt: new Date().toISOString() }, 1000);
    const ds = await q.receive(2, 5000);
    assert.deepEqual(ds.map((d) => d.item.id), ['traced', 'plain']);
    const from = ds[0]!.from ?? '';
    assert.match(from, /^member /);
    assert.ok(cluster!.addresses.includes(from.slice('member '.length)), `${from} is one of ${cluster!.addresses.join(', ')}`);
    assert.equal(ds[1]!.from, undefined);
    await q.ack(ds);
  });
});

describe('hazelcast engine: connection handling', { skip }, () => {
  it('fails with a clear error when the cluster is unreachable, and close stays bounded', async () => {
    const lonely = new HazelcastEngine({ members: ['127.0.0.1:1'], clusterName: 'nobody-home', connectTimeoutMs: 500 });
    const t0 = Date.now();
    await assert.rejects(lonely.ping(), (e: unknown) => {
      assert.ok(isEngineUnavailable(e));
      assert.match((e as Error).message, /nobody-home/);
      assert.match((e as Error).message, /127\.0\.0\.1:1/);
      return true;
    });
    await assert.rejects(lonely.queue('q').depth(), /unreachable/);
    assert.ok(Date.now() - t0 < 5000, 'unreachable errors should come within the connect timeout');
    const t1 = Date.now();
    await lonely.close();
    await lonely.close();
    assert.ok(Date.now() - t1 < 6000);
  });

  it('a wrong cluster name is reported as unreachable', async () => {
    const wrong = new HazelcastEngine({ members: cluster!.addresses, clusterName: `not-${clusterName}`, connectTimeoutMs: 1000 });
    try {
      await assert.rejects(wrong.ping(), /unreachable/);
    } finally {
      await wrong.close();
    }
  });
});

describe('hazelcast log reads: a local copy kept by map events', { skip }, () => {
  it('a read through one client includes what another client stored just before, every time', async () => {
    const writer = engine(0);
    const reader = engine(1);
    try {
      const name = `log-${randomUUID()}`;
      const w = writer.log(name);
      const r = reader.log(name);
      assert.deepEqual(await r.list(), []);
      const stored: string[] = [];
      for (let i = 0; i < 150; i++) {
        const id = `m${String(i).padStart(3, '0')}`;
        await w.put({ id, msg: `msg ${i}`, loggedBy: 'writer', loggedAt: new Date().toISOString(), ts: 1000 + i });
        stored.push(id);
        // Alternate the three whole-log reads; each must already hold the entry just stored.
        const got =
          i % 3 === 0
            ? (await r.list()).map((e) => e.id)
            : i % 3 === 1
              ? (JSON.parse(await r.listJson()) as Array<{ id: string }>).map((e) => e.id)
              : (await r.page(1000)).entries.map((e) => e.id);
        assert.deepEqual(got, stored, `read ${i} after storing ${id}`);
      }
      // A burst stored concurrently, then read at once.
      await Promise.all(
        Array.from({ length: 300 }, (_, i) => w.put({ id: `n${String(i).padStart(3, '0')}`, msg: 'burst', loggedBy: 'writer', loggedAt: '', ts: 5000 + i })),
      );
      const after = await r.list();
      assert.equal(after.length, 450);
      assert.deepEqual(
        after.map((e) => e.ts),
        after.map((e) => e.ts).sort((a, b) => a - b),
      );
      const p = await r.page(100, `${after[199]!.ts}:${after[199]!.id}`);
      assert.deepEqual(
        p.entries.map((e) => e.id),
        after.slice(200, 300).map((e) => e.id),
      );
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });
});

describe('local cluster: kill -9 the member owning a queue', { skip }, () => {
  it('the queue keeps its items (backup-count 1) and the member rejoins on its port', async () => {
    const c = cluster!;
    const e = engine(0);
    try {
      const name = `q-${randomUUID()}`;
      const q = e.queue(name);
      for (let i = 0; i < 20; i++) assert.equal(await q.offer({ id: `k${i}`, msg: 'x', enqueuedAt: '' }, 1000), true);
      const owner = await e.queueOwner(name);
      assert.ok(owner, 'the client should know the partition owner');
      const victim = c.indexOf(owner);
      assert.ok(victim >= 0, `owner ${owner} is one of ${c.addresses.join(', ')}`);
      await c.waitForSafe();
      // What ps and the dashboard show: every member, the cluster safe, the owner by its member number (so kill-member N
      // can target it) and, with three members up, the two that may hold its backup.
      const before = (await q.describe!()).details;
      assert.equal(before.kind, 'hazelcast');
      if (before.kind !== 'hazelcast') return;
      assert.deepEqual(before.members.map((m) => [m.number, m.address, m.up]), c.addresses.map((a, i) => [i + 1, a, true]));
      assert.equal(before.safe, true);
      assert.equal(before.migrationsPending, 0);
      assert.equal(before.owner, victim + 1);
      assert.equal(before.backup, undefined);
      assert.deepEqual(before.backupAmong, [1, 2, 3].filter((n) => n !== victim + 1));

      await c.killMember(victim, 'SIGKILL');
      assert.equal(c.member(victim).running, false);
      // The backup is promoted; the client retries until the partition table says so.
      assert.equal(await q.depth(), 20);
      const got: string[] = [];
      while (got.length < 20) {
        const ds = await q.receive(20 - got.length, 2000);
        assert.ok(ds.length > 0, `only ${got.length} of 20 came back`);
        got.push(...ds.map((d) => d.item.id));
        await q.ack(ds);
      }
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `k${i}`));
      assert.notEqual(await e.queueOwner(name), owner);
      // The killed member shows as down and no longer owns the queue; with two members up, the backup is the other one.
      let d = (await q.describe!()).details;
      for (const end = Date.now() + 60_000; Date.now() < end; ) {
        if (d.kind === 'hazelcast' && !d.members[victim]!.up && d.owner !== undefined && d.owner !== victim + 1 && d.backup !== undefined) break;
        await new Promise((r) => setTimeout(r, 250));
        d = (await q.describe!()).details;
      }
      assert.equal(d.kind, 'hazelcast');
      if (d.kind !== 'hazelcast') return;
      assert.equal(d.members[victim]!.up, false);
      assert.notEqual(d.owner, victim + 1);
      assert.deepEqual([d.owner, d.backup].sort(), [1, 2, 3].filter((n) => n !== victim + 1));

      await c.startMember(victim);
      assert.equal(c.member(victim).running, true);
      assert.equal(c.member(victim).seesMembers, 3);
      await e.ping();
    } finally {
      await e.close();
    }
  });
});
