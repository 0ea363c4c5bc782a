/**
 * The system across several hosts made of network namespaces (netns.ts):
 * hosts 1..N-1 each run one Hazelcast member and one logging instance, hosts
 * 1 and 2 also one messages instance, host N the facade. Every service binds
 * its host's address and is given the members' addresses, as on real
 * machines. Used by `npm run hosts` (src/cli/hosts.ts) and
 * test/integration/partition.test.ts.
 *
 * The bed keeps its network plan (namespaces, bridge, addresses, faults) and
 * its layout (what runs on which host); starting, waiting for readiness and
 * stopping in reverse order are the topology's (src/topology/topology.ts),
 * each process run inside its host's namespace.
 *
 * Everything started here stops when this process ends, even by SIGKILL
 * (members under the exit-with-parent wrapper, services by their
 * exit-with-parent pipe); destroyNet removes what is left by name.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostsConfigFile, type MemberHealth } from '../engine/hazelcast/cluster.js';
import { INTERNAL_TOKEN_HEADER } from '../contracts/http.js';
import { Topology, type ServiceKind, type TopologyOptions } from '../topology/topology.js';
import {
  checkPlan,
  controlAddress,
  createNet,
  delayHost,
  destroyNet,
  faultsOn,
  healHost,
  hostAddress,
  isolateHost,
  onHost,
  partitionHost,
  type NetPlan,
} from './netns.js';
import { DEFAULT_MEMBER_PORT } from '../engine/defaults.js';

export const MEMBER_PORT = DEFAULT_MEMBER_PORT;
export const PORTS: Record<ServiceKind, number> = { facade: 8000, logging: 8100, messages: 8200 };

export interface BedOptions extends Partial<NetPlan> {
  /** Where the state file, logs, data and token go. */
  stateDir: string;
  clusterName?: string;
  /** Every output line of every process, with its name. */
  onLine?: (name: string, line: string) => void;
  /** Extra flags per service kind. */
  serviceArgs?: Partial<Record<ServiceKind, string[]>>;
  /**
   * The queue's name (every service gets it as --queue-name), or a function
   * called once the members are up that picks it, e.g. so that the queue
   * lives on a given member. Default: the services' default.
   */
  queueName?: string | ((bed: HostBed) => Promise<string>);
  /** How long to wait for the cluster and each service. Default 120000. */
  readyTimeoutMs?: number;
}

/** One process of the bed, as the state file and `status` show it. */
export interface BedProcess {
  name: string;
  kind: ServiceKind | 'member';
  host: number;
  /** 'ip:port' */
  address: string;
}

/** What the state file holds: enough for `status`, the fault commands and `down` from another process. */
export interface BedState extends NetPlan {
  /** The process that runs the bed (its processes stop when it ends). */
  pid: number;
  clusterName: string;
  startedAt: string;
  processes: BedProcess[];
}

/**
 * Settings across hosts: the `lan` profile (longer attempt timeout, deadline
 * and registry TTL; see PROFILES in shared/common-config.ts and
 * docs/operations.md). With the one-machine defaults 13–31 % of POSTs failed
 * during a partition here.
 */
export const NETWORK_ARGS: readonly string[] = ['--profile', 'lan'];

export const DEFAULT_PLAN: NetPlan = { prefix: 'hlab', subnet: '10.203.0', hosts: 4 };
export const stateFile = (stateDir: string) => join(stateDir, 'state.json');

export function readState(stateDir: string): BedState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(stateDir), 'utf8')) as BedState;
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process nobody has reaped yet (a zombie) still answers signal 0.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Which hosts run what: members and logging on 1..N-1, messages on 1 and 2, the facade on N. */
export function layout(plan: NetPlan): BedProcess[] {
  const out: BedProcess[] = [];
  const memberHosts = plan.hosts - 1;
  for (let h = 1; h <= memberHosts; h++) out.push({ name: `member-${h}`, kind: 'member', host: h, address: `${hostAddress(plan, h)}:${MEMBER_PORT}` });
  for (let h = 1; h <= memberHosts; h++) out.push({ name: `logging-${h}`, kind: 'logging', host: h, address: `${hostAddress(plan, h)}:${PORTS.logging}` });
  for (let h = 1; h <= Math.min(2, memberHosts); h++) out.push({ name: `messages-${h}`, kind: 'messages', host: h, address: `${hostAddress(plan, h)}:${PORTS.messages}` });
  out.push({ name: 'facade', kind: 'facade', host: plan.hosts, address: `${hostAddress(plan, plan.hosts)}:${PORTS.facade}` });
  return out;
}

export class HostBed {
  private topology: Topology | undefined;
  private stopping: Promise<void> | undefined;
  readonly processes: BedProcess[];
  readonly clusterName: string;
  /** The internal token every service is given (in <stateDir>/token). */
  token = '';
  /** Set when BedOptions.queueName is. */
  queueName: string | undefined;

  private constructor(
    readonly plan: NetPlan,
    private readonly o: BedOptions,
  ) {
    this.processes = layout(plan);
    this.clusterName = o.clusterName ?? 'hazel-lab-hosts';
  }

  /** The facade's host: it can reach a partitioned host. */
  get facadeHost(): number {
    return this.plan.hosts;
  }

  get facadeUrl(): string {
    return `http://${this.byName('facade').address}`;
  }

  byName(name: string): BedProcess {
    const p = this.processes.find((x) => x.name === name);
    if (!p) throw new Error(`no process named ${name} in this bed`);
    return p;
  }

  url(name: string): string {
    return `http://${this.byName(name).address}`;
  }

  get tokenFile(): string {
    return join(this.o.stateDir, 'token');
  }

  /** Headers for calling logging and messages instances directly (their internal routes). */
  get internalHeaders(): Record<string, string> {
    return { [INTERNAL_TOKEN_HEADER]: this.token };
  }

  get memberAddresses(): string[] {
    return this.processes.filter((p) => p.kind === 'member').map((p) => p.address);
  }

  /** A bed built by another process (its state file gives the plan): for the fault commands, which need the plan alone. */
  static attach(plan: NetPlan): HostBed {
    checkPlan(plan);
    return new HostBed(plan, { stateDir: '' });
  }

  /** Builds the hosts, starts members and services, waits until every service is ready. */
  static async up(o: BedOptions): Promise<HostBed> {
    const plan: NetPlan = { prefix: o.prefix ?? DEFAULT_PLAN.prefix, subnet: o.subnet ?? DEFAULT_PLAN.subnet, hosts: o.hosts ?? DEFAULT_PLAN.hosts };
    checkPlan(plan);
    const bed = new HostBed(plan, o);
    try {
      await bed.start();
    } catch (e) {
      await bed.down();
      throw e;
    }
    return bed;
  }

  private async start(): Promise<void> {
    const { plan, o } = this;
    const logDir = join(o.stateDir, 'logs');
    const dataDir = join(o.stateDir, 'data');
    mkdirSync(logDir, { recursive: true });
    mkdirSync(dataDir, { recursive: true });
    await createNet(plan);
    this.writeState();
    // Services listening beyond loopback demand a token on their internal
    // routes; the facade sends it. Readable by root alone.
    this.token = randomBytes(32).toString('hex');
    writeFileSync(this.tokenFile, this.token + '\n', { mode: 0o600 });
    this.topology = new Topology(this.topologyOptions(dataDir, logDir));
    await this.topology.start();
  }

  /**
   * The bed as a topology: every process inside its host's namespace, bound
   * to its host's address; members with split-brain protection; services
   * with the `lan` profile, each logging and messages instance preferring
   * the member on its own host.
   */
  private topologyOptions(dataDir: string, logDir: string): TopologyOptions {
    const { plan, o } = this;
    const timeoutMs = o.readyTimeoutMs ?? 120_000;
    const memberHosts = this.processes.filter((p) => p.kind === 'member').map((p) => p.host);
    const hostOf = new Map(this.processes.map((p) => [p.name, p.host]));
    const q = o.queueName;
    return {
      engine: 'hazelcast',
      dataDir,
      logDir,
      clusterName: this.clusterName,
      memberBasePort: MEMBER_PORT,
      memberPlacement: {
        hosts: memberHosts.map((h) => hostAddress(plan, h)),
        configFile: hostsConfigFile,
        // Split-brain protection: a side of a partition needs a majority of the members.
        jvmArgs: [`-Dhazel-lab.min-cluster-size=${Math.floor(memberHosts.length / 2) + 1}`],
        startTimeoutMs: timeoutMs,
      },
      services: this.processes
        .filter((p) => p.kind !== 'member')
        .map((p) => {
          const host = hostAddress(plan, p.host);
          const kind = p.kind as ServiceKind;
          return { name: p.name, service: kind, port: PORTS[kind], host, args: kind === 'facade' ? [] : ['--hz-member', `${host}:${MEMBER_PORT}`] };
        }),
      runUnder: (name) => {
        const h = hostOf.get(name);
        return h === undefined ? undefined : onHost(plan, h);
      },
      beforeServices: async () => {
        if (q === undefined) return undefined;
        this.queueName = typeof q === 'string' ? q : await q(this);
        return ['--queue-name', this.queueName];
      },
      extraArgs: ['--internal-token-file', this.tokenFile, ...NETWORK_ARGS],
      ...(o.serviceArgs ? { serviceArgs: o.serviceArgs } : {}),
      ...(o.onLine ? { onLine: o.onLine } : {}),
      readyTimeoutMs: timeoutMs,
    };
  }

  private writeState(): void {
    const s: BedState = { ...this.plan, pid: process.pid, clusterName: this.clusterName, startedAt: new Date().toISOString(), processes: this.processes };
    writeFileSync(stateFile(this.o.stateDir), JSON.stringify(s, null, 2) + '\n');
  }

  /** Cuts host h off from the other hosts; the facade's host still reaches it. */
  partition(h: number): void {
    partitionHost(this.plan, h, [this.facadeHost]);
  }

  heal(h: number): void {
    healHost(this.plan, h);
  }

  isolate(h: number): void {
    isolateHost(this.plan, h);
  }

  delay(h: number, ms: number): void {
    delayHost(this.plan, h, ms);
  }

  /** Member health for each member host (undefined when it does not answer within 2 s). */
  async memberHealth(): Promise<Array<MemberHealth | undefined>> {
    const c = this.topology?.cluster;
    if (!c) return [];
    return Promise.all(c.addresses.map((_, i) => c.health(i)));
  }

  /** Stops services (facade first), then members (the topology's order), then removes the hosts. Idempotent. */
  down(): Promise<void> {
    this.stopping ??= (async () => {
      await this.topology?.stop().catch(() => undefined);
      await destroyNet(this.plan.prefix).catch(() => undefined);
      rmSync(stateFile(this.o.stateDir), { force: true });
      rmSync(this.tokenFile, { force: true });
    })();
    return this.stopping;
  }
}

/** GET with a short timeout: a member or service on a cut-off host may not answer at all. */
export async function probe(url: string, timeoutMs = 2000, headers?: Record<string, string>): Promise<{ ok: boolean; status?: number; detail: string; body?: unknown }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), ...(headers ? { headers } : {}) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    const msg = (body as { message?: unknown } | null)?.message;
    return { ok: res.ok, status: res.status, body, detail: `${res.status}${typeof msg === 'string' ? ` ${msg}` : ''}` };
  } catch (e) {
    return { ok: false, detail: (e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e as Error).message };
  }
}

/**
 * Bound of each probe of `status`. Members busy detecting a partition took
 * longer than 1.5 s to answer their health check, which then read as "not
 * answering" for the healthy side.
 */
export const STATUS_PROBE_MS = 5000;

/** How a member's health reads: how many members it sees of how many, and what that means for writes. */
export function memberLine(h: Partial<MemberHealth>, members: number): string {
  const majority = Math.floor(members / 2) + 1;
  const sees = h.clusterSize ?? 0;
  const head = `${h.nodeState ?? '?'}, sees ${sees} of ${members} members`;
  if (sees < majority) return `${head}: in the minority — writes refused (split-brain protection needs ${majority})`;
  if (h.clusterSafe && !h.migrationQueueSize) return `${head}, safe (backups in sync)`;
  const queued = h.migrationQueueSize ? `, ${h.migrationQueueSize} migration(s) queued` : '';
  return `${head}, not safe (backups not in sync${queued}: a crash now can lose data)`;
}

/**
 * What `status` and `up` print: each process with where it runs and how it
 * answers now (fresh probes, all at once, each bounded by STATUS_PROBE_MS),
 * the faults in force, the queue's owner and what the cluster waits for (as
 * the facade sees them), the totals logged and consumed, and the ports.
 */
export async function describeBed(state: BedState, stateDir: string): Promise<string[]> {
  let token: string | undefined;
  try {
    token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
  } catch {
    // Readable by root alone: the totals say so.
  }
  const internal = token ? { [INTERNAL_TOKEN_HEADER]: token } : undefined;
  const members = state.processes.filter((p) => p.kind === 'member').length;
  const facade = state.processes.find((p) => p.kind === 'facade');
  const t0 = new Date();
  const [health, dashboard, logCounts, storeCounts] = await Promise.all([
    Promise.all(state.processes.map((p) => probe(p.kind === 'member' ? `http://${p.address}/hazelcast/health` : `http://${p.address}/health/ready`, STATUS_PROBE_MS))),
    facade ? probe(`http://${facade.address}/dashboard/state`, 2 * STATUS_PROBE_MS) : undefined,
    Promise.all(state.processes.filter((p) => p.kind === 'logging').map(async (p) => ({ p, r: internal ? await probe(`http://${p.address}/log/count`, STATUS_PROBE_MS, internal) : undefined }))),
    Promise.all(state.processes.filter((p) => p.kind === 'messages').map(async (p) => ({ p, r: internal ? await probe(`http://${p.address}/messages/count`, STATUS_PROBE_MS, internal) : undefined }))),
  ]);

  const lines: string[] = [];
  lines.push(`bed '${state.prefix}' on ${state.subnet}.0/24 (this machine is ${controlAddress(state)}), run by pid ${state.pid}${pidAlive(state.pid) ? '' : ' (gone)'}, since ${state.startedAt}`);
  lines.push(`probed at ${t0.toISOString().slice(11, 19)} UTC, each answer within ${STATUS_PROBE_MS / 1000} s`);
  for (let h = 1; h <= state.hosts; h++) {
    const faults = (() => {
      try {
        return faultsOn(state, h);
      } catch {
        return ['host missing'];
      }
    })();
    lines.push(`host ${h}  ${hostAddress(state, h).padEnd(13)} ${faults.length ? `[${faults.join(', ')}]` : ''}`);
    // A host whose link is down is out of this machine's reach too: say so rather than blame the process. (A partitioned one is not: this machine's address is not cut off.)
    const unreachable = faults.some((f) => f === 'link down' || f === 'no link') ? `; host ${h} is ${faults.join(', ')}: this machine cannot reach it` : '';
    state.processes.forEach((p, i) => {
      if (p.host !== h) return;
      const r = health[i]!;
      let how: string;
      if (p.kind === 'member') {
        const b = r.body as Partial<MemberHealth> | undefined;
        how = r.ok && b && typeof b === 'object' ? memberLine(b, members) : `not answering (${r.detail}${r.status === undefined ? unreachable : ''})`;
      } else {
        how = r.ok ? 'ready' : `not ready (${r.detail}${r.status === undefined ? unreachable : ''})`;
      }
      lines.push(`  ${p.name.padEnd(11)} ${(p.kind === 'member' ? p.address : `http://${p.address}`).padEnd(26)} ${how}`);
    });
  }

  // The facade is a client of the cluster: it knows the queue's owner and whether the cluster waits on a member.
  const d = dashboard?.ok ? (dashboard.body as { queue?: { about?: string[] }; cluster?: { waiting?: string[] } }) : undefined;
  if (!d) lines.push(`facade: no cluster view (${dashboard?.detail ?? 'no facade'})`);
  for (const l of d?.queue?.about ?? []) lines.push(l);
  for (const w of d?.cluster?.waiting ?? []) lines.push(`waiting: ${w}`);

  const count = (r: { ok: boolean; body?: unknown } | undefined) => (r?.ok && typeof (r.body as { count?: unknown })?.count === 'number' ? (r.body as { count: number }).count : undefined);
  if (!internal) {
    lines.push(`totals: unknown (the internal token in ${join(stateDir, 'token')} is readable by root alone)`);
  } else {
    const logged = logCounts.find((x) => count(x.r) !== undefined);
    const stores = storeCounts.map(({ p, r }) => ({ name: p.name, n: count(r), detail: r?.detail }));
    const consumed = stores.reduce((n, s) => n + (s.n ?? 0), 0);
    const unknown = stores.filter((s) => s.n === undefined);
    lines.push(
      `totals: ${logged ? `${count(logged.r)} logged (the log, read from ${logged.p.name})` : 'logged unknown (no logging instance answered)'}, ` +
        `${unknown.length ? '≥ ' : ''}${consumed} consumed (${stores.map((s) => `${s.name} ${s.n ?? `? ${s.detail ?? ''}`.trim()}`).join(', ')}; a message consumed by both stores counts twice)`,
    );
  }
  lines.push(
    `ports: facade ${PORTS.facade} (public API and dashboard), logging ${PORTS.logging} and messages ${PORTS.messages} (internal: send the token in ${join(stateDir, 'token')} as ${INTERNAL_TOKEN_HEADER}), members ${MEMBER_PORT}`,
  );
  return lines;
}
