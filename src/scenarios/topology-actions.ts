/**
 * The scenarios' actions over a running topology: the launcher's processes,
 * members and brokers, and the services' HTTP routes (on loopback: no
 * internal token).
 */
import { NEWEST_MAX } from '../contracts/http.js';
import type { Topology } from '../topology/topology.js';
import type { LabActions, StoredEntry } from './actions.js';

export interface TopologyActionsOptions {
  /** 'host:port' of the member owning the queue's partition (Hazelcast with the queue on the engine). */
  queueOwner?: () => Promise<string | undefined>;
}

async function getJson<T>(url: string): Promise<{ status: number; body: T | undefined }> {
  const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as T };
  } catch {
    return { status: res.status, body: undefined };
  }
}

export function topologyActions(topo: Topology, opts: TopologyActionsOptions = {}): LabActions {
  const proc = (name: string) => {
    const p = topo.procs.get(name);
    if (!p) throw new Error(`no process named ${name}`);
    return p;
  };
  const running = (service: 'logging' | 'messages') => topo.byService(service).filter((p) => topo.isRunning(p.name));
  const c = topo.cluster;
  const k = topo.kafka;
  const actions: LabActions = {
    send: async (msg) => {
      const res = await fetch(`${topo.facadeUrl}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ msg }),
        signal: AbortSignal.timeout(20_000),
      }).catch(() => undefined);
      if (!res) return { status: 0 };
      const body = (await res.json().catch(() => undefined)) as { id?: unknown } | undefined;
      return { status: res.status, ...(res.status < 300 && typeof body?.id === 'string' ? { id: body.id } : {}) };
    },
    instances: (service) => topo.byService(service).map((p) => p.name),
    isRunning: (name) => topo.isRunning(name),
    stop: (name) => topo.signal(proc(name).name, 'SIGTERM'),
    kill: (name) => topo.signal(proc(name).name, 'SIGKILL'),
    start: (name) => topo.startProc(proc(name).name),
    stores: async () => {
      const out = new Map<string, StoredEntry[]>();
      await Promise.all(
        running('messages').map(async (p) => {
          const r = await getJson<StoredEntry[]>(`${p.url}/messages?newest=${NEWEST_MAX}`);
          if (r.status === 200 && Array.isArray(r.body)) out.set(p.name, r.body);
        }),
      );
      return out;
    },
    loggedBy: async () => {
      for (const p of running('logging')) {
        const r = await getJson<Array<{ id: string; loggedBy?: string }>>(`${p.url}/log?newest=${NEWEST_MAX}`).catch(() => undefined);
        if (r?.status === 200 && Array.isArray(r.body)) return new Map(r.body.map((e) => [e.id, e.loggedBy ?? '?']));
      }
      throw new Error('no logging instance answered GET /log');
    },
    writeLog: async (instance, id, msg) => {
      const res = await fetch(`${proc(instance).url}/log`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, msg }),
        signal: AbortSignal.timeout(20_000),
      });
      await res.arrayBuffer();
      return res.status;
    },
    readLog: async (instance) => {
      const r = await getJson<Array<{ id: string }>>(`${proc(instance).url}/log?newest=${NEWEST_MAX}`);
      return r.status === 200 && Array.isArray(r.body) ? r.body.map((e) => e.id) : r.status;
    },
    queueDepth: async () => {
      const r = await getJson<{ queue?: { depth?: unknown } }>(`${topo.facadeUrl}/dashboard/state`).catch(() => undefined);
      const d = r?.body?.queue?.depth;
      return typeof d === 'number' ? d : null;
    },
  };
  if (c) {
    actions.members = {
      count: c.addresses.length,
      running: (i) => c.member(i).running,
      kill: (i, sig) => c.killMember(i, sig),
      start: (i) => c.startMember(i),
      waitForSize: (n) => c.waitForSize(n),
      waitForSafe: () => c.waitForSafe(),
      queueOwner: async () => {
        const owner = await opts.queueOwner?.();
        const i = owner === undefined ? -1 : c.indexOf(owner);
        return i >= 0 ? i : undefined;
      },
    };
  }
  if (k) {
    actions.brokers = {
      count: k.bootstrap.length,
      running: (i) => k.broker(i).running,
      kill: (i) => k.killBroker(i),
      start: (i) => k.startBroker(i),
      waitForFullIsr: () => k.waitForFullIsr(),
      leaders: async () => (await k.partitions()).map((p) => (p.leader < 0 ? -1 : k.indexOfNode(p.leader))),
    };
  }
  return actions;
}
