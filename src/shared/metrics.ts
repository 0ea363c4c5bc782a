import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, KvMap, MessageLog, MessageQueue } from '../engine/ports.js';

/**
 * One Prometheus registry per process: HTTP requests by route and status
 * with latency, engine operation latency, and each service's own counters.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly engineDuration: Histogram<'op' | 'outcome'>;

  /** Every series carries `service` and `service_instance` (not `instance`, which Prometheus sets to the scrape target). */
  constructor(labels: { service: string; instance: string }) {
    this.registry.setDefaultLabels({ service: labels.service, service_instance: labels.instance });
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency, by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.engineDuration = new Histogram({
      name: 'engine_operation_duration_seconds',
      help: 'Latency of engine operations (map, queue, kv), by operation and outcome.',
      labelNames: ['op', 'outcome'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge(name: string, help: string, collect: (g: Gauge<string>) => Promise<void> | void, labelNames: string[] = []): Gauge<string> {
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        await collect(this);
      },
    });
  }

  /** Adds `GET /metrics` and the request hooks to an app. */
  install(app: FastifyInstance): void {
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url ?? 'unmatched';
      const labels = { method: req.method, route, status: String(reply.statusCode) };
      this.httpRequests.inc(labels);
      this.httpDuration.observe(labels, reply.elapsedTime / 1000);
    });
    app.get('/metrics', { schema: { hide: true } as object }, async (_req, reply) => {
      reply.type(this.registry.contentType);
      return this.registry.metrics();
    });
  }

  /** Wraps an engine so that every port operation is timed. */
  instrument(engine: Engine): Engine {
    const time = <A extends unknown[], R>(op: string, fn: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        const end = this.engineDuration.startTimer({ op });
        try {
          const r = await fn(...a);
          end({ outcome: 'ok' });
          return r;
        } catch (err) {
          end({ outcome: 'error' });
          throw err;
        }
      };
    return {
      kind: engine.kind,
      ping: () => engine.ping(),
      ...(engine.waiting ? { waiting: () => engine.waiting!() } : {}),
      close: () => engine.close(),
      log: (name: string): MessageLog => {
        const l = engine.log(name);
        return {
          put: time('log.put', (e) => l.put(e)),
          get: time('log.get', (id) => l.get(id)),
          list: time('log.list', () => l.list()),
          listJson: time('log.listJson', () => l.listJson()),
          page: time('log.page', (n, after) => l.page(n, after)),
          newest: time('log.newest', (n) => l.newest(n)),
          size: time('log.size', () => l.size()),
          countByLogger: time('log.countByLogger', () => l.countByLogger()),
        };
      },
      queue: (name: string): MessageQueue => {
        const q = engine.queue(name);
        return {
          offer: time('queue.offer', (item, t) => q.offer(item, t)),
          // A receive mostly waits for work; its latency says nothing about the engine.
          receive: (n, t, s) => q.receive(n, t, s),
          ack: time('queue.ack', (ds) => q.ack(ds)),
          depth: time('queue.depth', () => q.depth()),
          ...(q.describe ? { describe: () => q.describe!() } : {}),
          ...(q.ackWaitsFor !== undefined ? { ackWaitsFor: q.ackWaitsFor } : {}),
        };
      },
      kv: <V>(name: string): KvMap<V> => {
        const k = engine.kv<V>(name);
        return {
          set: time('kv.set', (key, v, ttl) => k.set(key, v, ttl)),
          get: time('kv.get', (key) => k.get(key)),
          setIfAbsent: time('kv.setIfAbsent', (key, v, ttl) => k.setIfAbsent(key, v, ttl)),
          delete: time('kv.delete', (key) => k.delete(key)),
          entries: time('kv.entries', (prefix?: string) => k.entries(prefix)),
        };
      },
    };
  }
}
