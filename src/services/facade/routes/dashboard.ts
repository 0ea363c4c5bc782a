/**
 * The live dashboard the facade serves at `/`: a static page (src/web), a
 * JSON snapshot of every registered instance with its health and messages
 * (`/dashboard/state`) and the same snapshot pushed every second as
 * server-sent events (`/dashboard/events`).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync, FastifySchema } from 'fastify';
import type { DashboardEntry, DashboardEvent, DashboardInstance, DashboardState } from '../../../contracts/dashboard.js';
import { NEWEST_MAX, type ConsumedEntry, type LogCountsResponse, type MessagesCountResponse } from '../../../contracts/http.js';
import type { LogEntry, MessageQueue } from '../../../engine/ports.js';
import { quotedExcerpt } from '../../../lib/excerpt.js';
import { errorBody } from '../../../shared/http.js';
import { queueInfoLines } from '../../../shared/queue-info-lines.js';
import type { InstanceRecord } from '../../../shared/registry.js';
import type { ServiceCaller } from '../caller.js';
import type { InstanceDirectory } from '../directory.js';
import type { InstanceCaller } from '../resilience.js';
import { consoleState, NO_LAUNCHER, type FacadeConsole } from './console.js';
import { asset, sendAsset, type Asset } from './static-asset.js';

export interface DashboardDeps {
  directory: InstanceDirectory;
  caller: ServiceCaller;
  queue: MessageQueue;
  /** The facade's InstanceCaller (`app.instanceCaller`): breaker states, and the failover read of the log. */
  calls: InstanceCaller;
  /** Registry TTL; an older heartbeat is shown as stale. Default 3000. */
  registryTtlMs?: number;
  /** What the engine's cluster is waiting for (Engine.waiting); absent on engines without a cluster. */
  waiting?: (() => Promise<string[]>) | undefined;
  /** The lab console (controls under the launcher); absent: no controls. */
  console?: FacadeConsole | undefined;
}

export interface DashboardOptions {
  /** Folder holding index.html, dashboard.js, dashboard.css. Default: `<repo>/src/web`. */
  webDir?: string;
  /** Timeout of each health probe and each read of an instance's counts and newest messages. Default 800. */
  probeTimeoutMs?: number;
  /** Interval of the server-sent state. Default 1000. */
  pushEveryMs?: number;
  /** Newest entries shown per instance (at most 1000); counts stay full. Default 50. */
  recent?: number;
  /** Longest message text sent to the page, in characters. Default 300. */
  maxText?: number;
}

export type { DashboardEntry, DashboardInstance, DashboardState } from '../../../contracts/dashboard.js';

/** The only files served under /assets/; nothing else is ever read from disk. */
const ASSETS: Readonly<Record<string, string>> = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

const PAGE_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Defence in depth: even a slip into innerHTML could not run inline script.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
};

/**
 * `<repo>/src/web`, whether this module runs from src/ (tsx) or dist/ (tsc
 * copies no assets): the nearest folder above holding package.json.
 */
export function defaultWebDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'src', 'web');
    if (dirname(dir) === dir) return join(from, '..', '..', '..', 'web');
  }
}

/** Reads the page and its assets once; the page links the assets by content hash, so they can be cached long. */
function loadAssets(dir: string): { page: Asset; files: Map<string, Asset> } {
  const files = new Map<string, Asset>();
  let html = readFileSync(join(dir, 'index.html'), 'utf8');
  for (const [name, type] of Object.entries(ASSETS)) {
    const a = asset(readFileSync(join(dir, name)), type);
    files.set(name, a);
    html = html.replaceAll(`/assets/${name}"`, `/assets/${name}?v=${a.etag.slice(1, 9)}"`);
  }
  return { page: asset(Buffer.from(html), 'text/html; charset=utf-8'), files };
}

/**
 * Runs fn with a signal that aborts after ms. A plain timer, not
 * AbortSignal.timeout(): that one is unref'd and would not keep the process
 * waiting for a probe that never answers.
 */
async function withTimeout<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new DOMException(`no answer in ${ms} ms`, 'TimeoutError')), ms);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Socket errors a probe of a dead or dying instance gets, in plain words (the code kept for grep). */
const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset (the process went away mid-answer)',
  EPIPE: 'connection reset (the process went away mid-answer)',
  UND_ERR_SOCKET: 'connection closed by the other side',
  EHOSTUNREACH: 'host unreachable',
  ENOTFOUND: 'host name not found',
};

const reasonOf = (err: unknown) => {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  const code = e?.cause?.code ?? e?.code;
  const plain = code ? SOCKET_REASONS[code] : undefined;
  if (plain) return `${plain} (${code})`;
  return e?.cause?.message ?? e?.message ?? String(err);
};

/** Adds `GET /`, `GET /assets/<file>`, `GET /dashboard/state` and `GET /dashboard/events` to the facade. */
export function dashboardRoutes(app: FastifyInstance, deps: DashboardDeps, opts: DashboardOptions = {}): void {
  const probeTimeoutMs = opts.probeTimeoutMs ?? 800;
  const pushEveryMs = opts.pushEveryMs ?? 1000;
  const recent = Math.max(1, Math.min(NEWEST_MAX, opts.recent ?? 50));
  const maxText = opts.maxText ?? 300;
  const ttlMs = deps.registryTtlMs ?? 3000;
  const webDir = opts.webDir ?? defaultWebDir();

  let assets: ReturnType<typeof loadAssets> | undefined;
  try {
    assets = loadAssets(webDir);
  } catch (err) {
    // The API keeps working without the page.
    app.log.warn({ webDir, err }, 'dashboard assets not found; / answers 503');
  }
  // Kept out of the API docs: a page, not API.
  const hide = { schema: { hide: true } as FastifySchema };

  app.get('/', hide, async (req, reply) => {
    // The folder is in the log, not in the answer.
    if (!assets) return reply.code(503).send(errorBody(503, 'the dashboard assets are missing; see the facade log'));
    reply.headers(PAGE_HEADERS);
    return sendAsset(req, reply, assets.page, 'no-cache');
  });

  app.get<{ Params: { file: string }; Querystring: { v?: string } }>('/assets/:file', hide, async (req, reply) => {
    const file = req.params.file;
    const a = Object.hasOwn(ASSETS, file) ? assets?.files.get(file) : undefined;
    if (!a) return reply.code(404).send(errorBody(404, `no asset ${quotedExcerpt(file)}`));
    // Versioned URLs (?v=<hash>) never change; a bare URL is revalidated.
    return sendAsset(req, reply, a, req.query.v ? 'public, max-age=31536000, immutable' : 'no-cache');
  });

  const entry = (e: { id?: unknown; msg?: unknown }, at: unknown): DashboardEntry => {
    const msg = String(e.msg ?? '');
    const out: DashboardEntry = { id: String(e.id ?? ''), msg: msg.length > maxText ? msg.slice(0, maxText) : msg };
    if (typeof at === 'string') out.at = at;
    if (msg.length > maxText) out.truncated = true;
    return out;
  };

  async function probe(r: InstanceRecord): Promise<DashboardInstance['health']> {
    const t0 = performance.now();
    try {
      const res = await withTimeout(probeTimeoutMs, (signal) => deps.caller.call(r.url, { method: 'GET', path: '/health/ready', signal }));
      const ms = Math.round(performance.now() - t0);
      if (res.status === 200) return { status: 'up', ms };
      const m = (res.body as { message?: unknown } | undefined)?.message;
      return { status: 'down', ms, reason: typeof m === 'string' ? m : `answered ${res.status}` };
    } catch (err) {
      return { status: 'down', reason: reasonOf(err) };
    }
  }

  // The snapshot reads counts the services keep and newest-first pages of a
  // few entries: what it reads does not grow with the history.

  /** A messages instance's count and its newest entries (two small reads). */
  async function consumed(r: InstanceRecord): Promise<{ count: number; messages: DashboardEntry[] }> {
    const [count, newest] = await withTimeout(probeTimeoutMs, (signal) =>
      Promise.all([
        deps.caller.call(r.url, { method: 'GET', path: '/messages/count', signal }),
        deps.caller.call(r.url, { method: 'GET', path: `/messages?newest=${recent}`, signal }),
      ]),
    );
    const n = (count.body as Partial<MessagesCountResponse> | undefined)?.count;
    if (count.status !== 200 || typeof n !== 'number') throw new Error(`GET /messages/count answered ${count.status}`);
    if (newest.status !== 200 || !Array.isArray(newest.body)) throw new Error(`GET /messages?newest answered ${newest.status}`);
    const xs = newest.body as Array<Partial<Record<keyof ConsumedEntry, unknown>>>;
    return { count: n, messages: xs.map((e) => entry(e, e.consumedAt)) };
  }

  /**
   * The log's counts per logging instance and its newest entries, from one
   * logging instance (through the facade's failover). The newest page holds
   * `recent` entries per registered logging instance, grouped by loggedBy:
   * each card shows its own among the log's newest.
   */
  async function readLog(logging: InstanceRecord[]) {
    const window = Math.min(NEWEST_MAX, recent * Math.max(1, logging.length));
    const out = await deps.calls.call(
      logging,
      async (inst, signal) => {
        const [counts, newest] = await Promise.all([
          deps.caller.call(inst.url, { method: 'GET', path: '/log/counts', signal }),
          deps.caller.call(inst.url, { method: 'GET', path: `/log?newest=${window}`, signal }),
        ]);
        const c = counts.body as Partial<LogCountsResponse> | undefined;
        if (counts.status !== 200 || typeof c?.total !== 'number' || typeof c.byInstance !== 'object' || c.byInstance === null) {
          throw new Error(`${inst.instance} answered ${counts.status} to GET /log/counts`);
        }
        if (newest.status !== 200 || !Array.isArray(newest.body)) throw new Error(`${inst.instance} answered ${newest.status} to GET /log?newest`);
        return { total: c.total, byInstance: c.byInstance, newest: newest.body as Array<Partial<Record<keyof LogEntry, unknown>>> };
      },
      { rounds: 1 },
    );
    const recentBy = new Map<string, DashboardEntry[]>();
    for (const e of out.value.newest) {
      const k = String(e.loggedBy ?? '?');
      let l = recentBy.get(k);
      if (!l) recentBy.set(k, (l = []));
      if (l.length < recent) l.push(entry(e, e.loggedAt));
    }
    const counts = new Map(Object.entries(out.value.byInstance).filter((kv): kv is [string, number] => typeof kv[1] === 'number'));
    return { total: out.value.total, readFrom: out.instance.instance, window, counts, recentBy };
  }

  async function build(): Promise<DashboardState> {
    const t0 = performance.now();
    const now = Date.now();
    const records = [...deps.directory.all()];
    const logging = records.filter((r) => r.service === 'logging');
    const waiting = deps.waiting?.().catch((err: unknown) => [`cluster: ${reasonOf(err)}`]);
    const [health, log, stores, depth] = await Promise.all([
      Promise.all(records.map(probe)),
      logging.length === 0
        ? { error: 'no logging instance is registered' }
        : readLog(logging).then(
            (ok) => ({ ok }),
            (err: unknown) => ({ error: reasonOf(err) }),
          ),
      Promise.all(records.map((r) => (r.service === 'messages' ? consumed(r).catch((err: unknown) => ({ error: reasonOf(err) })) : undefined))),
      Promise.all([
        deps.queue.depth(),
        // Where the queue lives (which member owns it, which broker leads what): for an operator about to kill one.
        deps.queue.describe ? deps.queue.describe().then((d) => d.details, () => undefined) : undefined,
      ]).then(
        ([d, details]): DashboardState['queue'] => ({ depth: d, ...(details ? { details, about: queueInfoLines(details) } : {}) }),
        (err: unknown): DashboardState['queue'] => ({ depth: null, error: reasonOf(err) }),
      ),
    ]);
    const logOk = 'ok' in log ? log.ok : undefined;
    const instances: DashboardInstance[] = records.map((r, i) => {
      const age = now - Date.parse(r.heartbeatAt);
      const v: DashboardInstance = {
        service: r.service,
        instance: r.instance,
        url: r.url,
        registered: true,
        heartbeatAt: r.heartbeatAt,
        heartbeatAgeMs: Number.isFinite(age) ? Math.max(0, age) : null,
        breaker: deps.calls.breakerState(r),
        health: health[i]!,
        count: null,
        messages: [],
      };
      if (r.service === 'logging') {
        if (logOk) {
          v.count = logOk.counts.get(r.instance) ?? 0;
          v.messages = logOk.recentBy.get(r.instance) ?? [];
        } else if ('error' in log) v.messagesError = `log unreadable: ${log.error}`;
      } else if (r.service === 'messages') {
        const s = stores[i];
        if (s && 'error' in s) v.messagesError = s.error;
        else if (s) Object.assign(v, s);
      }
      return v;
    });
    // Entries logged by instances no longer registered still count: show them too.
    if (logOk) {
      const live = new Set(logging.map((r) => r.instance));
      for (const [name, count] of logOk.counts) {
        if (live.has(name)) continue;
        instances.push({
          service: 'logging',
          instance: name,
          url: null,
          registered: false,
          heartbeatAt: null,
          heartbeatAgeMs: null,
          breaker: null,
          health: { status: 'down', reason: 'not in the registry (stopped, or its heartbeat expired)' },
          count,
          messages: logOk.recentBy.get(name) ?? [],
        });
      }
    }
    // The launcher's instances that are not registered (stopped from the console, or starting): their cards stay, with `start`.
    const view = deps.console?.link?.view();
    for (const p of view?.processes ?? []) {
      if (p.service === 'facade' || instances.some((i) => i.instance === p.name)) continue;
      instances.push({
        service: p.service,
        instance: p.name,
        url: null,
        registered: false,
        heartbeatAt: null,
        heartbeatAgeMs: null,
        breaker: null,
        health: { status: 'down', reason: p.running ? 'started, not registered yet' : 'not running: the launcher stopped it' },
        count: null,
        messages: [],
      });
    }
    instances.sort((a, b) => a.service.localeCompare(b.service) || a.instance.localeCompare(b.instance, 'en', { numeric: true }));
    const registry: DashboardState['registry'] = { ttlMs, refreshedAgoMs: deps.directory.lastRefresh ? now - deps.directory.lastRefresh : null };
    if (deps.directory.lastError) registry.error = deps.directory.lastError;
    return {
      at: new Date(now).toISOString(),
      tookMs: Math.round(performance.now() - t0),
      queue: depth,
      registry,
      log: logOk ? { total: logOk.total, readFrom: logOk.readFrom, newestRead: logOk.window } : { total: null, readFrom: null, error: 'error' in log ? log.error : 'unknown' },
      instances,
      ...(waiting ? { cluster: { waiting: await waiting } } : {}),
      console: deps.console ? consoleState(deps.console) : { enabled: false, reason: NO_LAUNCHER, tokenRequired: false, view: null },
    };
  }

  // Every open page and every /dashboard/state within the same half second
  // share one snapshot: the cost does not grow with the number of viewers.
  let last: { at: number; state: Promise<DashboardState> } | undefined;
  function snapshot(): Promise<DashboardState> {
    const now = Date.now();
    if (!last || now - last.at >= Math.min(500, pushEveryMs / 2)) last = { at: now, state: build() };
    return last.state;
  }

  app.get('/dashboard/state', hide, async (_req, reply) => {
    reply.header('cache-control', 'no-store');
    return snapshot();
  });

  const streams = new Set<ServerResponse>();
  app.get('/dashboard/events', hide, (req, reply) => {
    const res = reply.raw;
    reply.hijack();
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' }).end();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${Math.max(1000, pushEveryMs)}\n\n`);
    streams.add(res);
    let timer: NodeJS.Timeout | undefined;
    let open = true;
    const stop = () => {
      open = false;
      clearTimeout(timer);
      streams.delete(res);
    };
    // Chained timeouts, not an interval: a slow snapshot never piles up pushes.
    const push = async () => {
      let data: string;
      try {
        data = JSON.stringify((await snapshot()) satisfies DashboardEvent);
      } catch (err) {
        data = JSON.stringify({ error: reasonOf(err) } satisfies DashboardEvent);
      }
      if (!open) return;
      res.write(`event: state\ndata: ${data}\n\n`);
      timer = setTimeout(() => void push(), pushEveryMs);
    };
    // What the launcher's shell reports, as it happens (not only once a second).
    const unsubscribe = deps.console?.link?.onEvent((e) => {
      if (open) res.write(`event: console\ndata: ${JSON.stringify(e)}\n\n`);
    });
    if (unsubscribe) res.once('close', unsubscribe);
    req.raw.on('close', stop);
    res.on('close', stop);
    res.on('error', stop);
    void push();
  });

  // An event stream never goes idle: end them so that close() does not wait for the viewers.
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
    streams.clear();
  });
}

/** The dashboard as a plugin: the page, its assets, the snapshot and the pushed events. */
export const dashboardRoute: FastifyPluginAsync<DashboardDeps & { options?: DashboardOptions | undefined }> = async (app, o) => dashboardRoutes(app, o, o.options);
