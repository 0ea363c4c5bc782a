/**
 * The live dashboard the facade serves at `/`: a static page (src/web), a
 * JSON snapshot of every registered instance with its health and messages
 * (`/dashboard/state`) and the same snapshot pushed every second as
 * server-sent events (`/dashboard/events`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { MessageQueue } from '../../../engine/ports.js';
import { errorBody } from '../../../shared/http.js';
import type { InstanceRecord, ServiceName } from '../../../shared/registry.js';
import type { ServiceCaller } from '../caller.js';
import type { InstanceDirectory } from '../directory.js';
import type { InstanceCaller } from '../resilience.js';

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
}

export interface DashboardOptions {
  /** Folder holding index.html, dashboard.js, dashboard.css. Default: `<repo>/src/web`. */
  webDir?: string;
  /** Timeout of each health probe and each `GET /messages` to an instance. Default 800. */
  probeTimeoutMs?: number;
  /** Interval of the server-sent state. Default 1000. */
  pushEveryMs?: number;
  /** Newest entries kept per instance; counts stay full. Default 50. */
  recent?: number;
  /** Longest message text sent to the page, in characters. Default 300. */
  maxText?: number;
}

/** One message as the page shows it. */
export interface DashboardEntry {
  id: string;
  msg: string;
  /** loggedAt / consumedAt. */
  at?: string;
  /** The text was cut to `maxText` characters. */
  truncated?: true;
}

export interface DashboardInstance {
  service: ServiceName;
  instance: string;
  url: string | null;
  /** False for a logging instance that left the registry but whose entries are in the log. */
  registered: boolean;
  heartbeatAt: string | null;
  heartbeatAgeMs: number | null;
  breaker: ReturnType<InstanceCaller['breakerState']> | null;
  health: { status: 'up' | 'down'; reason?: string; ms?: number };
  /** Full count of what it logged / consumed; null when unknown. */
  count: number | null;
  /** The newest entries, newest first. */
  messages: DashboardEntry[];
  messagesError?: string;
}

export interface DashboardState {
  at: string;
  tookMs: number;
  /** Depth (items not yet acknowledged), and what the engine says of where the queue lives. */
  queue: { depth: number | null; error?: string; about?: string[] };
  registry: { ttlMs: number; refreshedAgoMs: number | null; error?: string };
  log: { total: number | null; readFrom: string | null; error?: string };
  instances: DashboardInstance[];
  /** What the cluster is waiting for, one line each (e.g. a member not answering, not yet declared gone); present on a cluster engine. */
  cluster?: { waiting: string[] };
}

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

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` };
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

function sendAsset(req: FastifyRequest, reply: FastifyReply, a: Asset, cacheControl: string) {
  reply.header('etag', a.etag).header('cache-control', cacheControl).header('x-content-type-options', 'nosniff');
  if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
  return reply.type(a.type).send(a.body);
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
  const recent = opts.recent ?? 50;
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
    if (!a) return reply.code(404).send(errorBody(404, `no asset ${JSON.stringify(file)}`));
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
  /** The newest `recent` entries, newest first. */
  const tail = <T>(xs: T[]) => xs.slice(-recent).reverse();

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

  async function consumed(r: InstanceRecord): Promise<{ count: number; messages: DashboardEntry[] }> {
    const res = await withTimeout(probeTimeoutMs, (signal) => deps.caller.call(r.url, { method: 'GET', path: '/messages', signal }));
    if (res.status !== 200 || !Array.isArray(res.body)) throw new Error(`GET /messages answered ${res.status}`);
    const xs = res.body as Array<{ id?: unknown; msg?: unknown; consumedAt?: unknown }>;
    return { count: xs.length, messages: tail(xs).map((e) => entry(e, e.consumedAt)) };
  }

  /** One read of the whole log through the facade's failover; grouped by loggedBy. */
  async function readLog(logging: InstanceRecord[]) {
    const out = await deps.calls.call(
      logging,
      async (inst, signal) => {
        const res = await deps.caller.call(inst.url, { method: 'GET', path: '/log', signal });
        if (res.status !== 200 || !Array.isArray(res.body)) throw new Error(`${inst.instance} answered ${res.status}`);
        return res.body as Array<{ id?: unknown; msg?: unknown; loggedBy?: unknown; loggedAt?: unknown }>;
      },
      { rounds: 1 },
    );
    const by = new Map<string, typeof out.value>();
    for (const e of out.value) {
      const k = String(e.loggedBy ?? '?');
      let l = by.get(k);
      if (!l) by.set(k, (l = []));
      l.push(e);
    }
    return { total: out.value.length, readFrom: out.instance.instance, by };
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
        deps.queue.describe ? deps.queue.describe().then((d) => d.lines, () => undefined) : undefined,
      ]).then(
        ([d, about]): DashboardState['queue'] => ({ depth: d, ...(about?.length ? { about } : {}) }),
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
          const mine = logOk.by.get(r.instance) ?? [];
          v.count = mine.length;
          v.messages = tail(mine).map((e) => entry(e, e.loggedAt));
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
      for (const [name, mine] of logOk.by) {
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
          count: mine.length,
          messages: tail(mine).map((e) => entry(e, e.loggedAt)),
        });
      }
    }
    instances.sort((a, b) => a.service.localeCompare(b.service) || a.instance.localeCompare(b.instance, 'en', { numeric: true }));
    const registry: DashboardState['registry'] = { ttlMs, refreshedAgoMs: deps.directory.lastRefresh ? now - deps.directory.lastRefresh : null };
    if (deps.directory.lastError) registry.error = deps.directory.lastError;
    return {
      at: new Date(now).toISOString(),
      tookMs: Math.round(performance.now() - t0),
      queue: depth,
      registry,
      log: logOk ? { total: logOk.total, readFrom: logOk.readFrom } : { total: null, readFrom: null, error: 'error' in log ? log.error : 'unknown' },
      instances,
      ...(waiting ? { cluster: { waiting: await waiting } } : {}),
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
        data = JSON.stringify(await snapshot());
      } catch (err) {
        data = JSON.stringify({ error: reasonOf(err) });
      }
      if (!open) return;
      res.write(`event: state\ndata: ${data}\n\n`);
      timer = setTimeout(() => void push(), pushEveryMs);
    };
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
