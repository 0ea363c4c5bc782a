import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'settings-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run settings -- …` and `npm run service -- …` as a user runs them (after the build the test command makes). */
const settings = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli/settings.js'), ...args, '--data-dir', dir], { encoding: 'utf8' });
const service = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/main.js'), ...args], { encoding: 'utf8', timeout: 20_000 });

describe('settings: declared once, checked the same everywhere (real processes)', () => {
  it('set refuses an unknown name and stores nothing', () => {
    const r = settings('set', 'ATTEMPT_TIMEOUT', '800');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown setting ATTEMPT_TIMEOUT; known: .*ATTEMPT_TIMEOUT_MS/);
    assert.equal(settings('list').stdout, '');
  });

  it('set refuses a bad value with the message a service gives for it, and stores nothing', () => {
    const r = settings('set', 'ATTEMPT_TIMEOUT_MS', 'soon');
    assert.equal(r.status, 2);
    const line = 'invalid setting --attempt-timeout-ms / ATTEMPT_TIMEOUT_MS: expected an integer from 10 to 600000, got "soon"';
    assert.ok(r.stderr.includes(line), r.stderr);
    const s = service('facade', '--attempt-timeout-ms', 'soon', '--port', '0', '--data-dir', dir);
    assert.equal(s.status, 2);
    assert.ok(s.stderr.includes(line), `the service says the same: ${s.stderr}`);
    assert.equal(settings('list').stdout, '');
  });

  it('set stores a good value, get and list show it, unset removes it', () => {
    assert.equal(settings('set', 'ATTEMPT_TIMEOUT_MS', '800').status, 0);
    assert.equal(settings('get', 'ATTEMPT_TIMEOUT_MS').stdout.trim(), '800');
    assert.equal(settings('list').stdout.trim(), 'ATTEMPT_TIMEOUT_MS=800');
    assert.equal(settings('unset', 'ATTEMPT_TIMEOUT_MS').status, 0);
    assert.equal(settings('list').stdout, '');
  });

  it('--help of every service prints its settings table', () => {
    for (const [name, own] of [['facade', '--body-limit'], ['logging', '--map-name'], ['messages', '--store-file']] as const) {
      const r = service(name, '--help');
      assert.equal(r.status, 0, r.stderr);
      for (const flag of ['--port', '--engine', '--queue-lease-ms', '--internal-token', own]) assert.ok(r.stdout.includes(`${flag} `), `${name} --help lists ${flag}`);
    }
  });

  it('a service listening beyond loopback refuses to start without an internal token, and says how to give one', () => {
    const r = service('logging', '--host', '0.0.0.0', '--port', '0', '--data-dir', dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /needs an internal token: set --internal-token \/ INTERNAL_TOKEN or --internal-token-file/);
  });

  it('a token given in the environment is never printed, and internal routes refuse calls without it (nothing stored)', { timeout: 60_000 }, async () => {
    const token = 'tok-' + 'x7'.repeat(12);
    const child = spawn(process.execPath, [join(root, 'dist/main.js'), 'logging', '--port', '0', '--data-dir', dir, '--log-level', 'debug'], {
      env: { ...process.env, INTERNAL_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!/"msg":"listening"/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
      assert.ok(url, `the service said where it listens: ${out}`);
      const refused = await fetch(`${url}/log`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'nope', msg: 'x' }) });
      assert.equal(refused.status, 401);
      assert.match(((await refused.json()) as { message: string }).message, /missing internal token/);
      const wrong = await fetch(`${url}/log`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-internal-token': 'wrong-token-0000000000' }, body: JSON.stringify({ id: 'nope', msg: 'x' }) });
      assert.equal(wrong.status, 401);
      const count = await fetch(`${url}/log/count`, { headers: { 'x-internal-token': token } });
      assert.deepEqual(await count.json(), { count: 0 }, 'nothing stored from refused calls');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const health = await (await fetch(`${url}/health`)).text();
      assert.ok(!metrics.includes(token) && !health.includes(token), 'the token is in no open answer');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    assert.ok(!out.includes(token), 'the token appears in no log line');
  });
});
