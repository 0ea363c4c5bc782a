/**
 * CPU profile of the system under the bench's write load:
 *
 *   node --import tsx bench/profile.ts [--engine embedded|hazelcast|kafka] [--duration 15] [--connections 64] [--log-level L]
 *
 * (kafka: the bench's Kafka column, the log on Hazelcast and the queue on 3 local brokers)
 *
 * Starts the default topology, then replaces each service process by one
 * started by hand as `node --cpu-prof dist/main.js <service> …` with the same
 * port and flags (--cpu-prof is not allowed in NODE_OPTIONS), loads
 * POST /messages, stops everything (each profiled process writes its
 * .cpuprofile as it exits) and prints the self-time summary of each process
 * (see cpuprofile-summary.ts). Writes bench/results/profile-<engine>.md; the raw
 * profiles stay in a temp folder whose path is printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAIN_JS, type Proc } from '../src/topology/topology.js';
import { parseArgv } from '../src/shared/settings.js';
import { CpuMeter, type CpuUse } from './cpu.js';
import { summarize, summaryText, type CpuProfile } from './cpuprofile-summary.js';
import { runLoad } from './load.js';
import { BenchSystem } from './system.js';

const { flags } = parseArgv(process.argv.slice(2));
const engineFlag = flags.get('engine');
const engine = engineFlag === 'hazelcast' || engineFlag === 'kafka' ? engineFlag : 'embedded';
const durationS = Number(flags.get('duration') ?? 15);
const connections = Number(flags.get('connections') ?? 64);
const logLevel = flags.get('log-level');
const top = Number(flags.get('top') ?? 25);

const root = mkdtempSync(join(tmpdir(), 'hazel-profile-'));
const profDir = join(root, 'profiles');
mkdirSync(profDir);
const sys = await BenchSystem.start({
  engine: engine === 'kafka' ? 'hazelcast' : engine,
  ...(engine === 'kafka' ? { kafka: true } : {}),
  dataDir: join(root, 'data'),
  ...(logLevel ? { logLevel } : {}),
});
const profiled: Array<{ name: string; child: ChildProcess; exited: Promise<void> }> = [];
const names = new Map<number, string>();

/** Stops the topology's process and starts the same service with --cpu-prof in its place. */
async function replaceWithProfiled(p: Proc): Promise<void> {
  await sys.topo.signal(p.name, 'SIGTERM');
  const child = spawn(process.execPath, [`--cpu-prof`, `--cpu-prof-dir=${profDir}`, MAIN_JS, p.service, '--port', String(p.port), '--name', p.name, ...p.args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, LOG_PRETTY: '0' },
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  profiled.push({ name: p.name, child, exited });
  names.set(child.pid!, p.name);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${p.url}/health/ready`).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${p.name} (profiled) did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopAll(): Promise<void> {
  // Facade first, then the instances, then whatever the topology still runs (members).
  for (const p of [...profiled].sort((a, b) => Number(b.name.startsWith('facade')) - Number(a.name.startsWith('facade')))) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await p.exited;
  }
  await sys.stop();
}

let load;
let cpu: CpuUse | null = null;
try {
  const procs = [...sys.topo.byService('logging'), ...sys.topo.byService('messages'), ...sys.topo.byService('facade')];
  for (const p of procs) await replaceWithProfiled(p);
  await sys.waitInstances(3, 2);
  await runLoad({ url: sys.facadeUrl, path: '/messages', connections, durationS: 2 });
  const tracked = [
    ...profiled.map((p) => ({ name: p.name, kind: 'node' as const, pid: p.child.pid })),
    ...sys.tracked().filter((t) => t.kind === 'java'),
  ];
  const meter = new CpuMeter(tracked);
  load = await runLoad({ url: sys.facadeUrl, path: '/messages', connections, durationS });
  cpu = meter.stop();
  console.log(`load while profiling: ${load.throughput.toFixed(0)} msg/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms, errors ${load.errors}`);
} finally {
  await stopAll();
  rmSync(join(root, 'data'), { recursive: true, force: true });
}

const order = ['facade', 'logging', 'messages'];
const files = readdirSync(profDir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => ({ f, name: names.get(Number(f.split('.')[3])) ?? f }))
  .sort((a, b) => order.indexOf(a.name.split('-')[0]!) - order.indexOf(b.name.split('-')[0]!) || a.name.localeCompare(b.name));
const parts = [
  `# CPU profile, ${engine} engine, POST /messages at ${connections} connections for ${durationS} s (+2 s warm-up and start-up in the profile)`,
  '',
  `Throughput while profiling: ${load.throughput.toFixed(0)} msg/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms.${logLevel ? ` --log-level ${logLevel}.` : ''}`,
  `Raw profiles: ${profDir}`,
  '',
  'CPU actually used during the measured load (from /proc, cores): ' +
    (cpu ? Object.entries(cpu.byProcess).map(([n, c]) => `${n} ${c.toFixed(2)}`).join(', ') + `; other work on the machine ${(cpu.foreign + cpu.steal).toFixed(2)}` : 'n/a') +
    '. A profile counts a sample as busy whenever JavaScript or a native call it made is on the stack, so time the thread spends blocked inside a native call (e.g. SQLite sleeping in its busy handler) or waiting for a free core shows up as self time although it uses no CPU: compare busy % with the CPU figure.',
  '',
];
for (const { f, name } of files) parts.push(summaryText(name, summarize(JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile), top));
const text = parts.join('\n');
console.log(text);
const out = join(fileURLToPath(new URL('.', import.meta.url)), 'results', `profile-${engine}${logLevel ? `-${logLevel}` : ''}.md`);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, text + '\n');
console.log(`written: ${out}`);
process.exit(0);
