/**
 * `npm test`, after lint, typecheck and build:
 *   tsx scripts/test.ts [--no-setup] [--unit | --embedded] [test files…]
 *
 * What runs: every test file (the full suite, integration suites last), or
 * `--unit` the files outside test/integration (nothing readied first), or
 * `--embedded` the unit suite and then the integration suites, with every
 * suite that needs more than the embedded engine (Hazelcast, Kafka, network
 * namespaces) skipped as not selected: what needs Node and the machine only, which
 * scripts/other-nodes.sh runs on other Node versions.
 *
 * 1. Readies what gated suites need, as `npm start` does on first use: the
 *    Hazelcast member jar and the Kafka broker jars are fetched with Maven
 *    when java and mvn are there.
 *    What cannot be readied is said up front and again in the summary.
 *    `--no-setup` leaves this out (for runs that need none of it).
 * 2. Runs node's test runner over test/<dir>/<name>.test.ts (or the files given), one
 *    file at a time, with the spec reporter on stdout (its closing lines,
 *    "ℹ pass N" …, are printed as before) and scripts/test-events-reporter.mjs
 *    writing the events to a temp file.
 * 3. Ends with a summary (scripts/test-summary.ts) naming every skipped suite
 *    or test and why, or "nothing skipped", and a closing line with the
 *    selection, the Node version and the counts; exits with the runner's status.
 *
 * A new prerequisite (a Kafka jar, …) goes into PREREQUISITES; its tests use
 * the gate in test/helpers/gate.ts, whose skip reasons the summary lists.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureHazelcastJar, isHazelcastSetupError, javaAvailable } from '../src/engine/hazelcast/jar.js';
import { ensureKafkaJars, isKafkaSetupError } from '../src/engine/kafka/jars.js';
import { selection, type Phase } from './test-selection.js';
import { collect, parseEvents, passed, summaryLines } from './test-summary.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Prerequisite {
  name: string;
  /** Makes it ready; resolves to why it cannot be (its tests will skip, or fail when required), else undefined. */
  ready: () => Promise<string | undefined>;
}

const PREREQUISITES: Prerequisite[] = [
  {
    name: 'Hazelcast',
    ready: async () => {
      // Without java the jar is no use: the suites skip either way, so nothing is downloaded.
      if (!javaAvailable()) return 'java is not on PATH, so the Hazelcast suites skip (install a Java 17+ runtime)';
      try {
        await ensureHazelcastJar({ log: (line) => console.log(`test setup: hazelcast: ${line}`) });
        return undefined;
      } catch (e) {
        if (isHazelcastSetupError(e) && e.missing === 'mvn') {
          return 'mvn is not on PATH, so the member jar could not be fetched and the Hazelcast suites skip (install Maven, or see `npm run hazelcast:fetch`)';
        }
        const msg = e instanceof Error ? e.message : String(e);
        return `fetching the member jar failed, so the Hazelcast suites skip: ${msg.split('\n')[0]}`;
      }
    },
  },
  {
    name: 'Kafka',
    ready: async () => {
      if (!javaAvailable()) return 'java is not on PATH, so the Kafka suites skip (install a Java 17+ runtime)';
      try {
        await ensureKafkaJars({ log: (line) => console.log(`test setup: kafka: ${line}`) });
        return undefined;
      } catch (e) {
        if (isKafkaSetupError(e) && e.missing === 'mvn') {
          return 'mvn is not on PATH, so the broker jars could not be fetched and the Kafka suites skip (install Maven, or see `npm run kafka:fetch`)';
        }
        const msg = e instanceof Error ? e.message : String(e);
        return `fetching the broker jars failed, so the Kafka suites skip: ${msg.split('\n')[0]}`;
      }
    },
  },
];

/** Set by Ctrl-C or SIGTERM: the phase running ends its tests, no further phase starts. */
let stopRequested = false;

/** Runs node's test runner over `phase.files`, its events appended to `eventsFile`; resolves to its exit status. */
async function runPhase(phase: Phase, eventsFile: string): Promise<number> {
  const reporter = pathToFileURL(join(root, 'scripts', 'test-events-reporter.mjs')).href;
  // Started from inside a test (the runner's own test), node would otherwise act as a child of that run.
  const env = { ...process.env, ...phase.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', '--test', '--test-concurrency=1',
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      `--test-reporter=${reporter}`, `--test-reporter-destination=${eventsFile}`,
      ...phase.files,
    ],
    { cwd: root, stdio: 'inherit', env },
  );
  // Stay for the summary: pass a stop request on and let the runner end its tests.
  const forward = (sig: NodeJS.Signals) => {
    stopRequested = true;
    child.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    return await new Promise<number>((res) => {
      child.on('error', (e) => {
        console.error(`could not start node's test runner: ${e.message}`);
        res(1);
      });
      child.on('close', (code, signal) => res(code ?? (signal ? 1 : 0)));
    });
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}

async function main(argv: string[]): Promise<number> {
  const sel = selection(argv, root);
  if (typeof sel === 'string') {
    console.error(`${sel}; usage: tsx scripts/test.ts [--no-setup] [--unit | --embedded] [test files…]`);
    return 2;
  }
  console.log(`test run: ${sel.name} on Node ${process.version} (${process.execPath})`);

  const notReady: string[] = [];
  if (sel.setup) {
    for (const p of PREREQUISITES) {
      const why = await p.ready();
      if (why) {
        notReady.push(`${p.name}: ${why}`);
        console.log(`test setup: ${p.name} not ready: ${why}`);
      }
    }
  }

  const tmp = mkdtempSync(join(tmpdir(), 'test-events-'));
  try {
    let exitCode = 0;
    let text = '';
    let countsMissing = false;
    for (const [i, phase] of sel.phases.entries()) {
      if (stopRequested) {
        console.log(`test run: stopped; ${sel.phases.length - i} of ${sel.phases.length} parts not run`);
        if (exitCode === 0) exitCode = 130;
        break;
      }
      const eventsFile = join(tmp, `events-${i}.jsonl`);
      const code = await runPhase(phase, eventsFile);
      if (exitCode === 0) exitCode = code;
      let events = '';
      try {
        events = readFileSync(eventsFile, 'utf8');
      } catch {
        // No events at all: see below.
      }
      // A part without closing counts (its runner died): the summary says the counts are missing and fails.
      if (collect(parseEvents(events)).counts.pass === undefined) countsMissing = true;
      text += events.endsWith('\n') || !events ? events : `${events}\n`;
    }
    const run = collect(parseEvents(text));
    if (countsMissing) run.counts = {};
    for (const line of summaryLines(run, { exitCode, root, notReady, selection: sel.name, node: process.version })) console.log(line);
    return exitCode !== 0 ? exitCode : passed(run, exitCode) ? 0 : 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

process.exitCode = await main(process.argv.slice(2));
