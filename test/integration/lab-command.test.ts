/**
 * `npm run lab -- NAME` against a running lab (the embedded engine, real
 * processes, a launcher console as under npm start): the scenario runs in the
 * launcher's shell and the command follows it to its verdict.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LauncherConsole } from '../../src/cli/launcher-console.js';
import { startTestTopology, type TestTopology } from '../helpers/cluster-env.js';

const LAB_JS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'lab.js');

function lab(...args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LAB_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('npm run lab against a running lab', { timeout: 120_000 }, () => {
  let t: TestTopology;
  let lc: LauncherConsole;
  const terminal: string[] = [];

  before(async () => {
    t = await startTestTopology({ engine: 'embedded', console: true, serviceArgs: { facade: ['--registry-refresh-ms', '200'] } });
    lc = new LauncherConsole(t.topo, { out: (l) => terminal.push(l), refreshMs: 300 });
  });

  after(async () => {
    lc?.close();
    await t?.close();
  });

  it('msgs: its steps and verdict, here and in the launcher terminal; exit 0', async () => {
    const r = await lab('msgs', '--url', t.facade);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /1\. bring every member, broker and instance up: done in \d+\.\d s/);
    assert.match(r.out, /verdict: OK — 10\/10 logged and consumed, each once; logged: logging-\d+ \d+/);
    assert.match(r.out, /msg10 +logged by logging-\d+, consumed by messages-\d+/);
    assert.ok(terminal.includes('(from the page) scenario msgs'), terminal.join('\n'));
    assert.ok(terminal.some((l) => /^verdict \(msgs\): OK/.test(l)));
  });

  it('lab4 on the embedded engine is refused with why (no member or broker to kill); exit 2', async () => {
    const r = await lab('lab4', '--url', t.facade);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /lab4 refused \(409\): no scenario "lab4" here; scenarios: msgs, fail-over/);
  });

  it('an unknown scenario or no facade: a clear message, exit 2', async () => {
    const unknown = await lab('lab9');
    assert.equal(unknown.code, 2);
    assert.match(unknown.out, /name a scenario: msgs, lab4, map-durability, fail-over/);
    const none = await lab('msgs', '--url', 'http://127.0.0.1:9');
    assert.equal(none.code, 2);
    assert.match(none.out, /no facade at http:\/\/127\.0\.0\.1:9/);
  });

  it('fail-over: a logging instance killed mid-run; every message still accepted and logged, none by the dead one', async () => {
    const r = await lab('fail-over', '--url', t.facade);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /kill -9 logging-\d+ \(a logging instance\): done/);
    assert.match(r.out, /verdict: OK — 30\/30 accepted and logged; before the kill: .*; after: /);
    const killed = t.topo.byService('logging')[0]!.name;
    assert.equal(t.topo.isRunning(killed), false, `${killed} was killed`);
    const after = /after: (.*)$/m.exec(r.out)![1]!;
    assert.ok(!after.includes(killed), `nothing logged by ${killed} after its kill: ${after}`);
  });
});
