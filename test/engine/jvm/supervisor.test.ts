import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { JvmSupervisor, type ProcessSlot } from '../../../src/engine/jvm/supervisor.js';

/**
 * A stand-in for a JVM: prints its pid, then "READY" after `readyAfterMs`
 * (or never), a few lines each on stdout and stderr, and then stays up until
 * signalled; `ignoreTerm` makes it ignore SIGTERM as a member handing data
 * over may, `exitCode` makes it exit instead of becoming ready.
 */
function fakeJvm(o: { readyAfterMs?: number; ignoreTerm?: boolean; exitCode?: number } = {}): string[] {
  const script = `
    console.log('pid ' + process.pid);
    console.error('WARN something on stderr');
    ${o.ignoreTerm ? "process.on('SIGTERM', () => console.log('ignoring SIGTERM'));" : ''}
    ${o.exitCode !== undefined ? `setTimeout(() => { console.log('failing'); process.exit(${o.exitCode}); }, 20);` : ''}
    ${o.readyAfterMs !== undefined ? `setTimeout(() => console.log('READY'), ${o.readyAfterMs});` : ''}
    setInterval(() => {}, 1000);
  `;
  return ['-e', script];
}

interface Slot extends ProcessSlot {
  pid?: number;
  lines: number;
}

class TestError extends Error {}

const dirs: string[] = [];
// Every fake is killed and every supervisor closed at the end even when a test fails half-way: a fake left running would keep this file's process up.
const supervisors: Array<{ sup: JvmSupervisor<Slot>; slots: Slot[] }> = [];
after(async () => {
  await Promise.all(supervisors.map(({ sup, slots }) => Promise.all(slots.map((s) => (s.child ? sup.terminate(s, 'SIGKILL') : undefined))).then(() => sup.close())));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function setup(count = 1, stopTimeoutMs = 10_000) {
  const dir = mkdtempSync(join(tmpdir(), 'supervisor-'));
  dirs.push(dir);
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, label: `fake ${index}`, started: false, tail: [], lines: 0 }));
  const logged: string[] = [];
  const spawned: Array<{ index: number; pid: number; marker: string }> = [];
  const sup = new JvmSupervisor<Slot>(slots, {
    error: (m) => new TestError(m),
    stopTimeoutMs,
    onLine: (s, line) => {
      s.lines++;
      const pid = /^pid (\d+)$/.exec(line);
      if (pid) s.pid = Number(pid[1]);
      if (line === 'READY') s.started = true;
      return line.startsWith('pid') ? undefined : `${line} (seen)`;
    },
    reset: (s) => {
      s.lines = 0;
    },
    onLog: (i, line) => logged.push(`${i}: ${line}`),
    onSpawn: (index, pid, marker) => spawned.push({ index, pid, marker }),
  });
  supervisors.push({ sup, slots });
  const launch = (s: Slot, args: string[], tieToParent = false) =>
    sup.launch(s, { command: process.execPath, args, tieToParent, logFile: join(dir, 'logs', `fake-${s.index}.log`), marker: `fake-${s.index}` });
  return { dir, slots, sup, logged, spawned, launch };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('JvmSupervisor', () => {
  test('waits for the readiness the runner reads in the output; keeps a tail and a log file; passes on what the runner returns', async () => {
    const { sup, slots, logged, spawned, launch, dir } = setup();
    const s = slots[0]!;
    launch(s, fakeJvm({ readyAfterMs: 50 }));
    assert.equal(spawned.length, 1);
    assert.equal(spawned[0]!.marker, 'fake-0');
    await sup.until(() => s.started, 10_000, () => 'waiting for fake 0', [s]);
    assert.deepEqual(sup.running(), [s]);
    assert.ok(s.tail.includes('READY'), s.tail.join('|'));
    assert.ok(logged.includes('0: READY (seen)'), logged.join('|'));
    assert.ok(logged.includes('0: WARN something on stderr (seen)'), 'stderr is read too');
    assert.ok(!logged.some((l) => l.includes('pid')), 'a line the runner drops is not passed on');
    await sup.terminate(s, 'SIGTERM');
    assert.equal(s.child, undefined);
    assert.equal(s.started, false);
    assert.equal(s.lines, 0, 'reset runs on exit');
    assert.match(s.tail.at(-1)!, /^\[exited with SIGTERM\]$/);
    await sup.close();
    const file = readFileSync(join(dir, 'logs', 'fake-0.log'), 'utf8');
    assert.match(file, /^pid \d+$/m, 'the file has every line, also those not passed on');
    assert.match(file, /^READY$/m);
  });

  test('a wait fails at once, naming the process and its last lines, when a watched process exits', async () => {
    const { sup, slots, launch } = setup();
    const s = slots[0]!;
    launch(s, fakeJvm({ exitCode: 3 }));
    const t0 = Date.now();
    await assert.rejects(sup.until(() => s.started, 60_000, () => 'waiting for fake 0 to start', [s]), (e: Error) => {
      assert.ok(e instanceof TestError);
      assert.match(e.message, /^fake 0 exited while waiting for fake 0 to start\./);
      assert.match(e.message, /last output of fake 0:[\s\S]*failing[\s\S]*\[exited with code 3\]/);
      return true;
    });
    assert.ok(Date.now() - t0 < 30_000, 'did not wait for the timeout');
    await sup.close();
  });

  test('a wait times out with the given message', async () => {
    const { sup, slots, launch } = setup();
    const s = slots[0]!;
    launch(s, fakeJvm());
    // Once it has printed (a loaded machine can take longer than the timeout below just to start node).
    await sup.until(() => s.pid !== undefined, 30_000, () => 'waiting for fake 0 to print', [s]);
    await assert.rejects(sup.until(() => s.started, 300, () => 'waiting for fake 0', [s]), /timed out after 300 ms waiting for fake 0\.\nlast output of fake 0:/);
    await sup.terminate(s, 'SIGKILL');
    assert.equal(s.child, undefined);
    await sup.close();
  });

  test('poll asks until the answer is yes, names the last error on timeout, and stops when a watched process exits', async () => {
    const { sup, slots, launch } = setup();
    const s = slots[0]!;
    let asked = 0;
    await sup.poll(async () => ++asked >= 3, 10_000, 'asking', [], 10);
    assert.equal(asked, 3);
    await assert.rejects(
      sup.poll(() => Promise.reject(new Error('connection refused')), 200, 'asking the fake', [], 20),
      /timed out after 200 ms asking the fake \(last error: connection refused\)/,
    );
    launch(s, fakeJvm({ exitCode: 1 }));
    await assert.rejects(sup.poll(async () => false, 60_000, 'asking the fake', [s], 20), /fake 0 exited while asking the fake/);
    await sup.close();
  });

  test('a SIGTERM the process ignores turns into SIGKILL after the grace period', async () => {
    const { sup, slots, launch } = setup(1, 60_000);
    const s = slots[0]!;
    launch(s, fakeJvm({ readyAfterMs: 0, ignoreTerm: true }));
    await sup.until(() => s.started && s.pid !== undefined, 10_000, () => 'waiting for fake 0', [s]);
    const t0 = Date.now();
    const stopped = sup.terminate(s, 'SIGTERM', 300);
    await sup.until(() => s.tail.includes('ignoring SIGTERM'), 30_000, () => 'waiting for fake 0 to ignore SIGTERM', []);
    await stopped;
    assert.ok(Date.now() - t0 >= 300, 'not killed before the grace period');
    assert.match(s.tail.at(-1)!, /\[exited with SIGKILL\]/);
    await sup.close();
  });

  test('tied to the parent: the process runs under the wrapper and a signal to the group reaches it', async () => {
    const { sup, slots, launch, spawned } = setup();
    const s = slots[0]!;
    launch(s, fakeJvm({ readyAfterMs: 0 }), true);
    await sup.until(() => s.started && s.pid !== undefined, 10_000, () => 'waiting for fake 0', [s]);
    assert.notEqual(s.pid, spawned[0]!.pid, 'the program is a child of the wrapper, whose pid onSpawn reports');
    assert.ok(alive(s.pid!));
    await sup.terminate(s, 'SIGKILL');
    // The wrapper's exit is seen; the program, in the same group, got the same SIGKILL.
    const deadline = Date.now() + 10_000;
    while (alive(s.pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!alive(s.pid!), 'the program is gone with its wrapper');
    await sup.close();
  });

  test('a restart gets a fresh tail; an earlier process ending late does not clear the new one', async () => {
    const { sup, slots, launch } = setup();
    const s = slots[0]!;
    launch(s, fakeJvm({ readyAfterMs: 0 }));
    await sup.until(() => s.started, 10_000, () => 'first start', [s]);
    const first = s.child!;
    const firstExited = s.exited!;
    launch(s, fakeJvm({ readyAfterMs: 0 }));
    const second = s.child;
    assert.notEqual(second, first);
    assert.ok(!s.tail.includes('READY'), 'the tail starts empty');
    await sup.until(() => s.started, 10_000, () => 'second start', [s]);
    first.kill('SIGKILL');
    await firstExited;
    assert.equal(s.child, second, 'still the running process');
    assert.equal(s.started, true);
    await sup.terminate(s, 'SIGTERM');
    assert.equal(s.child, undefined);
    await sup.close();
  });

  test('slotAt names the valid indexes; close is idempotent and leaves no exit hook', async () => {
    const { sup } = setup(2);
    assert.throws(() => sup.slotAt(2), /no process index 2; indexes run 0..1/);
    const hooks = process.listenerCount('exit');
    await Promise.all([sup.close(), sup.close()]);
    assert.equal(process.listenerCount('exit'), hooks - 1);
  });

  test('long lines are cut in the tail, whole in the file; the tail keeps the last 30', async () => {
    const { sup, slots, dir } = setup();
    const s = slots[0]!;
    const script = `for (let i = 0; i < 40; i++) console.log('line ' + i); console.log('x'.repeat(1000)); console.log('READY'); setInterval(() => {}, 1000);`;
    sup.launch(s, { command: process.execPath, args: ['-e', script], tieToParent: false, logFile: join(dir, 'long.log'), marker: 'm' });
    await sup.until(() => s.started, 10_000, () => 'waiting', [s]);
    assert.equal(s.tail.length, 30);
    assert.equal(s.tail.at(-1), 'READY');
    assert.equal(s.tail.at(-2), 'x'.repeat(400) + '…');
    await sup.terminate(s, 'SIGTERM');
    await sup.close();
    assert.ok(existsSync(join(dir, 'long.log')));
    assert.match(readFileSync(join(dir, 'long.log'), 'utf8'), new RegExp(`^${'x'.repeat(1000)}$`, 'm'));
  });
});
