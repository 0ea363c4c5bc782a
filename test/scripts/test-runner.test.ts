import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collect, label, parseEvents, passed, summaryLines, type ReporterEvent, type TestRun } from '../../scripts/test-summary.js';
import { EMBEDDED_ONLY_ENV, gate } from '../helpers/gate.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const f = (name: string) => join(root, 'test', name);
const WHY = 'Hazelcast tests skipped: java is not on PATH (install a Java 17+ runtime)';

/** Events as node:test emits them for: a skipped suite, a suite with a pass, a skip, a todo, a failure, and the closing counts. */
const events: ReporterEvent[] = [
  { type: 'test:start', nesting: 0, name: 'hazelcast engine', file: f('engine/hz.test.ts') },
  { type: 'test:pass', nesting: 0, name: 'hazelcast engine', file: f('engine/hz.test.ts'), skip: WHY, suite: true },
  { type: 'test:start', nesting: 0, name: 'faults', file: f('integration/faults.test.ts') },
  { type: 'test:start', nesting: 1, name: 'embedded', file: f('integration/faults.test.ts') },
  { type: 'test:pass', nesting: 1, name: 'embedded', file: f('integration/faults.test.ts') },
  { type: 'test:start', nesting: 1, name: 'hazelcast', file: f('integration/faults.test.ts') },
  { type: 'test:pass', nesting: 1, name: 'hazelcast', file: f('integration/faults.test.ts'), skip: WHY },
  { type: 'test:start', nesting: 1, name: 'later', file: f('integration/faults.test.ts') },
  { type: 'test:pass', nesting: 1, name: 'later', file: f('integration/faults.test.ts'), todo: true },
  { type: 'test:start', nesting: 1, name: 'flaky', file: f('integration/faults.test.ts') },
  { type: 'test:fail', nesting: 1, name: 'flaky', file: f('integration/faults.test.ts') },
  { type: 'test:fail', nesting: 0, name: 'faults', file: f('integration/faults.test.ts'), suite: true },
  { type: 'test:start', nesting: 0, name: 'no reason', file: f('unit/x.test.ts') },
  { type: 'test:pass', nesting: 0, name: 'no reason', file: f('unit/x.test.ts'), skip: true },
  { type: 'test:diagnostic', nesting: 1, message: 'pass 99' },
  ...['tests 4', 'suites 2', 'pass 1', 'fail 1', 'cancelled 0', 'skipped 2', 'todo 1', 'duration_ms 12.5'].map(
    (message): ReporterEvent => ({ type: 'test:diagnostic', nesting: 0, message }),
  ),
];

describe('test summary: collecting node:test events', () => {
  const run = collect(events);

  test('every skipped suite and test is collected with its full name, its file and its reason', () => {
    assert.deepEqual(
      run.skipped.map((s) => [s.file && s.file.slice(root.length + 1), s.path.join(' › '), s.suite, s.reason]),
      [
        ['test/engine/hz.test.ts', 'hazelcast engine', true, WHY],
        ['test/integration/faults.test.ts', 'faults › hazelcast', false, WHY],
        ['test/unit/x.test.ts', 'no reason', false, 'no reason given'],
      ],
    );
  });

  test('a failed test is named, not again the suite it failed', () => {
    assert.deepEqual(run.failed.map((x) => x.path.join(' › ')), ['faults › flaky']);
  });

  test("a suite that fails with nothing inside failed (a hook) is named", () => {
    const r = collect([
      { type: 'test:start', nesting: 0, name: 'cluster', file: f('a.test.ts') },
      { type: 'test:fail', nesting: 0, name: 'cluster', file: f('a.test.ts'), suite: true },
    ]);
    assert.deepEqual(r.failed.map((x) => x.path), [['cluster']]);
  });

  test("node's closing counts are read from the top-level diagnostics only", () => {
    assert.deepEqual(run.counts, { tests: 4, suites: 2, pass: 1, fail: 1, cancelled: 0, skipped: 2, todo: 1 });
  });

  // A file that fails outside any test: node 20 names it by its absolute path, 22 and later by the
  // path relative to the runner's working directory (the repository root). Shapes as each emits them.
  for (const [node, name] of [['20', f('fixtures/gated.fixture.ts')], ['22+', 'test/fixtures/gated.fixture.ts']] as const) {
    test(`a file failing outside any test is named as the file itself (node ${node})`, () => {
      const r = collect([
        { type: 'test:start', nesting: 0, name, file: f('fixtures/gated.fixture.ts'), suite: false },
        { type: 'test:fail', nesting: 0, name, file: f('fixtures/gated.fixture.ts'), suite: false },
      ]);
      assert.deepEqual(r.failed.map((x) => label(x, root)), ['test/fixtures/gated.fixture.ts (the file itself, outside any test)']);
    });
  }

  test('a test that merely shares a name with another file is named as a test', () => {
    const r = collect([
      { type: 'test:start', nesting: 0, name: 'test/other.test.ts', file: f('fixtures/gated.fixture.ts') },
      { type: 'test:fail', nesting: 0, name: 'test/other.test.ts', file: f('fixtures/gated.fixture.ts') },
    ]);
    assert.deepEqual(r.failed.map((x) => label(x, root)), ['test/fixtures/gated.fixture.ts › test/other.test.ts']);
  });

  test('the closing counts of several runs (one selection run in parts) add up', () => {
    const closing = (pass: number, fail: number): ReporterEvent[] =>
      [`pass ${pass}`, `fail ${fail}`, 'cancelled 0'].map((message) => ({ type: 'test:diagnostic', nesting: 0, message }));
    assert.deepEqual(collect([...closing(400, 0), ...closing(19, 1)]).counts, { pass: 419, fail: 1, cancelled: 0 });
  });

  test('a torn last line of the events file is ignored', () => {
    const text = events.slice(0, 2).map((e) => JSON.stringify(e)).join('\n') + '\n{"type":"test:pa';
    assert.equal(collect(parseEvents(text)).skipped.length, 1);
  });
});

describe('test summary: the closing lines', () => {
  const clean: TestRun = { skipped: [], failed: [], counts: { pass: 270, fail: 0, cancelled: 0 } };

  test('a clean run ends with one line saying so and that nothing was skipped', () => {
    const lines = summaryLines(clean, { exitCode: 0, root });
    assert.deepEqual(lines.slice(-2), ['tests passed: nothing skipped', 'tests: 270 passed, 0 failed, 0 skipped']);
    assert.ok(passed(clean, 0));
  });

  test('the closing line names what ran and on which Node', () => {
    const lines = summaryLines(clean, { exitCode: 0, root, selection: 'unit + embedded integration', node: 'v26.12.1' });
    assert.equal(lines.at(-2), 'tests passed (unit + embedded integration on Node v26.12.1): nothing skipped');
    const failed = summaryLines({ ...clean, counts: { pass: 269, fail: 1 } }, { exitCode: 1, root, selection: 'full suite', node: 'v20.19.0' });
    assert.deepEqual(failed.slice(-2), ['TESTS FAILED (exit 1) (full suite on Node v20.19.0): nothing skipped', 'tests: 269 passed, 1 failed, 0 skipped']);
  });

  test('skips are listed one a line, and the last line gives their number and reason', () => {
    const run = collect(events.filter((e) => e.type !== 'test:fail' && e.name !== 'no reason'));
    run.counts.fail = 0;
    const lines = summaryLines(run, { exitCode: 0, root, notReady: ['Hazelcast: java is not on PATH'] });
    assert.deepEqual(lines.slice(-5), [
      `skipped suite: test/engine/hz.test.ts › hazelcast engine — ${WHY}`,
      `skipped test: test/integration/faults.test.ts › faults › hazelcast — ${WHY}`,
      'not ready: Hazelcast: java is not on PATH',
      `tests passed: skipped 1 suite and 1 test: ${WHY}`,
      'tests: 1 passed, 0 failed, 2 skipped',
    ]);
  });

  test('different reasons are counted apart on the last line', () => {
    const lines = summaryLines(collect(events), { exitCode: 1, root });
    assert.match(lines.at(-2)!, /^TESTS FAILED \(exit 1\): skipped 1 suite and 2 tests: 2× Hazelcast tests skipped: .*; 1× no reason given$/);
    assert.equal(lines.at(-1), 'tests: 1 passed, 1 failed, 3 skipped');
    assert.ok(lines.includes('failed: test/integration/faults.test.ts › faults › flaky'));
  });

  test('a run without closing counts (the runner died) is a failure even with exit 0', () => {
    const run: TestRun = { skipped: [], failed: [], counts: {} };
    assert.equal(passed(run, 0), false);
    assert.match(summaryLines(run, { exitCode: 0, root }).at(-1)!, /^TESTS FAILED: no counts/);
  });

  test('a non-zero exit is a failure even when the counts look clean', () => {
    assert.equal(passed(clean, 1), false);
    assert.match(summaryLines(clean, { exitCode: 1, root }).at(-2)!, /^TESTS FAILED \(exit 1\)/);
  });
});

describe('gate()', () => {
  const opts = { name: 'Kafka', requireEnv: 'REQUIRE_KAFKA' };

  test('nothing missing: the tests run', () => {
    assert.equal(gate({ ...opts, missing: () => undefined }, {}), false);
  });

  test('something missing: the skip reason names the tests and what is missing', () => {
    assert.equal(gate({ ...opts, missing: () => 'the Kafka jar is missing' }, {}), 'Kafka tests skipped: the Kafka jar is missing');
  });

  test('something missing while required: a failure naming the variable', () => {
    assert.throws(() => gate({ ...opts, missing: () => 'the Kafka jar is missing' }, { REQUIRE_KAFKA: '1' }), /REQUIRE_KAFKA=1 but the Kafka jar is missing/);
  });

  test('a run of the embedded engine only (--embedded): skipped as not selected, even when required or all there', () => {
    const env = { [EMBEDDED_ONLY_ENV]: '1', REQUIRE_KAFKA: '1' };
    for (const missing of [() => undefined, () => 'the Kafka jar is missing']) {
      assert.equal(gate({ ...opts, missing }, env), 'Kafka tests skipped: not selected (--embedded runs the embedded engine only)');
    }
  });
});

/** Runs scripts/test.ts on the fixture; resolves to its exit code and output. */
function runner(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/test.ts', '--no-setup', 'test/fixtures/gated.fixture.ts'], {
      cwd: root,
      env: { ...process.env, [EMBEDDED_ONLY_ENV]: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

describe('scripts/test.ts on a real run', { timeout: 120_000 }, () => {
  const reason = 'Fixture tool tests skipped: fixture-tool is not installed (apt-get install fixture-tool)';

  test("a gated suite is skipped and named last with its reason; node's own closing lines stay; exit 0", async () => {
    const { code, out } = await runner({ REQUIRE_FIXTURE_TOOL: '' });
    const lines = out.trimEnd().split('\n');
    assert.equal(code, 0, out);
    assert.ok(lines.includes('ℹ pass 1') && lines.includes('ℹ fail 0'), out);
    assert.deepEqual(lines.slice(-3), [
      `skipped suite: test/fixtures/gated.fixture.ts › needs fixture-tool — ${reason}`,
      `tests passed (1 given file on Node ${process.version}): skipped 1 suite: ${reason}`,
      'tests: 1 passed, 0 failed, 1 skipped',
    ]);
  });

  test('the same suite required by its variable fails the run, non-zero', async () => {
    const { code, out } = await runner({ REQUIRE_FIXTURE_TOOL: '1' });
    assert.notEqual(code, 0, out);
    assert.match(out, /REQUIRE_FIXTURE_TOOL=1 but fixture-tool is not installed/);
    assert.deepEqual(out.trimEnd().split('\n').slice(-3), [
      'failed: test/fixtures/gated.fixture.ts (the file itself, outside any test)',
      `TESTS FAILED (exit 1) (1 given file on Node ${process.version}): nothing skipped`,
      'tests: 0 passed, 1 failed, 0 skipped',
    ]);
  });
});
