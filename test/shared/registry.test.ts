import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { listInstances, RegistryMembership, REGISTRY_MAP, type InstanceRecord } from '../../src/shared/registry.js';
import { eventually, registerInstance, silentLogger } from '../helpers/fakes.js';

const me = { service: 'logging' as const, instance: 'logging-1', url: 'http://127.0.0.1:7001', pid: 4242, startedAt: '2026-01-01T00:00:00.000Z' };

function setup(ttlMs: number) {
  const engine = new MemoryEngine();
  const kv = engine.kv<InstanceRecord>(REGISTRY_MAP);
  const membership = new RegistryMembership(kv, me, ttlMs, silentLogger());
  return { engine, kv, membership };
}

describe('RegistryMembership', () => {
  test('start writes the entry with a heartbeat and the TTL; it is renewed while it runs', async (t) => {
    const { kv, membership } = setup(300);
    t.after(() => membership.stop());
    membership.start();
    membership.start(); // twice is harmless
    assert.ok(await eventually(() => membership.registered), 'registered');
    const first = await kv.get('logging/logging-1');
    assert.ok(first);
    assert.deepEqual({ ...first, heartbeatAt: undefined }, { ...me, ttlMs: 300, heartbeatAt: undefined });
    assert.ok(Math.abs(Date.parse(first.heartbeatAt) - Date.now()) < 5000);
    // Renewed every third of the TTL (at least every 100 ms): a later heartbeat replaces it.
    const renewed = await eventually(async () => {
      const r = await kv.get('logging/logging-1');
      return r && r.heartbeatAt !== first.heartbeatAt ? r : undefined;
    }, 5000);
    assert.ok(renewed, 'the heartbeat was renewed');
    assert.ok(Date.parse(renewed.heartbeatAt) > Date.parse(first.heartbeatAt));
  });

  test('a failing heartbeat unregisters it with the reason; the next good one registers it again', async (t) => {
    const { engine, membership } = setup(300);
    t.after(() => membership.stop());
    membership.start();
    assert.ok(await eventually(() => membership.registered));
    engine.down = true;
    assert.ok(await eventually(() => !membership.registered, 5000), 'a failed heartbeat counts as not registered');
    assert.equal(membership.lastError, 'memory engine is down');
    engine.down = false;
    assert.ok(await eventually(() => membership.registered, 5000), 'registered again');
    assert.equal(membership.lastError, undefined);
  });

  test('renew() beats at once, outside the schedule; nothing before start or after stop', async (t) => {
    // A TTL of a minute: the scheduled heartbeat comes only every 20 s.
    const { engine, kv, membership } = setup(60_000);
    t.after(() => membership.stop());
    await membership.renew();
    assert.equal(await kv.get('logging/logging-1'), undefined, 'not started: no entry');
    engine.down = true;
    membership.start();
    assert.ok(await eventually(() => membership.lastError !== undefined, 5000), 'the first heartbeat failed');
    engine.down = false;
    await membership.renew();
    assert.equal(membership.registered, true, 'registered by the renewal, not 20 s later');
    assert.ok(await kv.get('logging/logging-1'));
    await membership.stop();
    await membership.renew();
    assert.equal(await kv.get('logging/logging-1'), undefined, 'stopped: renew writes nothing back');
  });

  test('stop removes the entry at once, is safe twice, and no heartbeat writes it back', async () => {
    const { kv, membership } = setup(300);
    membership.start();
    assert.ok(await eventually(() => membership.registered));
    await membership.stop();
    await membership.stop();
    assert.equal(membership.registered, false);
    assert.equal(await kv.get('logging/logging-1'), undefined);
    // Longer than a heartbeat period: nothing comes back.
    const back = await eventually(async () => (await kv.get('logging/logging-1')) !== undefined, 400);
    assert.equal(back, false);
  });

  test('an entry whose instance stopped renewing expires by its TTL', async () => {
    const engine = new MemoryEngine();
    const kv = engine.kv<InstanceRecord>(REGISTRY_MAP);
    // Written once, as by an instance killed right after: no stop, no heartbeat.
    await registerInstance(engine, 'logging', 'killed', 'http://127.0.0.1:7009', 200);
    assert.equal((await listInstances(kv)).length, 1);
    assert.ok(await eventually(async () => (await kv.get('logging/killed')) === undefined, 5000), 'gone within its TTL');
    assert.deepEqual(await listInstances(kv), []);
  });
});

describe('listInstances', () => {
  const at = (iso: string) => Date.parse(iso);
  const entry = (service: InstanceRecord['service'], instance: string, heartbeatAt: string, ttlMs: number): InstanceRecord => ({
    service,
    instance,
    url: `http://${instance}.test`,
    pid: 1,
    startedAt: heartbeatAt,
    heartbeatAt,
    ttlMs,
  });

  test('leaves out an entry past heartbeatAt + ttlMs that the engine has not expired yet; keeps one without a TTL', async () => {
    const kv = new MemoryEngine().kv<InstanceRecord>(REGISTRY_MAP);
    // Held by the engine without expiry, as Hazelcast holds an entry until its whole-second expiry.
    await kv.set('logging/fresh', entry('logging', 'fresh', '2026-01-01T00:00:09.000Z', 3000));
    await kv.set('logging/stale', entry('logging', 'stale', '2026-01-01T00:00:05.000Z', 3000));
    await kv.set('logging/edge', entry('logging', 'edge', '2026-01-01T00:00:07.000Z', 3000));
    await kv.set('logging/no-ttl', entry('logging', 'no-ttl', '2025-01-01T00:00:00.000Z', 0));
    const names = (await listInstances(kv, undefined, at('2026-01-01T00:00:10.000Z'))).map((r) => r.instance);
    assert.deepEqual(names, ['edge', 'fresh', 'no-ttl'], 'sorted by instance; stale left out; heartbeat + ttl == now still counts');
    const later = (await listInstances(kv, undefined, at('2026-01-01T00:00:10.001Z'))).map((r) => r.instance);
    assert.deepEqual(later, ['fresh', 'no-ttl']);
  });

  test('filters by service and sorts by instance name', async () => {
    const kv = new MemoryEngine().kv<InstanceRecord>(REGISTRY_MAP);
    const now = '2026-01-01T00:00:00.000Z';
    for (const [s, i] of [['messages', 'messages-2'], ['logging', 'logging-3'], ['messages', 'messages-1'], ['logging', 'logging-1']] as const) {
      await kv.set(`${s}/${i}`, entry(s, i, now, 0));
    }
    assert.deepEqual((await listInstances(kv, 'logging')).map((r) => r.instance), ['logging-1', 'logging-3']);
    assert.deepEqual((await listInstances(kv, 'messages')).map((r) => r.instance), ['messages-1', 'messages-2']);
    assert.deepEqual((await listInstances(kv, 'facade')).map((r) => r.instance), []);
    assert.equal((await listInstances(kv)).length, 4);
  });
});
