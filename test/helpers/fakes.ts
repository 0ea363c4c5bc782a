/**
 * Shared fakes for unit tests: a silent logger, an engine-backed health
 * check, registry helpers and a ServiceCaller that routes calls to Fastify
 * apps through `inject` (with faults a test can switch on per instance).
 */
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Engine, KvMap, MessageQueue } from '../../src/engine/ports.js';
import type { CallRequest, CallResponse, ServiceCaller } from '../../src/services/facade/caller.js';
import { REGISTRY_MAP, type InstanceRecord, type ServiceName } from '../../src/shared/registry.js';

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The engine with its queues replaced: `queueFor` gets each name and the engine's own queue of that name. */
export function withQueues(engine: Engine, queueFor: (name: string, own: MessageQueue) => MessageQueue): Engine {
  return {
    kind: engine.kind,
    ping: () => engine.ping(),
    close: () => engine.close(),
    log: (n) => engine.log(n),
    kv: (n) => engine.kv(n),
    queue: (n) => queueFor(n, engine.queue(n)),
  };
}

export function registryKv(engine: Engine): KvMap<InstanceRecord> {
  return engine.kv<InstanceRecord>(REGISTRY_MAP);
}

/** Writes a registry entry the way RegistryMembership does. */
export async function registerInstance(engine: Engine, service: ServiceName, instance: string, url: string, ttlMs?: number): Promise<InstanceRecord> {
  const now = new Date().toISOString();
  const record: InstanceRecord = { service, instance, url, pid: process.pid, startedAt: now, heartbeatAt: now, ttlMs: ttlMs ?? 0 };
  await registryKv(engine).set(`${service}/${instance}`, record, ttlMs);
  return record;
}

/** What a faulty instance does instead of answering. */
export type Fault =
  /** Throws like a refused TCP connection. */
  | { kind: 'refuse' }
  /** Answers this status (with a JSON error body unless one is given). */
  | { kind: 'status'; status: number; body?: unknown }
  /** Never answers; rejects only when the call's AbortSignal fires. */
  | { kind: 'hang' };

export interface RecordedCall {
  baseUrl: string;
  method: string;
  path: string;
}

function refused(baseUrl: string): Error {
  const u = new URL(baseUrl);
  return Object.assign(new Error(`connect ECONNREFUSED ${u.hostname}:${u.port || 80}`), { code: 'ECONNREFUSED', syscall: 'connect' });
}

/**
 * A ServiceCaller that sends each call to the app registered under its base
 * URL, through `inject`, shaped like UndiciCaller's answer (JSON parsed when
 * the response says JSON). An unknown base URL is refused.
 */
export class InjectCaller implements ServiceCaller {
  private readonly apps = new Map<string, FastifyInstance>();
  private readonly faults = new Map<string, Fault>();
  readonly calls: RecordedCall[] = [];
  /** Calls still hanging (for a check that every hang was released by its signal). */
  hanging = 0;

  route(baseUrl: string, app: FastifyInstance): void {
    this.apps.set(baseUrl, app);
  }

  fail(baseUrl: string, fault: Fault): void {
    this.faults.set(baseUrl, fault);
  }

  heal(baseUrl: string): void {
    this.faults.delete(baseUrl);
  }

  callsTo(baseUrl: string, method?: string, path?: string): RecordedCall[] {
    return this.calls.filter((c) => c.baseUrl === baseUrl && (method === undefined || c.method === method) && (path === undefined || c.path.split('?')[0] === path));
  }

  async call(baseUrl: string, req: CallRequest): Promise<CallResponse> {
    this.calls.push({ baseUrl, method: req.method, path: req.path });
    if (req.signal?.aborted) throw req.signal.reason ?? new Error('aborted');
    const fault = this.faults.get(baseUrl);
    if (fault?.kind === 'refuse') throw refused(baseUrl);
    if (fault?.kind === 'status') {
      const body = fault.body ?? { error: 'Injected Failure', message: `injected ${fault.status}`, statusCode: fault.status };
      return { status: fault.status, body, headers: { 'content-type': 'application/json; charset=utf-8' } };
    }
    if (fault?.kind === 'hang') {
      const signal = req.signal;
      this.hanging++;
      return new Promise<CallResponse>((_resolve, reject) => {
        // Without a signal this never settles: the test's own timeout catches that.
        signal?.addEventListener(
          'abort',
          () => {
            this.hanging--;
            reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          },
          { once: true },
        );
      });
    }
    const app = this.apps.get(baseUrl);
    if (!app) throw refused(baseUrl);
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    const res = await app.inject({ method: req.method, url: req.path, headers, ...(payload !== undefined ? { payload } : {}) });
    let body: unknown = res.payload;
    if (req.raw === 'buffer') body = res.rawPayload;
    else if (!req.raw && String(res.headers['content-type'] ?? '').includes('json') && res.payload) body = JSON.parse(res.payload);
    return { status: res.statusCode, body, headers: res.headers as Record<string, string | string[] | undefined> };
  }

  async close(): Promise<void> {}
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Polls until check() is truthy or timeoutMs passes; returns the last value. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
}
