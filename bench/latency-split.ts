/**
 * Where a POST /messages spends its time under the bench's load, from the
 * services' own Prometheus histograms:
 *   node --import tsx bench/latency-split.ts [--queue kafka|hazelcast] [--seconds 15] [--warmup 15] [--connections 64]
 * (the system of the bench's hazelcast or kafka column, 3 members, and 3
 * brokers with --queue kafka). After a warm-up, the histograms are read
 * before and after a measured load; for the facade's POST, its queue offer,
 * and the logging instances' POST /log/batch and log writes it prints the
 * count and the share of calls slower than 10, 25, 50 and 100 ms, so a tail
 * is placed in the step that has it. (The buckets are coarse: shares, not
 * exact percentiles.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from './load.js';
import { BenchSystem } from './system.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const queue = arg('queue', 'kafka');
if (queue !== 'kafka' && queue !== 'hazelcast') throw new Error(`--queue must be kafka or hazelcast, got ${queue}`);
const seconds = Number(arg('seconds', '15'));
const warmupS = Number(arg('warmup', '15'));
const connections = Number(arg('connections', '64'));

/** Cumulative bucket counts by upper bound (seconds), summed over the series matching every given label. */
type Buckets = Map<number, number>;

async function scrape(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`GET ${url}/metrics → ${r.status}`);
  return r.text();
}

function buckets(text: string, metric: string, labels: Record<string, string>): Buckets {
  const out: Buckets = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}_bucket{`)) continue;
    const close = line.lastIndexOf('}');
    const body = line.slice(line.indexOf('{') + 1, close);
    const ls = new Map([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (!Object.entries(labels).every(([k, v]) => ls.get(k) === v)) continue;
    const le = ls.get('le') === '+Inf' ? Infinity : Number(ls.get('le'));
    out.set(le, (out.get(le) ?? 0) + Number(line.slice(close + 1).trim()));
  }
  return out;
}

const minus = (a: Buckets, b: Buckets): Buckets => new Map([...a].map(([le, n]) => [le, n - (b.get(le) ?? 0)]));

function row(what: string, b: Buckets): string {
  const total = b.get(Infinity) ?? 0;
  const slower = (s: number) => (total === 0 ? '–' : `${((100 * (total - (b.get(s) ?? 0))) / total).toFixed(2)} %`);
  return `| ${what} | ${total} | ${slower(0.01)} | ${slower(0.025)} | ${slower(0.05)} | ${slower(0.1)} |`;
}

const dataDir = mkdtempSync(join(tmpdir(), 'latency-split-'));
const sys = await BenchSystem.create({ engine: 'hazelcast', dataDir, kafka: queue === 'kafka' });
try {
  await sys.start();
  const instances = (await (await fetch(`${sys.facadeUrl}/instances`)).json()) as Array<{ service: string; url: string }>;
  const logging = instances.filter((i) => i.service === 'logging').map((i) => i.url);
  if (warmupS > 0) await runLoad({ url: sys.facadeUrl, path: '/messages', connections, durationS: warmupS });
  const read = async () => ({ facade: await scrape(sys.facadeUrl), logging: await Promise.all(logging.map(scrape)) });
  const before = await read();
  const load = await runLoad({ url: sys.facadeUrl, path: '/messages', connections, durationS: seconds });
  const after = await read();
  const facade = (metric: string, labels: Record<string, string>) => minus(buckets(after.facade, metric, labels), buckets(before.facade, metric, labels));
  const summed = (metric: string, labels: Record<string, string>): Buckets => {
    const sum: Buckets = new Map();
    after.logging.forEach((text, i) => {
      for (const [le, n] of minus(buckets(text, metric, labels), buckets(before.logging[i]!, metric, labels))) sum.set(le, (sum.get(le) ?? 0) + n);
    });
    return sum;
  };
  console.log(`\n${queue} queue, log on Hazelcast: ${load.ok} accepted (${load.errors} errors) in ${seconds} s at ${connections} connections, ${load.throughput.toFixed(0)} msg/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms\n`);
  console.log('| step | calls | > 10 ms | > 25 ms | > 50 ms | > 100 ms |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(row('facade: POST /messages (201)', facade('http_request_duration_seconds', { method: 'POST', route: '/messages', status: '201' })));
  console.log(row('facade: queue offer', facade('engine_operation_duration_seconds', { op: 'queue.offer', outcome: 'ok' })));
  console.log(row('logging: POST /log/batch (all instances)', summed('http_request_duration_seconds', { method: 'POST', route: '/log/batch' })));
  console.log(row('logging: log writes (all instances)', summed('engine_operation_duration_seconds', { op: 'log.put', outcome: 'ok' })));
  // prom-client's event-loop delay histogram starts over at each read: the second read covers the measured load.
  const lag = (text: string) =>
    ['p50', 'p99', 'max'].map((q) => {
      const m = new RegExp(`^nodejs_eventloop_lag_${q}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      return `${q} ${m ? (Number(m[1]) * 1000).toFixed(1) : '?'} ms`;
    }).join(', ');
  console.log(`\nevent-loop delay during the load: facade ${lag(after.facade)}; logging ${after.logging.map(lag).join(' | ')}`);
} finally {
  await sys.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
