/**
 * Fixed-concurrency, fixed-time POST load with autocannon. It runs in a
 * worker thread so that what the bench's main thread does meanwhile (reading
 * service logs, sampling memory) does not skew the latencies it measures.
 */
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  path: string;
  connections: number;
  durationS: number;
}

export interface LoadResult {
  durationS: number;
  /** 2xx answers: messages the system acknowledged. */
  ok: number;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  /** non2xx + socket errors + timeouts. */
  errors: number;
  /** ok / duration. */
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  statusCodes: Record<string, number>;
}

const setupRequest = fileURLToPath(new URL('./unique-body.cjs', import.meta.url));

export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: o.url,
        connections: o.connections,
        duration: o.durationS,
        workers: 1,
        pipelining: 1,
        timeout: 10,
        requests: [{ method: 'POST', path: o.path, headers: { 'content-type': 'application/json' }, setupRequest }],
      },
      (err, r) => {
        if (err) return reject(err);
        const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count]));
        const durationS = r.duration;
        resolve({
          durationS,
          ok: r['2xx'],
          non2xx: r.non2xx,
          socketErrors: r.errors - r.timeouts,
          timeouts: r.timeouts,
          errors: r.non2xx + r.errors,
          throughput: r['2xx'] / durationS,
          latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
          statusCodes,
        });
      },
    );
  });
}
