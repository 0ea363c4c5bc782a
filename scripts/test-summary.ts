/**
 * What `npm test` says last: from node:test's events (as written by
 * scripts/test-events-reporter.mjs) it collects every skipped suite or test
 * with its reason, the failures, and node's own closing counts, and turns
 * them into the summary lines scripts/test.ts prints.
 *
 * Node's "ℹ skipped N" counts skipped tests only, not skipped suites (a
 * describe() with `skip` disappears from it with all its tests), so the
 * skips are collected here from the events instead.
 */
import { relative, resolve } from 'node:path';

export interface ReporterEvent {
  type: 'test:start' | 'test:pass' | 'test:fail' | 'test:diagnostic';
  name?: string;
  nesting?: number;
  file?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  message?: string;
  /** A describe() block rather than a test. */
  suite?: boolean;
}

export interface TestItem {
  file?: string;
  /** Names from the outermost suite down to the item itself. */
  path: string[];
  suite: boolean;
  /** The skip reason, for skipped items. */
  reason?: string;
}

const COUNTS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'] as const;
export type CountName = (typeof COUNTS)[number];

export interface TestRun {
  skipped: TestItem[];
  failed: TestItem[];
  /** node's closing counts ("ℹ pass 270" …); absent when the runner never got there. */
  counts: Partial<Record<CountName, number>>;
}

const NO_REASON = 'no reason given';

/** Parses the reporter's JSON lines; a line that is not one (a torn last write) is ignored. */
export function parseEvents(text: string): ReporterEvent[] {
  const out: ReporterEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as ReporterEvent);
    } catch {
      // ignored, see above
    }
  }
  return out;
}

/**
 * `events` may hold several runs of node's test runner one after the other
 * (scripts/test.ts --embedded makes two): their closing counts are added up.
 */
export function collect(events: Iterable<ReporterEvent>): TestRun {
  const run: TestRun = { skipped: [], failed: [], counts: {} };
  // The names of the suites the current test sits in. One stack for the run: scripts/test.ts runs one
  // file at a time, and a suite defined in a helper (test/engine/contract.ts) nests in the test file's.
  const stack: string[] = [];
  for (const e of events) {
    const nesting = e.nesting ?? 0;
    if (e.type === 'test:diagnostic') {
      // One set of closing counts per run of the runner; a selection made of several runs adds them up.
      const m = nesting === 0 ? /^(\w+) (\d+)$/.exec(e.message ?? '') : null;
      if (m && (COUNTS as readonly string[]).includes(m[1]!)) run.counts[m[1] as CountName] = (run.counts[m[1] as CountName] ?? 0) + Number(m[2]);
      continue;
    }
    const name = e.name ?? '(unnamed)';
    if (e.type === 'test:start') {
      stack.length = nesting;
      stack[nesting] = name;
      continue;
    }
    const item: TestItem = { file: e.file, path: [...Array.from({ length: nesting }, (_, i) => stack[i] ?? '?'), name], suite: e.suite === true };
    if (e.type === 'test:pass' && e.skip !== undefined && e.skip !== false) {
      run.skipped.push({ ...item, reason: oneLine(typeof e.skip === 'string' && e.skip.trim() ? e.skip : NO_REASON) });
    } else if (e.type === 'test:fail') {
      // A suite fails when a test in it does; name it only when nothing inside it was named (a failed hook).
      const inside = (f: TestItem) => f.file === item.file && item.path.every((p, i) => f.path[i] === p);
      if (!item.suite || !run.failed.some(inside)) run.failed.push(item);
    }
  }
  return run;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * A file that fails outside any test (it threw while loading, or exited
 * non-zero) is reported as a test named after the file: node 20 names it by
 * its absolute path, node 22 and later by its path relative to the runner's
 * working directory (scripts/test.ts runs it in the repository root).
 */
export function isFileItself(item: TestItem, root: string): boolean {
  return item.file !== undefined && item.path.length === 1 && resolve(root, item.path[0]!) === item.file;
}

export function label(item: TestItem, root: string): string {
  const names = item.path.join(' › ');
  if (!item.file) return names;
  const file = relative(root, item.file) || item.file;
  return isFileItself(item, root) ? `${file} (the file itself, outside any test)` : `${file} › ${names}`;
}

export interface SummaryOptions {
  /** The test runner's exit status. */
  exitCode: number;
  /** Repository root, to print test files relative to it. */
  root: string;
  /** Prerequisites that could not be readied, and why ("Hazelcast: java is not on PATH …"). */
  notReady?: string[];
  /** What ran ("full suite", "unit + embedded integration", …), named in the closing line with `node`. */
  selection?: string;
  /** The Node version the tests ran on (`process.version`). */
  node?: string;
}

/**
 * The closing lines: each failure, each skip with its reason, each
 * prerequisite that could not be readied, then one verdict line that gives
 * what ran on which Node, the counts and the reasons for anything skipped
 * (or "nothing skipped").
 */
export function summaryLines(run: TestRun, opts: SummaryOptions): string[] {
  const lines = ['', '── test summary ──'];
  for (const f of run.failed) lines.push(`failed: ${label(f, opts.root)}`);
  for (const s of run.skipped) lines.push(`skipped ${s.suite ? 'suite' : 'test'}: ${label(s, opts.root)} — ${s.reason}`);
  for (const n of opts.notReady ?? []) lines.push(`not ready: ${n}`);

  const c = run.counts;
  const counted = c.pass !== undefined && c.fail !== undefined;
  const parts: string[] = [];
  if (!counted) parts.push("no counts from node's test runner (it stopped early)");
  else if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
  parts.push(skippedPart(run.skipped));
  const what = [opts.selection, opts.node && `on Node ${opts.node}`].filter(Boolean).join(' ');
  const verdict = passed(run, opts.exitCode) ? 'tests passed' : `TESTS FAILED${opts.exitCode !== 0 ? ` (exit ${opts.exitCode})` : ''}`;
  lines.push(`${verdict}${what ? ` (${what})` : ''}: ${parts.join(', ')}`);
  // The counts alone on the last line, in the plain form CI reads ("tests: N passed, N failed, N skipped").
  if (counted) lines.push(`tests: ${c.pass} passed, ${c.fail} failed, ${run.skipped.length} skipped`);
  return lines;
}

/** The run passed: the runner exited 0 and its closing counts say nothing failed. */
export function passed(run: TestRun, exitCode: number): boolean {
  const c = run.counts;
  return exitCode === 0 && c.pass !== undefined && c.fail === 0 && !c.cancelled;
}

function skippedPart(skipped: TestItem[]): string {
  if (skipped.length === 0) return 'nothing skipped';
  const suites = skipped.filter((s) => s.suite).length;
  const tests = skipped.length - suites;
  const what = [suites && `${suites} suite${suites === 1 ? '' : 's'}`, tests && `${tests} test${tests === 1 ? '' : 's'}`].filter(Boolean).join(' and ');
  const byReason = new Map<string, number>();
  for (const s of skipped) byReason.set(s.reason ?? NO_REASON, (byReason.get(s.reason ?? NO_REASON) ?? 0) + 1);
  const why = [...byReason].map(([reason, n]) => (byReason.size > 1 ? `${n}× ${reason}` : reason)).join('; ');
  return `skipped ${what}: ${why}`;
}
