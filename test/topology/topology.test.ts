import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAIN_JS, Topology } from '../../src/topology/topology.js';
import { http, quietPort } from '../helpers/cluster-env.js';

/**
 * Services placed by hand, as the host bed places them: each with its own
 * name, port and host, run under a command prefix, with flags decided once
 * the clusters are up and a log file each. Embedded engine: no JVM.
 */
describe('a topology of placed services', { skip: existsSync(MAIN_JS) ? false : `${MAIN_JS} is missing (run \`npm run -s build\`)` }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'topo-placed-'));
  const logDir = join(dataDir, 'logs');
  let topo: Topology | undefined;
  after(async () => {
    await topo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('plans the members on hosts of their own, each on the base port, and the placed services', () => {
    const t = new Topology({
      engine: 'hazelcast',
      dataDir,
      memberBasePort: 5701,
      memberPlacement: { hosts: ['10.0.0.1', '10.0.0.2'] },
      services: [
        { name: 'facade', service: 'facade', port: 8000, host: '10.0.0.3' },
        { name: 'logging-1', service: 'logging', port: 8100, host: '10.0.0.1' },
      ],
    });
    assert.deepEqual(
      t.plannedPorts().map((p) => `${p.name}:${p.port}`),
      ['member-1:5701', 'member-2:5701', 'logging-1:8100', 'facade:8000'],
    );
  });

  it('runs each under its prefix, on its host, with the flags given once clusters are up, and logs each to a file', async () => {
    const [l, m, f] = [await quietPort(), await quietPort(), await quietPort()];
    const prefixed: string[] = [];
    const t = new Topology({
      dataDir,
      logDir,
      services: [
        { name: 'facade', service: 'facade', port: f, host: '127.0.0.1' },
        { name: 'messages-a', service: 'messages', port: m, host: '127.0.0.1' },
        { name: 'logging-a', service: 'logging', port: l, host: '127.0.0.1', args: ['--log-level', 'info'] },
      ],
      // `env` execs the program it is given, as `ip netns exec` does.
      runUnder: (name) => {
        prefixed.push(name);
        return ['env', `TOPOLOGY_TEST_PLACED=${name}`];
      },
      beforeServices: async () => ['--queue-name', 'placed-queue'],
    });
    topo = t;
    await t.start();
    assert.deepEqual(prefixed.sort(), ['facade', 'logging-a', 'messages-a']);
    assert.equal(t.facadeUrl, `http://127.0.0.1:${f}`);
    for (const name of ['facade', 'messages-a', 'logging-a']) {
      const p = t.procs.get(name)!;
      const pid = p.child!.pid!;
      // The prefix ran (its variable is in the service's environment) and exec'd the service (same pid).
      assert.ok(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`TOPOLOGY_TEST_PLACED=${name}`), `${name} not run under its prefix`);
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      assert.equal(argv[argv.indexOf('--queue-name') + 1], 'placed-queue', `${name} lacks the flags decided before services`);
      assert.equal(argv[argv.indexOf('--host') + 1], '127.0.0.1');
      assert.equal((await http(`${p.url}/health/ready`)).status, 200);
    }
    // The facade reaches the placed instances: a message goes through.
    const r = await http<{ id: string }>(`${t.facadeUrl}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msg: 'placed' }) });
    assert.equal(r.status, 201);
    await t.stop();
    for (const name of ['facade', 'messages-a', 'logging-a']) {
      assert.equal(t.isRunning(name), false);
      assert.ok(readFileSync(join(logDir, `${name}.log`), 'utf8').length > 0, `${name}.log is empty`);
      assert.equal(t.logFile(name), join(logDir, `${name}.log`));
    }
  });
});
