/**
 * The read path: GET /messages (full) and GET /messages?limit=100 through the
 * facade at growing log sizes, and the dashboard's snapshot (GET
 * /dashboard/state), whose cost should not grow with the log. The log is filled through the facade
 * (POST /messages, so the messages stores grow too) up to `viaFacadeMax`
 * entries, and beyond that straight through the logging instances'
 * POST /log with generated ids, which is faster and touches only the log.
 */
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { request } from 'undici';
import type { BenchSystem } from './system.js';

const FACADE_BODY = fileURLToPath(new URL('./unique-body.cjs', import.meta.url));
const LOG_BODY = fileURLToPath(new URL('./fill-log-body.cjs', import.meta.url));

export interface ReadStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** Bytes of the last answer. */
  bytes: number;
  /** Entries in the last answer's logging and messages parts. */
  loggingEntries: number;
  messagesEntries: number;
  /** Requests that failed (non-200 or no answer). */
  failed: number;
  /** Answers by status code ("error" when there was none). */
  statuses: Record<string, number>;
  /** The first failure's status and message. */
  firstError?: string;
  capped: boolean;
}

export interface ReadSizeResult {
  /** The size asked for. */
  size: number;
  logged: number;
  /** Messages the stores held while reading (the full read returns one instance's). */
  stored: number;
  fill: string;
  fillSeconds: number;
  full: ReadStats;
  paged: ReadStats;
  /** GET /dashboard/state: what an open dashboard asks for every second. */
  snapshot: ReadStats;
}

export interface ReadOptions {
  sizes: number[];
  viaFacadeMax: number;
  /** Time cap per size and kind of read, in seconds. */
  budgetS: number;
}

function blast(url: string, path: string, amount: number, setupRequest: string, connections: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (amount <= 0) return resolve(0);
    autocannon(
      {
        url,
        amount,
        connections: Math.min(connections, amount),
        workers: 1,
        timeout: 30,
        requests: [{ method: 'POST', path, headers: { 'content-type': 'application/json' }, setupRequest }],
      },
      (err, r) => (err ? reject(err) : resolve(r['2xx'])),
    );
  });
}

async function fillTo(sys: BenchSystem, target: number, viaFacadeMax: number): Promise<{ facade: number; logging: number }> {
  const done = { facade: 0, logging: 0 };
  for (let round = 0; round < 5; round++) {
    const have = await sys.logged();
    if (have >= target) break;
    const viaFacade = Math.max(0, Math.min(target, viaFacadeMax) - have);
    if (viaFacade > 0) done.facade += await blast(sys.facadeUrl, '/messages', viaFacade, FACADE_BODY, 64);
    const rest = target - (have + viaFacade);
    if (rest > 0) {
      const urls = sys.urls('logging');
      const each = urls.map((_u, i) => Math.floor(rest / urls.length) + (i < rest % urls.length ? 1 : 0));
      const got = await Promise.all(urls.map((u, i) => blast(u, '/log', each[i]!, LOG_BODY, 22)));
      done.logging += got.reduce((a, b) => a + b, 0);
    }
  }
  return done;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `gapMs` between requests (unmeasured): the dashboard shares one snapshot among requests within 500 ms. */
async function measure(url: string, samples: number, budgetS: number, gapMs = 0): Promise<ReadStats> {
  const times: number[] = [];
  let bytes = 0;
  let loggingEntries = 0;
  let messagesEntries = 0;
  let failed = 0;
  const statuses: Record<string, number> = {};
  let firstError: string | undefined;
  const failure = (key: string, why: string) => {
    failed++;
    statuses[key] = (statuses[key] ?? 0) + 1;
    firstError ??= why.slice(0, 300);
  };
  const until = performance.now() + budgetS * 1000;
  // One unmeasured request first (JIT, connection).
  for (let i = -1; i < samples; i++) {
    if (i >= 1 && performance.now() > until) break;
    if (gapMs > 0 && i >= 0) await new Promise((r) => setTimeout(r, gapMs));
    const t0 = performance.now();
    try {
      const res = await request(url, { headersTimeout: budgetS * 1000, bodyTimeout: budgetS * 1000, headers: { accept: 'application/json' } });
      const text = await res.body.text();
      const ms = performance.now() - t0;
      if (res.statusCode !== 200) {
        failure(String(res.statusCode), `${res.statusCode} after ${ms.toFixed(0)} ms: ${text}`);
        continue;
      }
      statuses['200'] = (statuses['200'] ?? 0) + 1;
      if (i >= 0) times.push(ms);
      bytes = Buffer.byteLength(text);
      const body = JSON.parse(text) as { logging?: unknown[]; messages?: unknown[] };
      loggingEntries = body.logging?.length ?? 0;
      messagesEntries = body.messages?.length ?? 0;
    } catch (err) {
      failure('error', `${(err as Error).message} after ${(performance.now() - t0).toFixed(0)} ms`);
    }
  }
  times.sort((a, b) => a - b);
  return {
    n: times.length,
    p50: pct(times, 50),
    p99: pct(times, 99),
    max: times[times.length - 1] ?? NaN,
    bytes,
    loggingEntries,
    messagesEntries,
    failed,
    statuses,
    ...(firstError ? { firstError } : {}),
    capped: times.length < samples,
  };
}

/** Waits until the stores hold every message the facade accepted since `acceptedBase`. */
async function waitDrained(sys: BenchSystem, acceptedBase: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await sys.consumed()) >= (await sys.accepted()) - acceptedBase) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function readPath(sys: BenchSystem, o: ReadOptions, log: (s: string) => void): Promise<ReadSizeResult[]> {
  const out: ReadSizeResult[] = [];
  let viaFacadeTotal = 0;
  let viaLoggingTotal = 0;
  // The stores start empty (see BenchSystem.restartEmpty); the facade's counter does not.
  const acceptedBase = await sys.accepted();
  for (const size of [...o.sizes].sort((a, b) => a - b)) {
    const t0 = performance.now();
    const got = await fillTo(sys, size, o.viaFacadeMax);
    viaFacadeTotal += got.facade;
    viaLoggingTotal += got.logging;
    const fillSeconds = (performance.now() - t0) / 1000;
    await waitDrained(sys, acceptedBase);
    const logged = await sys.logged();
    const stored = await sys.consumed();
    const fill = viaLoggingTotal > 0 ? `${viaFacadeTotal} via facade POST /messages + ${viaLoggingTotal} via logging POST /log` : `${viaFacadeTotal} via facade POST /messages`;
    log(`  log holds ${logged} (${fill}; filled in ${fillSeconds.toFixed(1)} s); stores hold ${stored}`);
    // Fewer samples the bigger the answer; each kind capped at budgetS.
    const fullSamples = size <= 1000 ? 30 : size <= 10_000 ? 20 : 5;
    const full = await measure(`${sys.facadeUrl}/messages`, fullSamples, o.budgetS);
    log(`  full  GET /messages            p50 ${full.p50.toFixed(1)} ms  p99 ${full.p99.toFixed(1)} ms  (${full.n} requests, ${(full.bytes / 1e6).toFixed(1)} MB)${failedNote(full)}`);
    const paged = await measure(`${sys.facadeUrl}/messages?limit=100`, 50, o.budgetS);
    log(`  paged GET /messages?limit=100  p50 ${paged.p50.toFixed(1)} ms  p99 ${paged.p99.toFixed(1)} ms  (${paged.n} requests, ${(paged.bytes / 1e6).toFixed(2)} MB)${failedNote(paged)}`);
    const snapshot = await measure(`${sys.facadeUrl}/dashboard/state`, 20, o.budgetS, 600);
    log(`  GET /dashboard/state          p50 ${snapshot.p50.toFixed(1)} ms  p99 ${snapshot.p99.toFixed(1)} ms  (${snapshot.n} requests, ${(snapshot.bytes / 1e3).toFixed(1)} kB)${failedNote(snapshot)}`);
    out.push({ size, logged, stored, fill, fillSeconds, full, paged, snapshot });
  }
  return out;
}

function failedNote(r: ReadStats): string {
  return r.failed ? `; ${r.failed} failed ${JSON.stringify(r.statuses)}, first: ${r.firstError}` : '';
}
