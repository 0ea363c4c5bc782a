import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { DEFAULT_MAP_NAME } from '../../../src/engine/defaults.js';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import { InstanceDirectory } from '../../../src/services/facade/directory.js';
import type { InstanceRecord } from '../../../src/shared/registry.js';
import { InjectCaller, registryKv, silentLogger } from '../../helpers/fakes.js';
import { buildFacade, buildLogging } from '../../helpers/services.js';

/** Writes an entry whose last heartbeat was `ageMs` ago (as a heartbeat held back by the engine leaves it). */
async function entry(engine: MemoryEngine, instance: string, ageMs: number, ttlMs = 1500): Promise<void> {
  const at = new Date(Date.now() - ageMs).toISOString();
  const r: InstanceRecord = { service: 'logging', instance, url: `http://${instance}.test`, pid: 1, startedAt: at, heartbeatAt: at, ttlMs };
  await registryKv(engine).set(`logging/${instance}`, r);
}

describe('instance directory: the registry listing none of a service', () => {
  test('answers the instances last listed, within the grace after that listing; none after it, and none for a service never listed', async () => {
    const engine = new MemoryEngine(100, 1000);
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
    const d = new InstanceDirectory(registryKv(engine), 1000, log, undefined, 300);
    await entry(engine, 'logging-1', 0);
    await entry(engine, 'logging-2', 0);
    await d.refresh();
    assert.deepEqual((await d.of('logging')).map((r) => r.instance), ['logging-1', 'logging-2']);

    // Both heartbeats held back past the TTL: the registry lists neither.
    await entry(engine, 'logging-1', 5000);
    await entry(engine, 'logging-2', 5000);
    await d.refresh();
    assert.deepEqual(d.all(), [], 'the registry view lists none');
    assert.deepEqual((await d.of('logging')).map((r) => r.instance), ['logging-1', 'logging-2'], 'the last listed, within the grace');
    await d.of('logging');
    assert.equal(warnings.length, 1, `said once per gap: ${JSON.stringify(warnings)}`);
    assert.match(warnings[0]!, /lists no live instance/);
    assert.deepEqual(await d.of('messages'), [], 'a service never listed has none');

    await new Promise((r) => setTimeout(r, 350));
    assert.deepEqual(await d.of('logging'), [], 'past the grace: none');
  });

  test('one instance listed again: only the listed ones are answered', async () => {
    const engine = new MemoryEngine(100, 1000);
    const d = new InstanceDirectory(registryKv(engine), 1000, silentLogger(), undefined, 60_000);
    await entry(engine, 'logging-1', 0);
    await entry(engine, 'logging-2', 0);
    await d.refresh();
    await entry(engine, 'logging-1', 5000);
    await d.refresh();
    assert.deepEqual((await d.of('logging')).map((r) => r.instance), ['logging-2']);
  });
});

test('POSTs keep succeeding while the registry lists no logging instance but the one last listed answers', async (t) => {
  const engine = new MemoryEngine(100_000, 20_000);
  const caller = new InjectCaller();
  const { service: logging } = buildLogging(t, engine, { name: 'logging-1' });
  caller.route('http://logging-1.test', logging.app);
  await entry(engine, 'logging-1', 0, 60_000);
  const { service: facade } = buildFacade(t, engine, { name: 'facade-1', 'registry-refresh-ms': '60000' }, { caller });
  await facade.directory.refresh();
  const post = (msg: string) => facade.app.inject({ method: 'POST', url: '/messages', payload: { msg }, headers: { 'content-type': 'application/json' } });
  assert.equal((await post('before')).statusCode, 201);

  // Its heartbeat held back (a Hazelcast member failing over): the entry looks expired.
  await entry(engine, 'logging-1', 120_000, 60_000);
  await facade.directory.refresh();
  const instances = await facade.app.inject({ method: 'GET', url: '/instances' });
  assert.deepEqual(instances.json(), [], '/instances shows what the registry lists');
  const during = await post('during');
  assert.equal(during.statusCode, 201, during.payload);
  const { id } = during.json<{ id: string }>();
  assert.equal((await engine.log(DEFAULT_MAP_NAME).get(id))?.msg, 'during', 'stored through the instance last listed');
});
