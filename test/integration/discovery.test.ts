import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { EmbeddedEngine } from '../../src/engine/embedded/embedded-engine.js';
import { freePort, MAIN_JS } from '../../src/topology/topology.js';
import { SETTINGS_MAP } from '../../src/shared/common-config.js';
import { http, logged, postJson, startTestTopology, until, type TestTopology } from '../helpers/cluster-env.js';

const TTL_MS = 1500;
const REFRESH_MS = 200;

interface Listed {
  instance: string;
  service: string;
  url: string;
  heartbeatAgeMs: number;
  status: string;
}

describe('discovery through the registry, settings in the engine, graceful stop (real processes)', () => {
  let t: TestTopology;
  before(async () => {
    t = await startTestTopology({
      engine: 'embedded',
      extraArgs: ['--registry-ttl-ms', String(TTL_MS)],
      serviceArgs: { facade: ['--registry-refresh-ms', String(REFRESH_MS)] },
    });
  });
  after(async () => t?.close());

  const instances = async () => (await http<Listed[]>(`${t.facade}/instances`)).body;

  it('/instances lists every registered instance with a recent heartbeat', async () => {
    const list = await instances();
    assert.deepEqual(list.map((x) => x.instance).sort(), [...t.topo.procs.values()].filter((p) => p.service !== 'facade').map((p) => p.name).sort());
    for (const x of list) {
      assert.equal(x.status, 'up');
      assert.ok(x.heartbeatAgeMs < TTL_MS + REFRESH_MS, `${x.instance} heartbeat ${x.heartbeatAgeMs} ms old`);
    }
  });

  it('a 4th logging instance started by hand gets traffic within its TTL; killed, it stops getting it and leaves /instances', async () => {
    const port = await freePort();
    const name = `logging-${port}`;
    const child = spawn(process.execPath, [MAIN_JS, 'logging', '--port', String(port), '--engine', 'embedded', '--data-dir', t.dataDir, '--registry-ttl-ms', String(TTL_MS)], {
      stdio: 'ignore',
    });
    try {
      const startedAt = Date.now();
      await until('the facade sees the new instance', async () => (await instances()).some((x) => x.instance === name), 10_000, 50);
      const seenAfter = Date.now() - startedAt;
      // Traffic reaches it: with 4 instances chosen at random, 60 messages miss it with probability (3/4)^60.
      const ids: string[] = [];
      for (let i = 0; i < 60; i++) ids.push((await postJson(`${t.facade}/messages`, { msg: `fourth-${i}` })).body.id);
      const mine = (await logged(t)).filter((e) => ids.includes(e.id) && e.loggedBy === name).length;
      console.log(`${name} seen by the facade ${seenAfter} ms after spawn; logged ${mine}/60`);
      assert.ok(mine > 0, 'the new instance got traffic');

      const killedAt = Date.now();
      child.kill('SIGKILL');
      const goneAfter = await until('it leaves /instances', async () => ((await instances()).some((x) => x.instance === name) ? undefined : Date.now() - killedAt), 10_000, 50);
      console.log(`killed ${name}: gone from /instances after ${goneAfter} ms (TTL ${TTL_MS} ms)`);
      assert.ok(goneAfter <= TTL_MS + REFRESH_MS + 500, `left after ${goneAfter} ms`);
      const after: string[] = [];
      for (let i = 0; i < 30; i++) {
        const r = await postJson(`${t.facade}/messages`, { msg: `after-fourth-${i}` });
        assert.equal(r.status, 201);
        after.push(r.body.id);
      }
      assert.equal((await logged(t)).filter((e) => after.includes(e.id) && e.loggedBy === name).length, 0, 'no traffic to the dead instance');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a graceful stop deregisters at once and exits 0', async () => {
    const victim = t.topo.byService('logging')[1]!;
    const t0 = Date.now();
    await t.topo.signal(victim.name, 'SIGTERM');
    const code = await t.topo.procs.get(victim.name)!.exited;
    assert.equal(code, 0);
    const goneAfter = await until('deregistered', async () => ((await instances()).some((x) => x.instance === victim.name) ? undefined : Date.now() - t0), 5000, 20);
    assert.ok(goneAfter < TTL_MS, `a graceful stop deregisters before the TTL runs out (${goneAfter} ms)`);
    await t.topo.startProc(victim.name);
  });

  it('settings kept in the engine apply where no flag or env sets them', async () => {
    const engine = new EmbeddedEngine({ dataDir: t.dataDir });
    const mapName = `engine-set-map-${Date.now()}`;
    await engine.kv<string>(SETTINGS_MAP).set('MAP_NAME', mapName);
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN_JS, 'logging', '--port', String(port), '--engine', 'embedded', '--data-dir', t.dataDir], { stdio: 'ignore' });
    try {
      await until('ready', async () => (await http(`http://127.0.0.1:${port}/health/ready`)).status === 200, 10_000);
      const r = await postJson(`http://127.0.0.1:${port}/log`, { id: 'from-settings', msg: 'stored in the map named by the engine' });
      assert.equal(r.status, 201);
      assert.equal((await engine.log(mapName).get('from-settings'))?.msg, 'stored in the map named by the engine');
      assert.equal(await engine.log('messages-log').get('from-settings'), undefined);
      // A bad value there stops a service with one line naming the setting.
      await engine.kv<string>(SETTINGS_MAP).set('ATTEMPT_TIMEOUT_MS', 'soon');
      const bad = spawn(process.execPath, [MAIN_JS, 'facade', '--port', String(await freePort()), '--engine', 'embedded', '--data-dir', t.dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      bad.stderr!.on('data', (d) => (err += String(d)));
      const code = await new Promise((r) => bad.once('exit', r));
      assert.equal(code, 2);
      assert.match(err, /--attempt-timeout-ms \/ ATTEMPT_TIMEOUT_MS/);
    } finally {
      child.kill('SIGKILL');
      await engine.kv(SETTINGS_MAP).delete('MAP_NAME');
      await engine.kv(SETTINGS_MAP).delete('ATTEMPT_TIMEOUT_MS');
      await engine.close();
    }
  });

  it('a bad flag stops a service with one line naming the setting', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const c = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        c.stderr!.on('data', (d) => (err += String(d)));
        c.once('exit', (code) => resolve({ code, err }));
      });
    const a = await run(['logging', '--port', 'abc']);
    assert.equal(a.code, 2);
    assert.equal(a.err.trim().split('\n').length, 1);
    assert.match(a.err, /--port \/ PORT: expected an integer from 0 to 65535, got "abc"/);
    const b = await run(['facade', '--engine', 'redis']);
    assert.match(b.err, /--engine \/ ENGINE: expected one of embedded, hazelcast/);
    const c = await run(['nonsense']);
    assert.equal(c.code, 2);
    assert.match(c.err, /unknown service/);
  });
});
