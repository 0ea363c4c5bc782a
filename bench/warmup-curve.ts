/**
 * How a fresh topology warms up under the bench's write load:
 *
 *   node --import tsx bench/warmup-curve.ts [--engine embedded|hazelcast] [--duration 45] [--window 5] [--connections 64]
 *
 * Starts the default topology, loads POST /messages from the start (64
 * connections, each sending its next message when the last one is answered:
 * the same closed loop as the bench's autocannon load, from undici here) and prints throughput and latency per
 * window of the run. This is what the bench's warm-up (`--warmup`, 15 s) is
 * sized by: the figures of the first windows are the start-up cost, the later
 * ones the steady state the bench measures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { parseArgv } from '../src/shared/settings.js';
import { BenchSystem } from './system.js';

const { flags } = parseArgv(process.argv.slice(2));
const known = new Set(['engine', 'duration', 'window', 'connections']);
for (const k of flags.keys()) {
  if (!known.has(k)) fail(`unknown flag --${k}; takes --engine embedded|hazelcast, --duration S, --window S, --connections N`);
}
const engineFlag = flags.get('engine') ?? 'hazelcast';
if (engineFlag !== 'embedded' && engineFlag !== 'hazelcast') fail(`--engine takes embedded or hazelcast, got ${engineFlag}`);
const engine: 'embedded' | 'hazelcast' = engineFlag;
const whole = (name: string, dflt: number) => {
  const raw = flags.get(name);
  const v = raw === undefined ? dflt : Number(raw);
  if (!(Number.isInteger(v) && v > 0)) fail(`--${name} takes a positive whole number, got ${raw}`);
  return v;
};
const durationS = whole('duration', 45);
const windowS = whole('window', 5);
const connections = whole('connections', 64);

function fail(why: string): never {
  console.error(why);
  process.exit(2);
}

const root = mkdtempSync(join(tmpdir(), 'hazel-warmup-'));
let sys: BenchSystem | undefined;
let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    await sys?.stop().catch((err: Error) => console.error(`stop failed: ${err.message}`));
    rmSync(root, { recursive: true, force: true });
  })());
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the topology…`);
    void stop().then(() => process.exit(130));
  });
}

/** [start time (ms since load start), latency ms, ok] per request. */
const samples: Array<[number, number, boolean]> = [];
try {
  sys = await BenchSystem.start({ engine, dataDir: join(root, 'data') });
  const pool = new Pool(sys.facadeUrl, { connections, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const t0 = performance.now();
  const end = t0 + durationS * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        let ok = false;
        try {
          const res = await pool.request({ path: '/messages', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msg: `warm-up ${n++}` }) });
          await res.body.dump();
          ok = res.statusCode >= 200 && res.statusCode < 300;
        } catch {
          ok = false;
        }
        samples.push([started - t0, performance.now() - started, ok]);
      }
    }),
  );
  await pool.close();
} finally {
  await stop();
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
console.log(`\n${engine}: POST /messages at ${connections} connections from a fresh topology, ${durationS} s, by ${windowS} s window`);
console.log('window (s)   msg/s   p50 ms   p99 ms   max ms   errors');
for (let a = 0; a < durationS; a += windowS) {
  const b = Math.min(a + windowS, durationS);
  const inWindow = samples.filter(([t]) => t >= a * 1000 && t < b * 1000);
  const errors = inWindow.filter(([, , ok]) => !ok).length;
  const lat = inWindow.map(([, l]) => l).sort((x, y) => x - y);
  const row = [`${a}–${b}`.padEnd(10), ((inWindow.length - errors) / (b - a)).toFixed(0).padStart(7), pct(lat, 50).toFixed(1).padStart(8), pct(lat, 99).toFixed(1).padStart(8), (lat[lat.length - 1] ?? NaN).toFixed(0).padStart(8), String(errors).padStart(8)];
  console.log(row.join(' '));
}
process.exit(0);
