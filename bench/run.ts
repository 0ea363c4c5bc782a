/**
 * `npm run bench [-- --duration 15 --connections 64 --warmup 15 --only embedded,hazelcast,kafka,reference
 *                    --skip-read --read-sizes 1000,10000,100000 --read-budget 20 --log-level info
 *                    --drain-timeout 60 --reference-runs 2 --out bench/results]`
 *
 * A benchmark, not a test. Loads a minimal two-hop reference pipeline and then
 * the system (embedded engine, then Hazelcast when java and the jar are there,
 * then the Hazelcast log with the queue on 3 Kafka brokers when their jars are)
 * the same way, measures the write path, the drain, the read path and memory,
 * prints a Markdown report with system/reference ratios and PASS/MISS per
 * target, and writes it to bench/results/ (latest.md/json and a dated copy).
 * `--only embedded` still runs the reference (the ratios need it); it runs
 * once before and once after the systems, and the ratios use the mean.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAIN_JS } from '../src/topology/topology.js';
import { findHazelcastJar, javaAvailable } from '../src/engine/hazelcast/jar.js';
import { findKafkaClasspath } from '../src/engine/kafka/jars.js';
import { parseArgv } from '../src/shared/settings.js';
import { runLoad, type LoadResult } from './load.js';
import { CpuMeter, type CpuUse } from './cpu.js';
import { machineInfo } from './machine.js';
import { MemorySampler, snapshot, type Tracked } from './memory.js';
import { readPath } from './reads.js';
import { startReference } from './reference.js';
import { evaluateTargets, isRun, renderMarkdown, SYSTEM_KINDS, type BenchReport, type MemoryRow, type ReferenceResult, type SystemKind, type SystemResult } from './report.js';
import { BenchSystem } from './system.js';

const here = fileURLToPath(new URL('.', import.meta.url));

interface Options {
  durationS: number;
  connections: number;
  warmupS: number;
  only: Array<'reference' | SystemKind>;
  skipRead: boolean;
  readSizes: number[];
  readBudgetS: number;
  viaFacadeMax: number;
  logLevel: string | null;
  drainTimeoutS: number;
  referenceRuns: number;
  out: string;
}

function options(): Options {
  const { flags } = parseArgv(process.argv.slice(2));
  const known = new Set(['duration', 'connections', 'warmup', 'only', 'skip-read', 'read-sizes', 'read-budget', 'fill-via-facade', 'log-level', 'drain-timeout', 'reference-runs', 'out', 'help']);
  for (const k of flags.keys()) if (!known.has(k)) fail(`unknown flag --${k}; known: ${[...known].map((x) => `--${x}`).join(' ')}`);
  if (flags.has('help')) {
    console.log('npm run bench -- [--duration S] [--connections N] [--warmup S] [--only reference|embedded|hazelcast|kafka|traced[,…]] [--skip-read]');
    console.log('                 [--read-sizes 1000,10000,100000] [--read-budget S] [--fill-via-facade N] [--log-level L] [--drain-timeout S] [--reference-runs 1|2] [--out DIR]');
    process.exit(0);
  }
  const num = (k: string, d: number, min: number) => {
    const v = flags.get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) fail(`--${k} must be a number ≥ ${min}, got "${v}"`);
    return n;
  };
  const onlyRaw = flags.get('only');
  const kinds = ['reference', 'embedded', 'hazelcast', 'kafka', 'traced'] as const;
  let only: Options['only'] = [...kinds];
  if (onlyRaw) {
    const asked = onlyRaw.split(',').map((s) => s.trim());
    for (const a of asked) if (!(kinds as readonly string[]).includes(a)) fail(`--only takes ${kinds.join('|')} (comma-separated), got "${a}"`);
    // The ratios need the reference: it runs unless nothing else was asked for.
    only = kinds.filter((k) => k === 'reference' || asked.includes(k));
  }
  const sizes = (flags.get('read-sizes') ?? '1000,10000,100000').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) fail('--read-sizes takes comma-separated positive integers');
  return {
    durationS: num('duration', 15, 1),
    connections: Math.floor(num('connections', 64, 1)),
    // Long enough for every process to reach its steady state: in 5 s
    // windows of a load on a fresh Hazelcast topology (bench/warmup-curve.ts)
    // the first three windows ran at 1.0k–3.6k msg/s with a p99 of 40–233 ms
    // while the members' JIT compiled their hot paths; from 15 s on they
    // varied only with the machine (2.7k–4.7k msg/s, 34–58 ms). The warm-up's
    // own figures are reported (not counted) and its errors are counted.
    warmupS: num('warmup', 15, 0),
    only,
    skipRead: flags.get('skip-read') === 'true',
    readSizes: sizes,
    readBudgetS: num('read-budget', 20, 1),
    viaFacadeMax: num('fill-via-facade', 10_000, 0),
    logLevel: flags.get('log-level') ?? null,
    drainTimeoutS: num('drain-timeout', 60, 1),
    referenceRuns: Math.min(2, Math.floor(num('reference-runs', 2, 1))),
    out: resolve(flags.get('out') ?? join(here, 'results')),
  };
}

function fail(msg: string): never {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

const log = (s: string) => console.log(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Everything that must stop on the way out, newest last.
const cleanups: Array<() => Promise<void>> = [];
async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    const c = cleanups.pop()!;
    await c().catch((err: Error) => console.error(`cleanup failed: ${err.message}`));
  }
}
function forget(c: () => Promise<void>): void {
  const i = cleanups.indexOf(c);
  if (i >= 0) cleanups.splice(i, 1);
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${sig}: stopping everything…`);
    void cleanupAll().then(() => process.exit(130));
  });
}

function memoryRows(tracked: Tracked[], idle: Map<string, { rssMb: number }>, load: Map<string, number>, reads: Map<string, number> | null): MemoryRow[] {
  const hwm = snapshot(tracked);
  return tracked.map((t) => ({
    name: t.name,
    kind: t.kind,
    idleMb: idle.get(t.name)?.rssMb ?? null,
    loadPeakMb: load.get(t.name) ?? null,
    readPeakMb: reads?.get(t.name) ?? null,
    hwmMb: hwm.get(t.name)?.hwmMb ?? null,
  }));
}

function describeLoad(l: LoadResult): string {
  return `${l.throughput.toFixed(0)} msg/s, p50 ${l.latencyMs.p50} ms, p99 ${l.latencyMs.p99} ms, max ${l.latencyMs.max} ms, ${l.ok} ok, ${l.errors} errors${l.errors ? ` ${JSON.stringify(l.statusCodes)} (timeouts ${l.timeouts}, socket ${l.socketErrors})` : ''}`;
}

function describeCpu(c: CpuUse | null): string {
  if (!c) return '';
  const ours = Object.values(c.byProcess).reduce((a, b) => a + b, 0);
  return `\n  CPU (cores): services ${ours.toFixed(2)}, bench/load generator ${c.bench.toFixed(2)}, other work on the machine ${c.foreign.toFixed(2)}, steal ${c.steal.toFixed(2)}, load avg ${c.loadAvg}`;
}

async function benchReference(o: Options, again = false): Promise<ReferenceResult> {
  log(`\n== reference${again ? ' again (machine drift check)' : ''}: front → undici pool → store (Map) ==`);
  let stopEarly: (() => Promise<void>) | undefined;
  const ref = await startReference((stop) => cleanups.push((stopEarly = stop)));
  try {
    await sleep(1000);
    const idle = snapshot(ref.tracked);
    const warmup = o.warmupS > 0 ? await runLoad({ url: ref.frontUrl, path: '/messages', connections: o.connections, durationS: o.warmupS }) : null;
    if (warmup) log(`  warm-up: ${describeLoad(warmup)}`);
    const sampler = new MemorySampler(ref.tracked).start();
    const meter = new CpuMeter(ref.tracked);
    const load = await runLoad({ url: ref.frontUrl, path: '/messages', connections: o.connections, durationS: o.durationS });
    const cpu = meter.stop();
    const peaks = sampler.stop();
    log(`  ${describeLoad(load)}${describeCpu(cpu)}`);
    return { load, warmup, runs: [load.throughput], throughput: load.throughput, stored: await ref.count(), memory: memoryRows(ref.tracked, idle, peaks, null), cpu };
  } finally {
    await ref.stop();
    if (stopEarly) forget(stopEarly);
  }
}

async function benchSystem(kind: SystemKind, o: Options, dataRoot: string): Promise<SystemResult> {
  const kafka = kind === 'kafka';
  const traced = kind === 'traced';
  const engine = kafka ? 'hazelcast' : traced ? 'embedded' : kind;
  log(`\n== system ${kafka ? 'on the Hazelcast log with the queue on Kafka' : `on the ${engine} engine`}${traced ? ', every message traced (--trace-sample-ratio 1)' : ''}: 1 facade, 3 logging, 2 messages${engine === 'hazelcast' ? ', 3 members' : ''}${kafka ? ', 3 brokers' : ''} ==`);
  const dataDir = join(dataRoot, kind);
  const t0 = performance.now();
  const sys = await BenchSystem.create({ engine, dataDir, kafka, ...(o.logLevel ? { logLevel: o.logLevel } : {}), ...(traced ? { env: { TRACE_SAMPLE_RATIO: '1' } } : {}) });
  const stop = () => sys.stop();
  cleanups.push(stop);
  try {
    await sys.start();
    const startSeconds = (performance.now() - t0) / 1000;
    log(`  started in ${startSeconds.toFixed(1)} s`);
    await sleep(2000);
    const tracked = sys.tracked();
    const idle = snapshot(tracked);

    let warmup: LoadResult | null = null;
    if (o.warmupS > 0) {
      warmup = await runLoad({ url: sys.facadeUrl, path: '/messages', connections: o.connections, durationS: o.warmupS });
      log(`  warm-up: ${describeLoad(warmup)}`);
      const wd = await drain(sys, 0, o.drainTimeoutS);
      log(`  warm-up drained in ${wd.seconds.toFixed(2)} s${wd.timedOut ? ' — TIMED OUT: the measured load starts with a backlog' : ''}`);
      sys.resetWarnings();
    }

    const acceptedBefore = await sys.accepted();
    const consumedBefore = await sys.consumed();
    const sampler = new MemorySampler(tracked).start();
    const meter = new CpuMeter(tracked);
    const load = await runLoad({ url: sys.facadeUrl, path: '/messages', connections: o.connections, durationS: o.durationS });
    const cpu = meter.stop();
    log(`  ${describeLoad(load)}${describeCpu(cpu)}`);
    const d = await drain(sys, 0, o.drainTimeoutS);
    const loadPeaks = sampler.stop();
    const accepted = (await sys.accepted()) - acceptedBefore;
    const consumed = (await sys.consumed()) - consumedBefore;
    const consumerThroughput = consumed / (load.durationS + d.seconds);
    const logged = await sys.logged();
    log(`  drain ${d.seconds.toFixed(2)} s${d.timedOut ? ' (timed out)' : ''}; consumers ${consumerThroughput.toFixed(0)} msg/s; accepted ${accepted}, consumed ${consumed}, logged ${logged}`);
    const warnings = sys.warnings();
    const consumedBy = await sys.consumedBy();

    let reads = null;
    let readPeaks: Map<string, number> | null = null;
    // The read path is the Hazelcast one whatever the queue: not run again for the Kafka column.
    if (!o.skipRead && !kafka) {
      log('  read path: restarting logging and messages on an empty map and empty stores');
      await sys.restartEmpty(`${Date.now()}`);
      // Restarted processes have new pids.
      const readTracked = sys.tracked();
      const rs = new MemorySampler(readTracked).start();
      reads = await readPath(sys, { sizes: o.readSizes, viaFacadeMax: o.viaFacadeMax, budgetS: o.readBudgetS }, log);
      readPeaks = rs.stop();
    }
    return {
      engine: kind,
      startSeconds,
      load,
      warmup,
      accepted,
      consumed,
      drainSeconds: d.seconds,
      drainTimedOut: d.timedOut,
      consumerThroughput,
      consumedBy,
      logged,
      memory: memoryRows(sys.tracked(), idle, loadPeaks, readPeaks),
      reads,
      warnings,
      cpu,
    };
  } catch (err) {
    for (const [name, l] of sys.logs) if (l.tail.length) console.error(`--- last lines of ${name}:\n${l.tail.slice(-8).join('\n')}`);
    throw err;
  } finally {
    await sys.stop();
    forget(stop);
  }
}

/**
 * From now until the stores hold every message the facade accepted (minus `base`).
 * Requests still in flight when the load stopped are accepted a little later,
 * so the accepted count must also have stayed put for `settleMs`; the drain
 * time is when the stores first held that final count.
 */
async function drain(sys: BenchSystem, base: number, timeoutS: number, settleMs = 300): Promise<{ seconds: number; timedOut: boolean }> {
  const t0 = performance.now();
  const deadline = t0 + timeoutS * 1000;
  let lastAccepted = -1;
  let acceptedSince = t0;
  let reachedAt: number | undefined;
  while (performance.now() < deadline) {
    const [consumed, accepted] = await Promise.all([sys.consumed(), sys.accepted()]);
    const now = performance.now();
    if (accepted !== lastAccepted) {
      lastAccepted = accepted;
      acceptedSince = now;
      reachedAt = undefined;
    }
    if (consumed >= accepted - base) reachedAt ??= now;
    if (reachedAt !== undefined && now - acceptedSince >= settleMs) return { seconds: (reachedAt - t0) / 1000, timedOut: false };
    await sleep(50);
  }
  return { seconds: (performance.now() - t0) / 1000, timedOut: true };
}

async function main(): Promise<void> {
  const o = options();
  if (!existsSync(MAIN_JS)) fail(`${MAIN_JS} is missing: build first (npm run build)`);
  const startedAt = new Date();
  const machine = machineInfo();
  log(`bench: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, node ${machine.node}, java ${machine.java ?? 'not found'}`);
  log(`load: POST /messages, ${o.connections} connections, ${o.durationS} s after ${o.warmupS} s warm-up; runs: ${o.only.join(', ')}${o.skipRead ? '; read path skipped' : ''}`);

  const before = new CpuMeter([]);
  await sleep(1000);
  const quiet = before.stop();
  if (quiet && quiet.foreign > 0.25) log(`warning: the machine is busy before the bench starts (${quiet.foreign.toFixed(2)} cores in use by other processes, load avg ${quiet.loadAvg}); results will be noisy`);

  let failed = false;
  const dataRoot = mkdtempSync(join(tmpdir(), 'hazel-bench-'));
  cleanups.push(async () => rmSync(dataRoot, { recursive: true, force: true }));
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    totalSeconds: 0,
    machine,
    options: { durationS: o.durationS, connections: o.connections, warmupS: o.warmupS, only: o.only, skipRead: o.skipRead, logLevel: o.logLevel, readSizes: o.readSizes },
    reference: null,
    systems: {},
    targets: [],
    notes: [],
  };
  try {
    if (o.only.includes('reference')) report.reference = await benchReference(o);
    // A system that fails is reported as such; the others still run and the report is still written.
    const attempt = async (engine: SystemKind) => {
      try {
        report.systems[engine] = await benchSystem(engine, o, dataRoot);
      } catch (err) {
        if (interrupted) throw err;
        failed = true;
        console.error(`${engine} run failed: ${(err as Error).stack ?? err}`);
        report.systems[engine] = { skipped: `failed: ${(err as Error).message.split('\n')[0]}` };
      }
    };
    if (o.only.includes('embedded')) await attempt('embedded');
    if (o.only.includes('traced')) await attempt('traced');
    if (o.only.includes('hazelcast')) {
      if (!javaAvailable()) report.systems.hazelcast = { skipped: 'java not found on PATH' };
      else if (!findHazelcastJar()) report.systems.hazelcast = { skipped: 'member jar not found; run `npm run hazelcast:fetch`' };
      else await attempt('hazelcast');
    }
    if (o.only.includes('kafka')) {
      if (!javaAvailable()) report.systems.kafka = { skipped: 'java not found on PATH' };
      else if (!findHazelcastJar()) report.systems.kafka = { skipped: 'member jar not found; run `npm run hazelcast:fetch`' };
      else if (!findKafkaClasspath()) report.systems.kafka = { skipped: 'broker jars not found; run `npm run kafka:fetch`' };
      else await attempt('kafka');
    }
    // The machine's speed drifts (other guests, thermal, frequency): a second reference run after the systems shows by how much.
    if (report.reference && o.referenceRuns > 1 && SYSTEM_KINDS.some((k) => isRun(report.systems[k]))) {
      const again = await benchReference(o, true);
      report.reference.runs.push(again.load.throughput);
      report.reference.throughput = report.reference.runs.reduce((a, b) => a + b, 0) / report.reference.runs.length;
    }
  } finally {
    await cleanupAll();
  }

  const phases: Array<[string, CpuUse | null | undefined]> = [['reference', report.reference?.cpu]];
  for (const e of SYSTEM_KINDS) {
    const s = report.systems[e];
    if (isRun(s)) phases.push([e, s.cpu]);
  }
  const disturbed = phases.filter((x): x is [string, CpuUse] => !!x[1] && x[1].foreign + x[1].steal > 0.25);
  for (const [name, c] of disturbed) {
    report.notes.push(`Other work on the machine used ${(c.foreign + c.steal).toFixed(2)} cores (of ${machine.cores}) during the ${name} load: its numbers, and the ratios that use them, are unreliable; rerun on a quiet machine.`);
  }

  const finishedAt = new Date();
  report.finishedAt = finishedAt.toISOString();
  report.totalSeconds = (finishedAt.getTime() - startedAt.getTime()) / 1000;
  report.targets = evaluateTargets(report);
  const md = renderMarkdown(report);
  log(`\n${md}`);
  mkdirSync(o.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  for (const name of ['latest', stamp]) {
    writeFileSync(join(o.out, `${name}.md`), md + '\n');
    writeFileSync(join(o.out, `${name}.json`), JSON.stringify(report, null, 2) + '\n');
  }
  log(`written: ${join(o.out, 'latest.md')}, latest.json and ${stamp}.md/.json`);
  if (failed) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  async (err: Error) => {
    console.error(`bench failed: ${err.stack ?? err.message}`);
    await cleanupAll();
    process.exit(1);
  },
);
