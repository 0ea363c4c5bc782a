import { existsSync } from 'node:fs';
import { join } from 'node:path';
export { partitionOwnerAddress } from './partition-owner.js';
import { findFreePorts, portInUse } from '../../lib/net.js';
import { DEFAULT_CLUSTER_NAME, DEFAULT_MEMBER_PORT } from '../defaults.js';
import { JvmSupervisor, type ProcessSlot } from '../jvm/supervisor.js';
import { findHazelcastJar, HazelcastSetupError, javaAvailable, JAVA_HINT, repoRoot } from './jar.js';

/** Member config shipped with the repo; its ${hazel-lab.*} placeholders are filled per member. */
export const defaultConfigFile = join(repoRoot, 'config', 'hazelcast.yaml');
/** Member config for hosts of their own: split-brain protection and merge policies for network partitions. */
export const hostsConfigFile = join(repoRoot, 'config', 'hazelcast-hosts.yaml');

export interface StartClusterOptions {
  /** How many members to run (≥ 1). */
  members: number;
  /** Member i listens on basePort + i. Default 5701. */
  basePort?: number;
  /** Default 'hazel-lab'. Clients must use the same name. */
  clusterName?: string;
  /** Address members bind to and advertise. Default '127.0.0.1'. */
  host?: string;
  /**
   * One address per member, each on a host of its own (a machine or a
   * network namespace): member i binds and advertises memberHosts[i], every
   * member on basePort. Its length must equal `members`; `host` is then unused.
   */
  memberHosts?: string[];
  /**
   * Command prefix member i runs under, e.g. ['ip', 'netns', 'exec', 'ns1'] to
   * start it inside a network namespace (the prefix must exec the program, so
   * it stops with its wrapper). The free-port check is left out then: the port
   * is in another namespace.
   */
  runUnder?: (member: number) => string[];
  /** Member YAML. Default config/hazelcast.yaml. */
  configFile?: string;
  /** Member jar. Default .cache/hazelcast/hazelcast-<version>.jar (see `npm run hazelcast:fetch`). */
  jarPath?: string;
  /** When set, member i's output (i from 0) is also appended to <dir>/member-<i+1>.log. */
  dataLogDir?: string;
  /** Each line a member prints (stdout and stderr), tagged with its index. */
  onLog?: (member: number, line: string) => void;
  /** How long to wait for every member to see the full cluster. Default 60000. */
  startTimeoutMs?: number;
  /** How long a graceful stop may take before SIGKILL. Default 20000 (members give up handing data over after 15 s). */
  stopTimeoutMs?: number;
  /** Java heap per member in MiB (-Xms/-Xmx). Default 320. */
  heapMb?: number;
  /** Extra JVM arguments, e.g. ['-XX:TieredStopAtLevel=1']; the hazel-lab.* properties are set after them. */
  jvmArgs?: string[];
  /**
   * Called each time member i's process is spawned, with its pid (the process
   * group holding the JVM) and a string its command line contains, so a
   * launcher can record it and recognise it later.
   */
  onSpawn?: (member: number, pid: number, marker: string) => void;
}

export interface MemberInfo {
  index: number;
  host: string;
  port: number;
  /** 'host:port' */
  address: string;
  /** OS process id while running. */
  pid: number | undefined;
  running: boolean;
  /** Cluster size this member last reported (0 before it joined). */
  seesMembers: number;
}

export interface LocalCluster {
  readonly clusterName: string;
  /** 'host:port' of every member slot, running or not; index i is member i. */
  readonly addresses: string[];
  member(i: number): MemberInfo;
  /** Index of the member with this 'host:port', or -1. */
  indexOf(address: string): number;
  /** Member i's last lines of output (its whole log is in dataLogDir when set). */
  tail(i: number): string[];
  /** (Re)starts member i on its own port and waits until it sees every running member. No-op if running. */
  startMember(i: number): Promise<void>;
  /** SIGTERM: graceful shutdown (partitions handed over); SIGKILL: a crash. Resolves when the process has exited. */
  killMember(i: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Waits until every running member reports `count` members. */
  waitForSize(count: number, timeoutMs?: number): Promise<void>;
  /**
   * Member i's own report (its health-check endpoint, enabled in
   * config/hazelcast.yaml); undefined when it is not running or does not answer.
   */
  health(i: number): Promise<MemberHealth | undefined>;
  /**
   * Waits until every running member says the cluster is safe: no migration
   * queued and every backup in sync. Backup-count 1 promises that one crash
   * loses nothing only from that state; a crash during a migration (after a
   * member joined or left) can lose the partitions being moved.
   */
  waitForSafe(timeoutMs?: number): Promise<void>;
  /** Stops every member (SIGTERM, then SIGKILL after stopTimeoutMs). Idempotent. */
  stop(): Promise<void>;
}

/** What a member's `GET /hazelcast/health` answers. */
export interface MemberHealth {
  nodeState: string;
  clusterState: string;
  clusterSafe: boolean;
  migrationQueueSize: number;
  clusterSize: number;
}

/** No migration queued and every backup in sync, as the member reports it. */
export const isSafe = (h: MemberHealth): boolean => h.clusterSafe && h.migrationQueueSize === 0;

/** Thrown when members do not start or form the cluster in time. */
export class ClusterStartError extends Error {
  readonly isClusterStartError = true;
  constructor(message: string) {
    super(message);
    this.name = 'ClusterStartError';
  }
}

export function isClusterStartError(e: unknown): e is ClusterStartError {
  return typeof e === 'object' && e !== null && (e as { isClusterStartError?: unknown }).isClusterStartError === true;
}

// Java 17 refuses reflective access Hazelcast uses for speed unless opened; without these it warns at start.
const MODULE_ACCESS = [
  '--add-modules', 'java.se',
  '--add-exports', 'java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang=ALL-UNNAMED',
  '--add-opens', 'java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens', 'java.management/sun.management=ALL-UNNAMED',
  '--add-opens', 'jdk.management/com.sun.management.internal=ALL-UNNAMED',
];

const MEMBERS_LINE = /Members \{size:(\d+), ver:\d+\}/;
const LIFECYCLE_LINE = /is (STARTING|STARTED|SHUTTING_DOWN|SHUTDOWN)\s*$/;

interface Slot extends ProcessSlot {
  host: string;
  port: number;
  address: string;
  /** Cluster size this member last reported (0 before it joined). */
  seesMembers: number;
}

/**
 * Starts `members` Hazelcast members as child processes on fixed ports
 * basePort+i and resolves once every member reports the whole cluster.
 * Members run under the JVM supervisor: each in its own process group, so a
 * Ctrl-C in the terminal reaches only the parent, which can then stop
 * services before members; and each stops by itself when the parent dies.
 */
export async function startCluster(opts: StartClusterOptions): Promise<LocalCluster> {
  if (!Number.isInteger(opts.members) || opts.members < 1) throw new RangeError(`members must be an integer ≥ 1, got ${opts.members}`);
  const basePort = opts.basePort ?? DEFAULT_MEMBER_PORT;
  if (!Number.isInteger(basePort) || basePort < 1 || basePort + opts.members - 1 > 65535) throw new RangeError(`bad basePort: ${basePort}`);
  const clusterName = opts.clusterName ?? DEFAULT_CLUSTER_NAME;
  const host = opts.host ?? '127.0.0.1';
  const configFile = opts.configFile ?? defaultConfigFile;
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const heapMb = opts.heapMb ?? 320;

  const hosts = opts.memberHosts ?? Array.from({ length: opts.members }, () => host);
  if (hosts.length !== opts.members) throw new RangeError(`memberHosts lists ${hosts.length} addresses for ${opts.members} members`);
  for (const h of hosts) {
    if (h === '0.0.0.0' || h === '::') throw new RangeError(`host must be an address members can advertise to each other and to clients, not ${h}`);
  }
  // Members on hosts of their own all listen on basePort.
  const portOf = (i: number) => (opts.memberHosts ? basePort : basePort + i);
  if (!javaAvailable()) throw new HazelcastSetupError(JAVA_HINT, 'java');
  const jar = opts.jarPath ?? findHazelcastJar();
  if (!jar || !existsSync(jar)) {
    throw new HazelcastSetupError(`Hazelcast member jar not found${opts.jarPath ? ` at ${opts.jarPath}` : ''}: run \`npm run hazelcast:fetch\``, 'jar');
  }
  if (!existsSync(configFile)) throw new HazelcastSetupError(`Hazelcast member config not found: ${configFile}`);

  const slots: Slot[] = Array.from({ length: opts.members }, (_, index) => {
    const address = `${hosts[index]!}:${portOf(index)}`;
    return { index, label: `Hazelcast member ${index} (${address})`, host: hosts[index]!, port: portOf(index), address, started: false, seesMembers: 0, tail: [] };
  });
  const addresses = slots.map((s) => s.address);
  const sup = new JvmSupervisor<Slot>(slots, {
    error: (message) => new ClusterStartError(message),
    stopTimeoutMs: opts.stopTimeoutMs ?? 20_000,
    onLog: opts.onLog,
    onSpawn: opts.onSpawn,
    reset: (s) => {
      s.seesMembers = 0;
    },
    onLine: (s, line) => {
      const m = MEMBERS_LINE.exec(line);
      if (m) s.seesMembers = Number(m[1]);
      const l = LIFECYCLE_LINE.exec(line);
      if (l) s.started = l[1] === 'STARTED';
      return line;
    },
  });
  let stopping: Promise<void> | undefined;

  const launch = async (slot: Slot) => {
    const prefix = opts.runUnder?.(slot.index) ?? [];
    const busy = prefix.length === 0 && (await portInUse(slot.host, slot.port));
    if (busy) throw new ClusterStartError(`port ${slot.port} on ${slot.host} is already in use (another cluster running?); choose another base port (--base-port)`);
    const args = [
      `-Xms${Math.min(128, heapMb)}m`,
      `-Xmx${heapMb}m`,
      '-XX:+UseSerialGC',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.net.preferIPv4Stack=true',
      // One line per log record (JUL's default spreads each over two).
      '-Djava.util.logging.SimpleFormatter.format=%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n',
      ...MODULE_ACCESS,
      ...(opts.jvmArgs ?? []),
      `-Dhazelcast.config=${configFile}`,
      `-Dhazel-lab.cluster-name=${clusterName}`,
      `-Dhazel-lab.host=${slot.host}`,
      `-Dhazel-lab.port=${slot.port}`,
      `-Dhazel-lab.members=${addresses.join(',')}`,
      '-cp',
      jar,
      'com.hazelcast.core.server.HazelcastMemberStarter',
    ];
    // Through the wrapper: the member stops within seconds when this process dies, even by SIGKILL.
    const [command, ...rest] = [...prefix, 'java', ...args];
    sup.launch(slot, {
      command: command!,
      args: rest,
      tieToParent: true,
      marker: `-Dhazel-lab.port=${slot.port}`,
      ...(opts.dataLogDir ? { logFile: join(opts.dataLogDir, `member-${slot.index + 1}.log`) } : {}),
    });
  };

  const seesAll = (watch: Slot[], count: number) => () => watch.every((s) => s.started && s.seesMembers === count);

  const cluster: LocalCluster = {
    clusterName,
    addresses,
    member(i) {
      const s = sup.slotAt(i);
      return {
        index: s.index,
        host: s.host,
        port: s.port,
        address: s.address,
        pid: s.child?.pid,
        running: s.child !== undefined,
        seesMembers: s.seesMembers,
      };
    },
    indexOf: (address) => addresses.indexOf(address),
    tail: (i) => [...sup.slotAt(i).tail],
    async startMember(i) {
      const s = sup.slotAt(i);
      if (stopping) throw new Error('cluster is stopped');
      if (s.child) return;
      await launch(s);
      const watch = sup.running();
      await sup.until(seesAll(watch, watch.length), startTimeoutMs, () => `waiting for member ${i} (${s.address}) to rejoin ${watch.length} members`, [s]);
    },
    async killMember(i, signal) {
      await sup.terminate(sup.slotAt(i), signal);
    },
    async waitForSize(count, timeoutMs = startTimeoutMs) {
      const watch = sup.running();
      await sup.until(seesAll(watch, count), timeoutMs, () => `waiting for the running members to report ${count} members`, watch);
    },
    health: (i) => memberHealth(sup.slotAt(i)),
    async waitForSafe(timeoutMs = startTimeoutMs) {
      let last = 'no member answered';
      const safe = async () => {
        const watch = sup.running();
        const reports = await Promise.all(watch.map((s) => memberHealth(s)));
        const unsafe = reports.findIndex((h) => !h || !isSafe(h) || h.clusterSize !== watch.length);
        if (unsafe >= 0) last = `member ${watch[unsafe]!.index} reports ${JSON.stringify(reports[unsafe] ?? 'no answer')}`;
        return watch.length > 0 && unsafe < 0;
      };
      await sup.poll(safe, timeoutMs, 'waiting for the cluster to be safe (backups in sync)', [], 200).catch((e: Error) => {
        throw new ClusterStartError(`${e.message}: ${last}`);
      });
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all(slots.map((s) => sup.terminate(s, 'SIGTERM')));
        await sup.close();
      })();
      return stopping;
    },
  };

  try {
    for (const s of slots) await launch(s);
    await sup.until(
      seesAll(slots, slots.length),
      startTimeoutMs,
      () => `waiting for ${slots.length} Hazelcast member(s) at ${opts.memberHosts ? addresses.join(', ') : `${host}:${basePort}-${basePort + slots.length - 1}`} to form cluster '${clusterName}'`,
      slots,
    );
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

async function memberHealth(s: Slot): Promise<MemberHealth | undefined> {
  if (!s.child) return undefined;
  try {
    const res = await fetch(`http://${s.address}/hazelcast/health`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as MemberHealth) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * First port p at or after `from` such that p..p+count-1 are all free on host,
 * for tests that must not clash with a cluster someone else is running. Free
 * now does not mean free at bind time; startCluster reports a clash clearly.
 */
export function findFreeBasePort(count: number, from: number, host = '127.0.0.1'): Promise<number> {
  return findFreePorts(count, from, [0], host);
}
