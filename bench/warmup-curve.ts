/**
 * How a fresh topology warms up under the bench's write load:
 *
 *   node --import tsx bench/warmup-curve.ts [--engine embedded|hazelcast] [--duration 45] [--window 5] [--connections 64]
 *
 * Starts the default topology, loads POST /messages from the first second
 * (64 connections, each sending its next message when the last one is
 * answered, as the bench's load does) and prints throughput and latency per
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
const engine = flags.get('engine') === 'embedded' ? 'embedded' : 'hazelcast';
const durationS = Number(flags.get('duration') ?? 45);
const windowS = Number(flags.get('window') ?? 5);
const connections = Number(flags.get('connections') ?? 64);
for (const [name, v] of [['duration', durationS], ['window', windowS], ['connections', connections]] as const) {
  if (!(Number.isInteger(v) && v > 0)) {
    console.error(`--${name} takes a positive whole number, got ${flags.get(name)}`);
    process.exit(2);
  }
}

const root = mkdtempSync(join(tmpdir(), 'hazel-warmup-'));
const sys = await BenchSystem.start({ engine, dataDir: join(root, 'data') });
/** [start time (ms since load start), latency ms, ok] per request. */
const samples: Array<[number, number, boolean]> = [];
try {
  await sys.waitInstances(3, 2);
  const pool = new Pool(sys.facadeUrl, { connections });
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
  await sys.stop();
  rmSync(root, { recursive: true, force: true });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
console.log(`\n${engine}: POST /messages at ${connections} connections from a fresh topology, ${durationS} s, by ${windowS} s window`);
console.log('window (s)   msg/s   p50 ms   p99 ms   max ms   errors');
for (let a = 0; a < durationS; a += windowS) {
  const inWindow = samples.filter(([t]) => t >= a * 1000 && t < (a + windowS) * 1000);
  const errors = inWindow.filter(([, , ok]) => !ok).length;
  const lat = inWindow.map(([, l]) => l).sort((x, y) => x - y);
  const row = [`${a}–${a + windowS}`.padEnd(10), ((inWindow.length - errors) / windowS).toFixed(0).padStart(7), pct(lat, 50).toFixed(1).padStart(8), pct(lat, 99).toFixed(1).padStart(8), (lat[lat.length - 1] ?? NaN).toFixed(0).padStart(8), String(errors).padStart(8)];
  console.log(row.join(' '));
}
process.exit(0);
