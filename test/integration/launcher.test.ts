import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { commandLine, isAlive, pidFileIn, readPidFile, writePidFile, type PidRecord } from '../../src/topology/pid-file.js';
import { portFree } from '../../src/topology/port-check.js';
import { MAIN_JS } from '../../src/topology/topology.js';
import { findFreeBasePort } from '../../src/engine/hazelcast/cluster.js';
import { http, until } from '../helpers/cluster-env.js';
import { hazelcastSkip } from '../helpers/hazelcast-gate.js';
import { kafkaSkip } from '../helpers/kafka-gate.js';
import { findFreePorts } from '../../src/lib/net.js';

/**
 * `npm start` as a user runs it: the real `node dist/cli/start.js` (built by
 * `npm run -s build`, as `npm test` does first), with its own data dir and
 * ports in 29100–29999, clear of the defaults and of the other tests' ranges.
 */
const START_JS = join(MAIN_JS, '..', 'cli', 'start.js');
const runId = randomUUID().slice(0, 8);

interface Launcher {
  child: ChildProcess;
  pid: number;
  /** Every stdout and stderr line so far. */
  out: string[];
  err: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line (from `from` on) matching re. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  type(line: string): void;
}

const launchers: Launcher[] = [];

function launch(args: string[]): Launcher {
  if (!existsSync(START_JS)) throw new Error(`${START_JS} is missing: run \`npm run -s build\` first`);
  const child = spawn(process.execPath, [START_JS, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  const out: string[] = [];
  const err: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (l) => {
    out.push(l);
    waiters.forEach((w) => w());
  });
  createInterface({ input: child.stderr! }).on('line', (l) => {
    err.push(l);
    waiters.forEach((w) => w());
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      waiters.forEach((w) => w());
    }),
  );
  const l: Launcher = {
    child,
    pid: child.pid!,
    out,
    err,
    exited,
    type: (line) => child.stdin!.write(line + '\n'),
    waitFor: (re, timeoutMs = 60_000, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = out.slice(from).find((x) => re.test(x)) ?? err.slice(from).find((x) => re.test(x));
          if (hit !== undefined) {
            done();
            resolve(hit);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`launcher exited (${child.exitCode ?? child.signalCode}) before printing ${re}; last output:\n${[...out, ...err].slice(-20).join('\n')}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; last output:\n${[...out, ...err].slice(-20).join('\n')}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
  launchers.push(l);
  return l;
}

/** SIGTERM (the launcher's own orderly stop), then SIGKILL if it hangs. */
async function stopLauncher(l: Launcher): Promise<void> {
  if (l.child.exitCode !== null || l.child.signalCode !== null) return;
  l.child.kill('SIGTERM');
  const t = setTimeout(() => l.child.kill('SIGKILL'), 40_000);
  await l.exited;
  clearTimeout(t);
}

after(async () => {
  await Promise.all(launchers.map(stopLauncher));
});

/** Pids of processes whose command line contains `text` (other than pgrep itself). */
function processesWith(text: string): number[] {
  const r = spawnSync('pgrep', ['-f', '--', text], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => pid !== process.pid && commandLine(pid)?.includes(text));
}

/** Waits until none of the records runs, no process names the data dir (or the marker given), and every port is free. */
async function untilGone(what: string, records: PidRecord[], marker: string, ports: number[], timeoutMs = 30_000): Promise<void> {
  await until(
    what,
    async () => {
      const alive = records.filter(isAlive).map((r) => `${r.name} (pid ${r.pid})`);
      const others = processesWith(marker).map((pid) => `pid ${pid}`);
      const busy: number[] = [];
      for (const p of ports) if (!(await portFree('127.0.0.1', p))) busy.push(p);
      if (alive.length || others.length || busy.length) throw new Error(`still there: ${[...alive, ...others].join(', ')} ports ${busy.join(', ')}`);
      return true;
    },
    timeoutMs,
    250,
  );
}

describe('launcher (embedded): nothing outlives it, clashes are named, commands answer', () => {
  const dataDir = mkdtempSync(join(tmpdir(), `launcher-${runId}-`));
  let base = 0;
  const args = () => ['--data-dir', dataDir, '--port', String(base), '--logging', '1', '--logging-port', String(base + 1), '--messages', '1', '--messages-port', String(base + 2)];
  const ports = () => [base, base + 1, base + 2];
  let first: Launcher;

  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('a second start while one runs exits non-zero at once, in one line naming the taken port and its owner', { timeout: 120_000 }, async () => {
    base = await findFreeBasePort(3, 29100 + 3 * Math.floor(Math.random() * 100));
    first = launch([...args(), '--commands']);
    await first.waitFor(/^running:/);
    const posted = await http(`http://127.0.0.1:${base}/messages`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'before-fresh' });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));

    const second = launch(args());
    const { code } = await second.exited;
    assert.notEqual(code, 0, 'a second start must fail');
    assert.equal(second.err.length, 1, `one line on stderr, got:\n${second.err.join('\n')}`);
    const line = second.err[0]!;
    assert.match(line, new RegExp(`port ${base + 1} \\(for logging-${base + 1}\\) is already in use by logging-${base + 1} of another npm start still running \\(launcher pid ${first.pid}, data dir ${dataDir}\\)`));
    assert.match(line, /--logging-port P/);
    assert.ok(!second.out.some((l) => /running:|EADDRINUSE|starting:/.test(l)), `started nothing, printed:\n${second.out.join('\n')}`);

    // Another data dir: no record to go by, so the holder's pid and command line name it.
    const otherDir = mkdtempSync(join(tmpdir(), `launcher-${runId}-other-`));
    try {
      const third = launch(['--data-dir', otherDir, '--port', String(base), '--logging', '0', '--messages', '0']);
      assert.notEqual((await third.exited).code, 0);
      assert.equal(third.err.length, 1, third.err.join('\n'));
      assert.match(third.err[0]!, new RegExp(`port ${base} \\(for facade-${base}\\) is already in use by pid \\d+ \\(.*--name facade-${base}.*--port P`));
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
    const ready = await http(`http://127.0.0.1:${base}/health/ready`);
    assert.equal(ready.status, 200, 'the first system still runs');
  });

  it('typed commands answer, and run one at a time with each result printed once', { timeout: 120_000 }, async () => {
    const logging = `logging-${base + 1}`;
    let from = first.out.length;
    first.type('stop nosuch');
    assert.match(await first.waitFor(/nosuch/, 10_000, from), new RegExp(`error: no process named nosuch; processes: ${logging}, messages-${base + 2}, facade-${base}`));

    from = first.out.length;
    first.type(`start ${logging}`);
    await first.waitFor(new RegExp(`^${logging} is already running$`), 10_000, from);

    from = first.out.length;
    first.type('frobnicate');
    await first.waitFor(/^unknown command "frobnicate"; commands: ps/, 10_000, from);

    // Typed together: the second waits for the first and says so.
    from = first.out.length;
    first.type(`stop ${logging}`);
    first.type(`start ${logging}`);
    await first.waitFor(new RegExp(`^"stop ${logging}" is still in progress; "start ${logging}" runs after it$`), 10_000, from);
    await first.waitFor(new RegExp(`^${logging} started and ready$`), 60_000, from);
    const answers = first.out.slice(from).filter((l) => l.startsWith(`${logging} `));
    assert.deepEqual(answers, [`${logging} stopped (SIGTERM)`, `${logging} started and ready`]);

    from = first.out.length;
    first.type('ps');
    await first.waitFor(new RegExp(`^  facade-${base} http://127.0.0.1:${base} running$`), 10_000, from);
    assert.ok(first.out.slice(from).includes(`  ${logging} http://127.0.0.1:${base + 1} running`), first.out.slice(from).join('\n'));

    // logs NAME N: the instance's last lines, here its start after the restart above.
    from = first.out.length;
    first.type(`logs ${logging} 5`);
    await first.waitFor(new RegExp(`^--- ${logging}: last 5 line\\(s\\)$`), 10_000, from);
    first.type('logs nosuch');
    await first.waitFor(/^error: no process named nosuch; logs of: /, 10_000, from);
  });

  it('SIGKILL of the launcher leaves no process and no port behind within 30 s, and the next start (--fresh) works', { timeout: 120_000 }, async () => {
    const rec = readPidFile(pidFileIn(dataDir));
    assert.ok(rec, 'the launcher records what it runs');
    assert.equal(rec.launcher.pid, first.pid);
    assert.equal(rec.children.length, 3);
    first.child.kill('SIGKILL');
    await first.exited;
    await untilGone('every service of the killed launcher to exit and free its port', rec.children, `--data-dir ${dataDir}`, ports());

    const next = launch([...args(), '--fresh']);
    const fresh = await next.waitFor(/^fresh start:/);
    assert.match(fresh, /engine\.db/);
    assert.match(fresh, new RegExp(`store-embedded-messages-${base + 2}\\.db`));
    await next.waitFor(/^running:/);
    assert.ok(!next.out.some((l) => /leftover/.test(l)), 'nothing was left to stop');
    const got = await http<{ logging: unknown[]; messages: unknown[] }>(`http://127.0.0.1:${base}/messages`);
    assert.equal(got.status, 200);
    assert.deepEqual([got.body.logging, got.body.messages], [[], []], 'a fresh start has an empty log and empty stores');
    assert.match(next.out.find((l) => /need a terminal/.test(l)) ?? '', /--commands/, 'without a terminal the launcher says the commands need one');
    await stopLauncher(next);
    assert.equal((await next.exited).code, 0);
    assert.equal(readPidFile(pidFileIn(dataDir)), undefined, 'an orderly stop removes the record');
  });

  it('a start stops what an earlier run it can no longer reach left behind, and says so', { timeout: 120_000 }, async () => {
    // A service of a launcher that is gone, as an older launcher (no EXIT_WITH_PARENT) could leave it.
    const name = `logging-${base + 1}`;
    const orphan = spawn(process.execPath, [MAIN_JS, 'logging', '--port', String(base + 1), '--name', name, '--engine', 'embedded', '--data-dir', dataDir, '--host', '127.0.0.1'], {
      stdio: 'ignore',
      detached: true,
    });
    const orphanExit = new Promise((r) => orphan.once('exit', r));
    try {
      await until('the orphan to be ready', async () => (await http(`http://127.0.0.1:${base + 1}/health/ready`)).status === 200, 30_000, 200);
      const gone = spawnSync(process.execPath, ['-e', '0']).pid;
      writePidFile(pidFileIn(dataDir), {
        launcher: { name: 'launcher', pid: gone, marker: `node ${START_JS} (gone)` },
        dataDir,
        children: [{ name, pid: orphan.pid!, marker: `--name ${name}` }],
      });
      const l = launch(args());
      await l.waitFor(new RegExp(`^stopped 1 leftover process\\(es\\) of an earlier run whose launcher \\(pid ${gone}\\) is gone: ${name} \\(pid ${orphan.pid}\\)$`));
      await orphanExit;
      await l.waitFor(/^running:/);
      await stopLauncher(l);
      assert.equal((await l.exited).code, 0);
    } finally {
      orphan.kill('SIGKILL');
    }
  });

  it('--help names every option, and the option the port message names exists', () => {
    const r = spawnSync(process.execPath, [START_JS, '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    for (const opt of ['--base-port ', '--logging-port ', '--messages-port ', '--port ', '--fresh ', '--commands ', '--queue ', '--kafka-brokers ', '--brokers ', '--kafka-base-port ']) {
      assert.ok(r.stdout.includes(opt), `${opt} in --help`);
    }
    assert.match(r.stdout, /--fresh .*empty stores/);
    const bad = spawnSync(process.execPath, [START_JS, '--base-port', 'x'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /invalid setting --base-port \/ HZ_BASE_PORT/);
    // Kafka without brokers to use, or with two sources of them: refused before anything starts.
    const none = spawnSync(process.execPath, [START_JS, '--queue', 'kafka', '--brokers', '0'], { encoding: 'utf8' });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /--queue kafka with --brokers 0 needs --kafka-brokers/);
    const both = spawnSync(process.execPath, [START_JS, '--queue', 'kafka', '--brokers', '3', '--kafka-brokers', '127.0.0.1:9092'], { encoding: 'utf8' });
    assert.equal(both.status, 2);
    assert.match(both.stderr, /either --brokers N .* or --kafka-brokers/);
  });
});

describe('launcher (hazelcast): members die with it, ps names the queue owner', { skip: hazelcastSkip() }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), `launcher-hz-${runId}-`));
  const clusterName = `launcher-${runId}`;
  let memberBase = 0;
  let base = 0;
  let args: string[] = [];
  let first: Launcher;

  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('ps names the member owning the queue, and kill-member of it answers', { timeout: 240_000 }, async () => {
    memberBase = await findFreeBasePort(2, 29400 + 2 * Math.floor(Math.random() * 100));
    base = await findFreeBasePort(3, 29700 + 3 * Math.floor(Math.random() * 60));
    args = [
      '--engine', 'hazelcast', '--members', '2', '--base-port', String(memberBase), '--hz-cluster-name', clusterName,
      '--data-dir', dataDir, '--port', String(base), '--logging', '1', '--logging-port', String(base + 1), '--messages', '1', '--messages-port', String(base + 2),
    ];
    first = launch([...args, '--commands']);
    await first.waitFor(/^running:/, 180_000);

    // The launcher's own client learns the partition table after it connects: ask until it knows.
    const ownerLine = await until(
      'ps to name the queue owner',
      async () => {
        const from = first.out.length;
        first.type('ps');
        const line = await first.waitFor(/^ {2}queue /, 30_000, from);
        return /partition owner member-\d/.test(line) ? line : undefined;
      },
      60_000,
      500,
    );
    // Two members: the backup is the other one.
    const m = /^ {2}queue messages-queue: partition owner member-(\d), backup member-(\d)$/.exec(ownerLine);
    assert.ok(m, ownerLine);
    assert.deepEqual([m[1], m[2]].sort(), ['1', '2'], ownerLine);
    const ownerAt = first.out.slice(first.out.lastIndexOf(ownerLine) - 4).find((l) => new RegExp(`^ {4}member-${m[1]} 127\\.0\\.0\\.1:\\d+ up \\(owns the queue\\)$`).test(l));
    assert.ok(ownerAt, `the owner's member line before ${ownerLine}`);
    assert.equal(Number(/:(\d+) /.exec(ownerAt)![1]), memberBase + Number(m[1]) - 1, 'member-N is the one on base port + N - 1');

    const from = first.out.length;
    first.type(`kill-member ${m[1]}`);
    await first.waitFor(new RegExp(`^member-${m[1]} killed \\(SIGKILL: a crash\\)$`), 60_000, from);
    first.type(`kill-member ${m[1]}`);
    await first.waitFor(new RegExp(`^member-${m[1]} is not running$`), 30_000, from);

    // Members' output goes to their files under the data dir; the terminal gets their warnings and errors only.
    const file = join(dataDir, 'hazelcast', `member-${m[1]}.log`);
    const logsFrom = first.out.length;
    first.type(`logs member-${m[1]} 3`);
    const logsHeader = await first.waitFor(/^--- member-/, 10_000, logsFrom);
    assert.equal(logsHeader, `--- member-${m[1]}: last 3 line(s); the whole log: ${file}`);
    assert.match(readFileSync(file, 'utf8'), /Members \{size:2, ver:\d+\}/, 'the member file has its INFO lines');
    const memberLines = first.out.filter((l) => l.startsWith('[member-'));
    assert.deepEqual(memberLines.filter((l) => !/^\[member-\d\] \S+ (WARNING|SEVERE) /.test(l)), [], 'only warnings and errors of members reach the terminal');
  });

  it('SIGKILL of the launcher leaves no member, service or port behind within 30 s, and the next start works', { timeout: 300_000 }, async () => {
    const rec = readPidFile(pidFileIn(dataDir));
    assert.ok(rec);
    assert.ok(rec.children.some((r) => r.name === 'member-1'), JSON.stringify(rec.children));
    first.child.kill('SIGKILL');
    await first.exited;
    const allPorts = [memberBase, memberBase + 1, base, base + 1, base + 2];
    await untilGone('members and services of the killed launcher to exit and free their ports', rec.children, `-Dhazel-lab.cluster-name=${clusterName}`, allPorts);
    assert.deepEqual(processesWith(`--data-dir ${dataDir}`), [], 'no service left');

    const next = launch(args);
    await next.waitFor(/^running:/, 180_000);
    assert.ok(!next.out.some((l) => /leftover/.test(l)), 'nothing was left to stop');
    await stopLauncher(next);
    assert.equal((await next.exited).code, 0, next.err.join('\n'));
    await untilGone('an orderly stop to leave nothing', [], `-Dhazel-lab.cluster-name=${clusterName}`, allPorts);
  });
});

describe('launcher (queue on Kafka): brokers listed, ps shows partitions and lag, broker commands answer, brokers die with it', { skip: await kafkaSkip() }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), `launcher-kafka-${runId}-`));
  let kafkaBase = 0;
  let base = 0;
  let first: Launcher;

  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs 3 brokers, ps shows each partition\'s leader and in-sync replicas, kill-broker / start-broker answer, a clash on a broker port is named', { timeout: 300_000 }, async () => {
    // Brokers on P..P+2, their controllers on P+10000..: clear of 9092 and of the other tests' ranges.
    kafkaBase = await findFreePorts(3, 31_000 + 3 * Math.floor(Math.random() * 300), [0, 10_000]);
    base = await findFreeBasePort(3, 29800 + 3 * Math.floor(Math.random() * 60));
    first = launch([
      '--queue', 'kafka', '--kafka-base-port', String(kafkaBase), '--commands',
      '--data-dir', dataDir, '--port', String(base), '--logging', '1', '--logging-port', String(base + 1), '--messages', '1', '--messages-port', String(base + 2),
    ]);
    await first.waitFor(/^running:/, 240_000);
    // The line after the running table: the whole table is in by then.
    await first.waitFor(/^open http/, 10_000);
    for (let i = 0; i < 3; i++) assert.ok(first.out.some((l) => new RegExp(`^ {2}broker-${i + 1} +kafka +127\\.0\\.0\\.1:${kafkaBase + i} `).test(l)), `broker-${i + 1} in the running table:\n${first.out.join('\n')}`);
    const posted = await http(`http://127.0.0.1:${base}/messages`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'on kafka' });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));

    let from = first.out.length;
    first.type('ps');
    await first.waitFor(/^ {2}group messages .*lag: messages-\d+/, 30_000, from);
    const ps = first.out.slice(from);
    for (let p = 0; p < 6; p++) {
      const line = new RegExp(`^ {4}partition ${p}: leader broker-[123]( \\(preferred broker-[123]\\))?, in-sync [123],[123],[123], lag \\d+$`);
      assert.ok(ps.some((l) => line.test(l)), `partition ${p} in ps:\n${ps.join('\n')}`);
    }
    assert.ok(ps.some((l) => /^ {2}brokers: broker-1 127\.0\.0\.1:\d+ up.*, broker-2 .* up.*, broker-3 .* up/.test(l)), `the brokers in ps:\n${ps.join('\n')}`);

    from = first.out.length;
    first.type('kill-broker 2');
    await first.waitFor(/^broker-2 killed \(SIGKILL/, 60_000, from);
    // Once the others fence it, the cluster no longer lists it: ps says it is down and which replicas it left.
    await until(
      'ps to show broker-2 down',
      async () => {
        const at = first.out.length;
        first.type('ps');
        const line = await first.waitFor(/^ {2}brokers: /, 30_000, at);
        return /broker-2 down/.test(line) ? line : undefined;
      },
      60_000,
      500,
    );
    first.type('start-broker 2');
    await first.waitFor(/^broker-2 started and back in every in-sync replica set after/, 180_000, from);
    // A killed broker has the others retry it for seconds (~620 lines in 9 s seen on the terminal): they stay in the files.
    const brokerLines = first.out.slice(from).filter((l) => l.startsWith('[broker-'));
    assert.ok(brokerLines.length <= 40, `${brokerLines.length} broker lines on the terminal:\n${brokerLines.join('\n')}`);
    assert.deepEqual(first.out.filter((l) => l.startsWith('[broker-') && !/^\[broker-\d\] \S+ (WARN|ERROR|FATAL) /.test(l)), [], 'only warnings and errors of brokers reach the terminal');
    const logsFrom = first.out.length;
    first.type('logs broker-2 2');
    const logsHeader = await first.waitFor(/^--- broker-2: /, 10_000, logsFrom);
    assert.equal(logsHeader, `--- broker-2: last 2 line(s); the whole log: ${join(dataDir, 'kafka', 'broker-2', 'broker.log')}`);
    assert.match(readFileSync(join(dataDir, 'kafka', 'broker-2', 'broker.log'), 'utf8'), /Kafka Server started/);

    // Another data dir, the same broker ports: refused before anything starts, naming the broker and the option.
    const otherDir = mkdtempSync(join(tmpdir(), `launcher-kafka-${runId}-other-`));
    try {
      const other = await findFreeBasePort(3, 29900 + 3 * Math.floor(Math.random() * 30));
      const second = launch(['--queue', 'kafka', '--kafka-base-port', String(kafkaBase), '--data-dir', otherDir, '--port', String(other), '--logging', '0', '--messages', '0']);
      assert.notEqual((await second.exited).code, 0);
      assert.equal(second.err.length, 1, second.err.join('\n'));
      assert.match(second.err[0]!, new RegExp(`port ${kafkaBase} \\(for broker-1\\) is already in use by a Kafka broker \\(pid \\d+.*--kafka-base-port P`));
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('SIGKILL of the launcher leaves no broker, service or port behind within 30 s', { timeout: 120_000 }, async () => {
    const rec = readPidFile(pidFileIn(dataDir));
    assert.ok(rec);
    assert.deepEqual(rec.children.filter((r) => r.name.startsWith('broker-')).map((r) => r.name).sort(), ['broker-1', 'broker-2', 'broker-3'], JSON.stringify(rec.children));
    first.child.kill('SIGKILL');
    await first.exited;
    const ports = [0, 1, 2].flatMap((i) => [kafkaBase + i, kafkaBase + 10_000 + i]).concat([base, base + 1, base + 2]);
    await untilGone('brokers and services of the killed launcher to exit and free their ports', rec.children, join(dataDir, 'kafka'), ports);
    assert.deepEqual(processesWith(`--data-dir ${dataDir}`), [], 'no service left');
  });
});
