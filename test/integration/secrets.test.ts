import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findFreeBasePort } from '../../src/engine/hazelcast/cluster.js';
import { createEngine } from '../../src/engine/factory.js';
import { SETTINGS_MAP } from '../../src/shared/common-config.js';
import { silentLogger } from '../helpers/fakes.js';

/**
 * An internal token, valid or not, given by flag, environment or file, is
 * never printed by the real processes (a service, `npm run settings`, the
 * launcher): not in an error, a log line, `--help`, `settings list` or `ps`.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(root, 'dist/main.js');
const SETTINGS = join(root, 'dist/cli/settings.js');
const START = join(root, 'dist/cli/start.js');
const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const mark = randomBytes(4).toString('hex');
const TOKENS = {
  short: `Sh${mark}`,
  spaced: `Sp4ced ${mark} t0ken-with-w0rds`,
  valid: `V4lid-${mark}-${randomBytes(12).toString('hex')}`,
} as const;

/** Every piece of the token that would give it away if printed (a spaced one may be printed split). */
function assertNotPrinted(output: string, token: string, what: string): void {
  for (const piece of token.split(/\s+/).filter((p) => p.length >= 5)) {
    assert.ok(!output.includes(piece), `${what} printed a piece of the token ("${piece}"):\n${output.slice(0, 3000)}`);
  }
}

type Source = 'flag' | 'flag=' | 'env' | 'file';
function given(token: string, source: Source): { args: string[]; env: NodeJS.ProcessEnv } {
  switch (source) {
    case 'flag':
      return { args: ['--internal-token', token], env: {} };
    case 'flag=':
      return { args: [`--internal-token=${token}`], env: {} };
    case 'env':
      return { args: [], env: { INTERNAL_TOKEN: token } };
    case 'file': {
      const file = join(dir, `token-${randomBytes(4).toString('hex')}`);
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      return { args: ['--internal-token-file', file], env: {} };
    }
  }
}

/** A service process until it exits by itself, or until it listens and has been called, then stopped. Resolves with all it printed. */
async function runService(service: string, args: string[], env: NodeJS.ProcessEnv, token: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN, service, '--port', '0', '--data-dir', dir, '--log-level', 'trace', ...args], {
    env: { ...process.env, INTERNAL_TOKEN: undefined, INTERNAL_TOKEN_FILE: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let listening = false;
  const deadline = Date.now() + 30_000;
  while (!listening && child.exitCode === null && Date.now() < deadline) {
    listening = /"msg":"listening"/.test(output);
    if (!listening) await Promise.race([exited, new Promise((r) => setTimeout(r, 50))]);
  }
  if (listening) {
    const url = /"url":"(http:\/\/[^"]+)"/.exec(output)?.[1];
    assert.ok(url, output);
    // Calls with the right token, a wrong one and none: what a service logs of a call never holds the token.
    const right = await fetch(`${url}/log/count`, { headers: { 'x-internal-token': token } });
    assert.equal(right.status, service === 'logging' ? 200 : 404);
    await fetch(`${url}/log/count`, { headers: { 'x-internal-token': `${token}-wrong` } });
    await fetch(`${url}/nope`);
    child.kill('SIGTERM');
  }
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
  if (code === 'hung') {
    child.kill('SIGKILL');
    assert.fail(`the ${service} process did not exit:\n${output}`);
  }
  return { code, output };
}

describe('secrets are never printed (real processes)', () => {
  for (const kind of ['short', 'spaced'] as const) {
    for (const source of ['flag', 'flag=', 'env', 'file'] as const) {
      it(`a ${kind} token by ${source}: refused with a line saying why, without the token`, { timeout: 60_000 }, async () => {
        const token = TOKENS[kind];
        const g = given(token, source);
        const r = await runService('logging', g.args, g.env, token);
        assert.equal(r.code, 2, r.output);
        assert.match(r.output, source === 'file' ? /INTERNAL_TOKEN_FILE: .* must hold a token of at least 16 characters without spaces/ : /invalid setting --internal-token \/ INTERNAL_TOKEN: expected at least 16 characters without spaces, got a value of \d+ characters/);
        assertNotPrinted(r.output, token, `logging with a ${kind} token by ${source}`);
      });
    }
  }

  for (const source of ['flag', 'env', 'file'] as const) {
    it(`a valid token by ${source}: the service runs, is called, stops; the token is in none of its lines`, { timeout: 60_000 }, async () => {
      const g = given(TOKENS.valid, source);
      for (const service of source === 'env' ? ['logging', 'messages', 'facade'] : ['logging']) {
        const r = await runService(service, g.args, g.env, TOKENS.valid);
        assert.match(r.output, /"msg":"listening"/, r.output);
        assertNotPrinted(r.output, TOKENS.valid, `${service} with a valid token by ${source}`);
      }
    });
  }

  it('--help with a token in the environment shows none', () => {
    for (const service of ['facade', 'logging', 'messages']) {
      const r = spawnSync(process.execPath, [MAIN, service, '--help'], { encoding: 'utf8', env: { ...process.env, INTERNAL_TOKEN: TOKENS.valid } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /--internal-token\s+INTERNAL_TOKEN\s+\(none\)/);
      assertNotPrinted(r.stdout + r.stderr, TOKENS.valid, `${service} --help`);
    }
  });

  it('settings: set refuses a secret (valid or not) without printing it; list and get show one stored by other means only by its length; a service does not take it', { timeout: 60_000 }, async () => {
    const settings = (...args: string[]) => spawnSync(process.execPath, [SETTINGS, ...args, '--data-dir', dir], { encoding: 'utf8' });
    for (const token of Object.values(TOKENS)) {
      const r = settings('set', 'INTERNAL_TOKEN', token);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /INTERNAL_TOKEN is a secret: it is not kept in the engine/);
      assertNotPrinted(r.stdout + r.stderr, token, 'settings set');
    }
    assert.equal(settings('list').stdout, '');

    // As an older version could have stored it.
    const engine = await createEngine({ kind: 'embedded', dataDir: dir, queueCapacity: 1000, members: [], clusterName: 'x', connectTimeoutMs: 1000, queueLeaseMs: 20_000, ledgerScanMs: 2000, queue: 'engine', kafka: { brokers: [], group: 'g', partitions: 1 } }, silentLogger(), 'secrets-test');
    try {
      await engine.kv<string>(SETTINGS_MAP).set('INTERNAL_TOKEN', TOKENS.valid);
    } finally {
      await engine.close();
    }
    const list = settings('list');
    assert.equal(list.stdout.trim(), `INTERNAL_TOKEN=(secret: ${TOKENS.valid.length} characters, not shown)`);
    const get = settings('get', 'INTERNAL_TOKEN');
    assertNotPrinted(list.stdout + list.stderr + get.stdout + get.stderr, TOKENS.valid, 'settings list/get');
    const r = await runService('logging', [], {}, TOKENS.valid);
    assert.match(r.output, /secret settings found in the engine are not used/);
    assertNotPrinted(r.output, TOKENS.valid, 'a service with a token stored in the engine');
    assert.equal(settings('unset', 'INTERNAL_TOKEN').status, 0);
  });

  it('the launcher: a bad token in its environment stops the start without printing it; a valid one runs, and its ps shows none', { timeout: 180_000 }, async () => {
    assert.ok(existsSync(START), `${START} is missing: run \`npm run -s build\` first`);
    const base = await findFreeBasePort(3, 28700 + 3 * Math.floor(Math.random() * 60));
    const dataDir = mkdtempSync(join(dir, 'launcher-'));
    const args = [START, '--data-dir', dataDir, '--port', String(base), '--logging', '1', '--logging-port', String(base + 1), '--messages', '1', '--messages-port', String(base + 2), '--commands'];
    for (const kind of ['short', 'valid'] as const) {
      const child = spawn(process.execPath, args, { env: { ...process.env, FORCE_COLOR: '0', INTERNAL_TOKEN: TOKENS[kind] }, stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output += b.toString()));
      child.stderr.on('data', (b: Buffer) => (output += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const waitFor = async (re: RegExp, ms: number) => {
        const deadline = Date.now() + ms;
        while (!re.test(output) && child.exitCode === null && Date.now() < deadline) await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
        return re.test(output);
      };
      try {
        if (kind === 'short') {
          const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 90_000))]);
          assert.notEqual(code, 0, `a start whose services cannot read their token fails:\n${output}`);
          assert.match(output, /expected at least 16 characters without spaces, got a value of/);
        } else {
          assert.ok(await waitFor(/^running:/m, 90_000), `the launcher started:\n${output}`);
          child.stdin.write('ps\n');
          assert.ok(await waitFor(new RegExp(`facade-${base} http://127\\.0\\.0\\.1:${base} running`), 20_000), output);
        }
        assertNotPrinted(output, TOKENS[kind], `the launcher with a ${kind} token`);
      } finally {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 40_000);
          await exited;
          clearTimeout(t);
        }
      }
      assertNotPrinted(output, TOKENS[kind], `the launcher with a ${kind} token, to its end`);
    }
  });
});
