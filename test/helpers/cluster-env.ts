import { until as waitUntil } from '../../src/lib/wait.js';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { freePort, Topology, type Proc, type TopologyOptions } from '../../src/topology/topology.js';
import { findFreePorts } from '../../src/lib/net.js';

export interface TestTopology {
  topo: Topology;
  facade: string;
  dataDir: string;
  /** Lines each process printed, by instance name. */
  lines: Map<string, string[]>;
  close(): Promise<void>;
}

/**
 * A free port below Linux's ephemeral range (32768–60999): a port the OS hands
 * out for listen(0) can be taken as the local port of an outgoing connection
 * (a Hazelcast member reconnecting, a browser) before the service binds it.
 * 12000–24999 stays clear of both that range and the lab's member ports.
 */
export async function quietPort(): Promise<number> {
  const canListen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (let i = 0; i < 50; i++) {
    const port = 12000 + Math.floor(Math.random() * 13000);
    if (reservePort(port) && (await canListen(port))) return port;
  }
  return freePort();
}

/**
 * Ports handed out by quietPort, claimed across the test files running at
 * once (each its own process): a port is free while the topology that owns
 * it has that instance stopped (a test killed it), and another file must not
 * pick it then. One file per claimed port holding the claiming pid, made
 * whole at once (written aside, then linked into place: a reader never sees
 * it empty); a claim of a process that is gone is taken over by renaming it
 * away first (one renamer wins); a process's own claims go when it exits.
 */
const CLAIMS_DIR = join(tmpdir(), 'hazel-lab-test-ports');
const claimed: string[] = [];
let claiming = false;

function reservePort(port: number): boolean {
  const file = join(CLAIMS_DIR, String(port));
  if (!claiming) {
    claiming = true;
    mkdirSync(CLAIMS_DIR, { recursive: true });
    process.once('exit', () => {
      for (const f of claimed) rmSync(f, { force: true });
    });
  }
  const mine = join(CLAIMS_DIR, `.${process.pid}-${port}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(mine, String(process.pid));
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(mine, file);
        claimed.push(file);
        return true;
      } catch {
        const owner = ownerOf(file);
        if (owner === undefined) continue; // gone meanwhile: try again
        if (owner === 0 || owner === process.pid || alive(owner)) return false;
        // The owner is gone: move its claim away, and take over only if what moved was that stale claim.
        const aside = `${mine}.stale`;
        try {
          renameSync(file, aside);
        } catch {
          continue; // another process moved it first
        }
        if (ownerOf(aside) !== owner) {
          // A fresh claim made after the read above: put it back.
          try {
            linkSync(aside, file);
          } catch {
            // taken again meanwhile
          }
          rmSync(aside, { force: true });
          return false;
        }
        rmSync(aside, { force: true });
      }
    }
    return false;
  } finally {
    rmSync(mine, { force: true });
  }
}

/** The pid in a claim file; undefined when there is none, 0 when it cannot be read as one. */
function ownerOf(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text);
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Base ports for a test's Kafka brokers and their controllers: random, away
 * from 9092 (a cluster run by hand) and from the services' 12000–24999, and
 * below the ephemeral range, so a restarted broker finds its port free.
 */
export async function kafkaTestPorts(brokers = 3): Promise<{ kafkaBasePort: number; kafkaControllerBasePort: number }> {
  const base = await findFreePorts(brokers, 30_000 + brokers * Math.floor(Math.random() * 400), [0, 1500]);
  return { kafkaBasePort: base, kafkaControllerBasePort: base + 1500 };
}

/**
 * A topology of real processes on free ports with its own temp data dir.
 * With `queue: 'kafka'` it runs its own brokers (3 unless `brokers` says
 * otherwise) on random ports, their data in the temp dir, SIGKILLed at the end.
 */
export async function startTestTopology(opts: Partial<TopologyOptions> & { logging?: number; messages?: number } = {}): Promise<TestTopology> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'topo-'));
  const kafka = opts.queue === 'kafka' && (opts.brokers ?? 3) > 0 && opts.kafkaBasePort === undefined ? { ...(await kafkaTestPorts(opts.brokers ?? 3)), killBrokersOnStop: true } : {};
  const nLog = opts.logging ?? 3;
  const nMsg = opts.messages ?? 2;
  const ports = async (n: number) => {
    const out: number[] = [];
    while (out.length < n) {
      const p = await quietPort();
      if (!out.includes(p)) out.push(p);
    }
    return out;
  };
  const lines = new Map<string, string[]>();
  const topo = new Topology({
    ...kafka,
    ...opts,
    dataDir,
    logging: nLog,
    messages: nMsg,
    loggingPorts: opts.loggingPorts ?? (await ports(nLog)),
    messagesPorts: opts.messagesPorts ?? (await ports(nMsg)),
    facadePort: opts.facadePort ?? (await quietPort()),
    onLine: (name, line) => {
      let l = lines.get(name);
      if (!l) lines.set(name, (l = []));
      l.push(line);
      opts.onLine?.(name, line);
    },
  });
  try {
    await topo.start();
  } catch (err) {
    await topo.stop();
    throw err;
  }
  return {
    topo,
    facade: topo.facadeUrl,
    dataDir,
    lines,
    close: async () => {
      await topo.stop();
      // KEEP_TOPO=1 (diagnosing a failed run): the data dir stays, with every process's output lines in it.
      const keep = process.env.KEEP_TOPO === '1';
      if (keep) for (const [name, l] of lines) writeFileSync(join(dataDir, `lines-${name}.log`), l.join('\n'));
      if (!opts.dataDir && !keep) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
  ms: number;
}

export async function http<T = unknown>(url: string, init: RequestInit = {}): Promise<HttpResult<T>> {
  const t0 = performance.now();
  const res = await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(20_000) });
  const text = await res.text();
  const ms = performance.now() - t0;
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, body: body as T, headers: res.headers, ms };
}

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  http<{ id: string; error?: string; message?: string }>(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

export interface Entry {
  id: string;
  msg: string;
  loggedBy?: string;
  consumedBy?: string;
}

/** Everything each messages instance holds, read from the instances directly. */
export async function consumedByInstance(t: TestTopology): Promise<Map<string, Entry[]>> {
  const out = new Map<string, Entry[]>();
  for (const p of t.topo.byService('messages')) {
    if (!t.topo.isRunning(p.name)) continue;
    out.set(p.name, (await http<Entry[]>(`${p.url}/messages`)).body);
  }
  return out;
}

export async function logged(t: TestTopology): Promise<Entry[]> {
  const r = await http<{ logging: Entry[] }>(`${t.facade}/messages`);
  if (r.status !== 200) throw new Error(`GET /messages → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.logging;
}

/** The library's wait, with the tests' defaults (20 s, every 100 ms). */
export function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  return waitUntil(what, fn, timeoutMs, everyMs);
}

export function countBy<T>(xs: T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

/** What each of these messages instances holds (read from the instances themselves). */
export async function storesOf(procs: Proc[]): Promise<Map<string, Entry[]>> {
  const out = new Map<string, Entry[]>();
  for (const p of procs) {
    const r = await http<Entry[]>(`${p.url}/messages`);
    assert.equal(r.status, 200, `${p.name} GET /messages → ${r.status}`);
    out.set(p.name, r.body);
  }
  return out;
}
