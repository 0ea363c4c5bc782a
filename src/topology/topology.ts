/**
 * Starts and stops a topology of real OS processes: (Hazelcast members and
 * Kafka brokers,) logging instances, messages instances, then the facade.
 * Used by `npm start`, the integration tests and the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EngineKind, QueueKind } from '../shared/common-config.js';
import type { LocalCluster } from '../engine/hazelcast/cluster.js';
import type { KafkaCluster } from '../engine/kafka/cluster.js';
import { commandLine, writePidFile, removePidFile, type PidRecord } from './pid-file.js';
import { portFree } from './port-check.js';
import {
  DEFAULT_BROKER_COUNT,
  DEFAULT_CLUSTER_NAME,
  DEFAULT_KAFKA_PORT,
  DEFAULT_KAFKA_TOPIC,
  DEFAULT_MEMBER_COUNT,
  DEFAULT_MEMBER_PORT,
  localBrokerAddresses,
  localMemberAddresses,
} from '../engine/defaults.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled service entry; the same path whether this file runs from src/ (tests) or dist/. */
export const MAIN_JS = join(here, '..', '..', 'dist', 'main.js');

export type ServiceKind = 'facade' | 'logging' | 'messages';

export interface ProcSpec {
  name: string;
  service: ServiceKind;
  port: number;
  /** The address it binds and is called on (and advertises). Default: the topology's host. */
  host?: string;
  args: string[];
}

/** One service instance placed by hand (TopologyOptions.services). */
export interface ServicePlacement {
  name: string;
  service: ServiceKind;
  port: number;
  /** Default: the topology's host. */
  host?: string;
  /** Its own flags, after every service's. */
  args?: string[];
}

/** Hazelcast members on hosts of their own (machines or network namespaces), each on memberBasePort. */
export interface MemberPlacement {
  /** Member i binds and advertises hosts[i]; as many members as hosts. */
  hosts: string[];
  /** Member YAML. Default config/hazelcast.yaml. */
  configFile?: string;
  jvmArgs?: string[];
  /** How long to wait for the cluster to form. Default 60000. */
  startTimeoutMs?: number;
}

export interface Proc extends ProcSpec {
  child: ChildProcess | undefined;
  exited: Promise<number | null> | undefined;
  url: string;
}

export interface TopologyOptions {
  engine?: EngineKind;
  logging?: number;
  messages?: number;
  dataDir: string;
  host?: string;
  facadePort?: number;
  loggingPorts?: number[];
  messagesPorts?: number[];
  /** hazelcast: members to start (0: use an external cluster given by hzMembers). Default 3. */
  members?: number;
  memberBasePort?: number;
  clusterName?: string;
  /** hazelcast: external member addresses (when members is 0). */
  hzMembers?: string[];
  /** Where the facade → messages queue lives. Default 'engine'. */
  queue?: QueueKind;
  /** kafka: local brokers to start (0: use the external cluster given by kafkaBrokers). Default 3. */
  brokers?: number;
  /** kafka: broker i listens on kafkaBasePort + i. Default 9092. */
  kafkaBasePort?: number;
  /** kafka: controller i listens on kafkaControllerBasePort + i. Default kafkaBasePort + 10000. */
  kafkaControllerBasePort?: number;
  /** kafka: external bootstrap brokers (when brokers is 0). */
  kafkaBrokers?: string[];
  /** kafka: the queue's topic, created by the launcher with its full ISR before services start. Default: the services' default --queue-name. */
  kafkaTopic?: string;
  /** kafka: SIGKILL the local brokers at stop (throw-away test clusters) instead of stopping them one at a time. */
  killBrokersOnStop?: boolean;
  /**
   * The facade gets an IPC channel to this process (and --console-channel
   * ipc): the dashboard's lab controls, which a launcher's console answers
   * (see onFacadeMessage / sendToFacade).
   */
  console?: boolean;
  /** hazelcast: members placed on hosts of their own instead of ports of `host` (overrides members). */
  memberPlacement?: MemberPlacement;
  /**
   * The service instances, each with its name, port, host and flags, instead
   * of the ones logging, messages and the ports options make (start order
   * stays: logging and messages, then the facade).
   */
  services?: ServicePlacement[];
  /**
   * A command prefix the process by this name (member-N or a service's name)
   * runs under, e.g. ['ip', 'netns', 'exec', 'ns1'] to start it inside a
   * network namespace; undefined: run directly. The prefix must exec the
   * program (so signals and the exit-with-parent pipe reach it). The
   * free-port check is left out for such a process: the port is elsewhere.
   */
  runUnder?: (name: string) => string[] | undefined;
  /**
   * Called once members and brokers are up, before any service starts; the
   * flags it returns are given to every service (e.g. a queue name picked
   * from the cluster's partition table).
   */
  beforeServices?: (t: Topology) => Promise<string[] | undefined>;
  /** When set, every process's whole output is also appended to <logDir>/<name>.log. */
  logDir?: string;
  /** Extra flags for every service / for one kind. */
  extraArgs?: string[];
  serviceArgs?: Partial<Record<ServiceKind, string[]>>;
  env?: NodeJS.ProcessEnv;
  /** Every output line of every process, with its instance name. */
  onLine?: (name: string, line: string) => void;
  readyTimeoutMs?: number;
  /**
   * When set, every process started is recorded there (pid and a marker its
   * command line contains) while it runs, so a later start can stop what a
   * killed launcher left behind; removed by stop().
   */
  pidFile?: string;
}

/** A port the topology will listen on, and who will. */
export interface TopologyPort {
  port: number;
  name: string;
  kind: ServiceKind | 'member' | 'broker' | 'controller';
}

/** How many of a process's last lines tail() keeps. */
const TAIL_LINES = 200;

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export class Topology {
  readonly procs = new Map<string, Proc>();
  cluster: LocalCluster | undefined;
  /** The local Kafka brokers (queue kafka with brokers > 0). */
  kafka: KafkaCluster | undefined;
  private stopped = false;
  /** Names whose next exit was asked for (signal()), so it is not reported as unexpected. */
  private readonly expectedExit = new Set<string>();
  private readonly facadeListeners = new Set<(m: unknown) => void>();

  constructor(readonly opts: TopologyOptions) {}

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  get facadeUrl(): string {
    const f = [...this.procs.values()].find((p) => p.service === 'facade');
    if (!f) throw new Error('no facade in this topology');
    return f.url;
  }

  byService(service: ServiceKind): Proc[] {
    return [...this.procs.values()].filter((p) => p.service === service);
  }

  /** Every port start() will listen on (members', then services'), for a check before anything starts. */
  plannedPorts(): TopologyPort[] {
    const o = this.opts;
    const out: TopologyPort[] = [];
    if ((o.engine ?? 'embedded') === 'hazelcast') {
      const base = o.memberBasePort ?? DEFAULT_MEMBER_PORT;
      const placed = o.memberPlacement !== undefined;
      for (let i = 0; i < this.memberCount; i++) out.push({ port: placed ? base : base + i, name: `member-${i + 1}`, kind: 'member' });
    }
    if (this.localBrokers > 0) {
      const base = this.kafkaBasePort;
      const controllers = this.kafkaControllerBasePort;
      for (let i = 0; i < this.localBrokers; i++) out.push({ port: base + i, name: `broker-${i + 1}`, kind: 'broker' });
      for (let i = 0; i < this.localBrokers; i++) out.push({ port: controllers + i, name: `broker-${i + 1} (controller)`, kind: 'controller' });
    }
    for (const s of this.serviceSpecs([])) out.push({ port: s.port, name: s.name, kind: s.service });
    return out;
  }

  /** Hazelcast members this topology starts (0 with an external cluster). */
  get memberCount(): number {
    return this.opts.memberPlacement?.hosts.length ?? this.opts.members ?? DEFAULT_MEMBER_COUNT;
  }

  /** Local Kafka brokers this topology starts (0 without Kafka, or with an external cluster). */
  get localBrokers(): number {
    return this.opts.queue === 'kafka' ? (this.opts.brokers ?? DEFAULT_BROKER_COUNT) : 0;
  }

  private get kafkaBasePort(): number {
    return this.opts.kafkaBasePort ?? DEFAULT_KAFKA_PORT;
  }

  private get kafkaControllerBasePort(): number {
    return this.opts.kafkaControllerBasePort ?? this.kafkaBasePort + 10_000;
  }

  /** The bootstrap brokers services are given (undefined without Kafka). */
  get kafkaBootstrap(): string[] | undefined {
    if (this.opts.queue !== 'kafka') return undefined;
    if (this.kafka) return [...this.kafka.bootstrap];
    if (this.localBrokers > 0) return Array.from({ length: this.localBrokers }, (_, i) => `${this.host}:${this.kafkaBasePort + i}`);
    return this.opts.kafkaBrokers ?? localBrokerAddresses();
  }

  private serviceSpecs(common: string[], memberAddrs: string[] = []): ProcSpec[] {
    const o = this.opts;
    if (o.services) {
      const placed = o.services.map((s) => ({ ...s, args: [...common, ...(o.serviceArgs?.[s.service] ?? []), ...(s.args ?? [])] }));
      // Start order: logging and messages, then the facade.
      return [...placed.filter((s) => s.service !== 'facade'), ...placed.filter((s) => s.service === 'facade')];
    }
    const specs: ProcSpec[] = [];
    for (let i = 0; i < (o.logging ?? 3); i++) {
      const port = o.loggingPorts?.[i] ?? 7001 + i;
      // The lab pairs logging instance i with member i: its client prefers that member.
      const pair = memberAddrs[i] ? ['--hz-member', memberAddrs[i]!] : [];
      specs.push({ name: `logging-${port}`, service: 'logging', port, args: [...common, ...pair, ...(o.serviceArgs?.logging ?? [])] });
    }
    for (let i = 0; i < (o.messages ?? 2); i++) {
      const port = o.messagesPorts?.[i] ?? 5001 + i;
      specs.push({ name: `messages-${port}`, service: 'messages', port, args: [...common, ...(o.serviceArgs?.messages ?? [])] });
    }
    const fport = o.facadePort ?? 8000;
    specs.push({ name: `facade-${fport}`, service: 'facade', port: fport, args: [...common, ...(o.serviceArgs?.facade ?? [])] });
    return specs;
  }

  private readonly tails = new Map<string, string[]>();

  /** Keeps the line in its process's tail, then passes it on. */
  private line(name: string, line: string): void {
    let t = this.tails.get(name);
    if (!t) this.tails.set(name, (t = []));
    t.push(line);
    if (t.length > TAIL_LINES) t.shift();
    this.opts.onLine?.(name, line);
  }

  /**
   * The last lines (up to 200) a process of this topology printed: a service
   * instance, a member (member-N), a broker (broker-N), or the jar fetches
   * (hazelcast, kafka). Empty for a name that printed nothing.
   */
  tail(name: string): string[] {
    return [...(this.tails.get(name) ?? [])];
  }

  /** Names that printed something, in the order they first did. */
  tailNames(): string[] {
    return [...this.tails.keys()];
  }

  private get memberLogDir(): string {
    return this.opts.logDir ?? join(this.opts.dataDir, 'hazelcast');
  }

  /** Where a member's or broker's whole output is written (member-N, broker-N); undefined for other names. */
  logFile(name: string): string | undefined {
    if (this.opts.logDir && this.procs.has(name)) return join(this.opts.logDir, `${name}.log`);
    const m = /^(member|broker)-(\d+)$/.exec(name);
    if (!m) return undefined;
    const i = Number(m[2]) - 1;
    if (m[1] === 'member') return this.cluster && i < this.cluster.addresses.length ? join(this.memberLogDir, `${name}.log`) : undefined;
    return this.kafka && i < this.kafka.bootstrap.length ? join(this.opts.dataDir, 'kafka', name, 'broker.log') : undefined;
  }

  private readonly pids = new Map<string, PidRecord>();
  /** Our own whole command line: a later start takes the recorded launcher for alive only if that pid still runs exactly this. */
  private launcherMarker: string | undefined;

  /** Records (or, with pid undefined, forgets) a running child in the pid file. */
  private record(name: string, pid: number | undefined, marker: string): void {
    const file = this.opts.pidFile;
    if (!file || this.stopped) return;
    if (pid === undefined) this.pids.delete(name);
    else this.pids.set(name, { name, pid, marker });
    writePidFile(file, {
      launcher: { name: 'launcher', pid: process.pid, marker: (this.launcherMarker ??= commandLine(process.pid) ?? process.argv.join(' ')) },
      dataDir: this.opts.dataDir,
      children: [...this.pids.values()],
    });
  }

  /** Starts everything in order and waits until each is ready. */
  async start(): Promise<void> {
    const o = this.opts;
    const engine = o.engine ?? 'embedded';
    const common = ['--engine', engine, '--data-dir', o.dataDir, ...(o.extraArgs ?? [])];
    let memberAddrs: string[] = [];
    if (o.pidFile) this.record('launcher', undefined, '');
    // Members and brokers do not need each other: started side by side, the wait is the slower of the two.
    const clusters = await Promise.allSettled([
      engine === 'hazelcast' ? this.startMembers() : Promise.resolve(),
      this.localBrokers > 0 ? this.startBrokers() : Promise.resolve(),
    ]);
    const failed = clusters.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (engine === 'hazelcast') {
      const clusterName = o.clusterName ?? DEFAULT_CLUSTER_NAME;
      memberAddrs = this.cluster ? [...this.cluster.addresses] : (o.hzMembers ?? localMemberAddresses());
      common.push('--hz-members', memberAddrs.join(','), '--hz-cluster-name', clusterName);
    }
    if (o.queue === 'kafka') common.push('--queue', 'kafka', '--kafka-brokers', this.kafkaBootstrap!.join(','));
    if (o.beforeServices) common.push(...((await o.beforeServices(this)) ?? []));
    const specs = this.serviceSpecs(common, memberAddrs);
    for (const s of specs) this.procs.set(s.name, { ...s, child: undefined, exited: undefined, url: `http://${s.host ?? this.host}:${s.port}` });
    // Instances first, in parallel; the facade last so it finds them registered.
    await Promise.all(specs.filter((s) => s.service !== 'facade').map((s) => this.startProc(s.name)));
    await Promise.all(specs.filter((s) => s.service === 'facade').map((s) => this.startProc(s.name)));
  }

  private async startMembers(): Promise<void> {
    const o = this.opts;
    const members = this.memberCount;
    if (members <= 0) return;
    const placed = o.memberPlacement;
    const runUnder = o.runUnder;
    const { startCluster } = await import('../engine/hazelcast/cluster.js');
    const { ensureHazelcastJar } = await import('../engine/hazelcast/jar.js');
    // Fetches the member jar with Maven on first use; says what is missing otherwise.
    const jarPath = await ensureHazelcastJar({ log: (line) => this.line('hazelcast', line) });
    this.cluster = await startCluster({
      jarPath,
      members,
      basePort: o.memberBasePort ?? DEFAULT_MEMBER_PORT,
      clusterName: o.clusterName ?? DEFAULT_CLUSTER_NAME,
      host: this.host,
      ...(placed
        ? {
            memberHosts: placed.hosts,
            ...(placed.configFile ? { configFile: placed.configFile } : {}),
            ...(placed.jvmArgs ? { jvmArgs: placed.jvmArgs } : {}),
            ...(placed.startTimeoutMs ? { startTimeoutMs: placed.startTimeoutMs } : {}),
          }
        : {}),
      ...(runUnder ? { runUnder: (i: number) => runUnder(`member-${i + 1}`) ?? [] } : {}),
      onLog: (i, line) => this.line(`member-${i + 1}`, line),
      dataLogDir: this.memberLogDir,
      onSpawn: (i, pid, marker) => this.record(`member-${i + 1}`, pid, marker),
    });
  }

  /** Local brokers in KRaft mode, tied to this process; resolves when the topic exists with its full ISR. */
  private async startBrokers(): Promise<void> {
    const o = this.opts;
    const { startKafkaCluster } = await import('../engine/kafka/cluster.js');
    const { ensureKafkaJars } = await import('../engine/kafka/jars.js');
    // Fetches the broker jars with Maven on first use; says what is missing otherwise.
    const classpath = await ensureKafkaJars({ log: (line) => this.line('kafka', line) });
    const cluster = await startKafkaCluster({
      brokers: this.localBrokers,
      basePort: this.kafkaBasePort,
      controllerBasePort: this.kafkaControllerBasePort,
      host: this.host,
      dataDir: join(o.dataDir, 'kafka'),
      classpath,
      topic: o.kafkaTopic ?? DEFAULT_KAFKA_TOPIC,
      tieToParent: true,
      onLog: (i, line) => this.line(`broker-${i + 1}`, line),
      onSpawn: (i, pid, marker) => this.record(`broker-${i + 1}`, pid, marker),
    });
    // Stopped while starting: nothing else will stop these.
    if (this.stopped) await cluster.kill();
    else this.kafka = cluster;
  }

  /** (Re)starts one process by name and waits until /health/ready answers 200. */
  async startProc(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process named ${name}`);
    if (p.child && p.child.exitCode === null && p.child.signalCode === null) return;
    const host = p.host ?? this.host;
    const prefix = this.opts.runUnder?.(p.name) ?? [];
    // Else the readiness check below could be answered by whoever holds the port.
    if (!prefix.length && !(await portFree(host, p.port))) throw new Error(`${p.name}: port ${p.port} on ${host} is already in use`);
    const ipc = p.service === 'facade' && this.opts.console === true;
    const argv = [MAIN_JS, p.service, '--host', host, '--port', String(p.port), '--name', p.name, ...p.args, ...(ipc ? ['--console-channel', 'ipc'] : [])];
    const [cmd, ...cmdArgs] = [...prefix, process.execPath, ...argv];
    const child = spawn(cmd!, cmdArgs, {
      // Own process group: a Ctrl-C in the terminal reaches only the launcher,
      // which then stops services in order. The stdin pipe closes if the
      // launcher dies, and the child then shuts itself down (EXIT_WITH_PARENT).
      detached: true,
      stdio: ipc ? ['pipe', 'pipe', 'pipe', 'ipc'] : ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...this.opts.env, LOG_PRETTY: '0', EXIT_WITH_PARENT: '1' },
    });
    p.child = child;
    if (ipc) {
      child.on('message', (m) => this.facadeListeners.forEach((fn) => fn(m)));
      // A facade that dies mid-send must not take the launcher with it.
      child.on('error', (err) => this.line(p.name, `console channel: ${err.message}`));
    }
    const marker = `--name ${p.name}`;
    this.record(p.name, child.pid, marker);
    p.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.once('exit', (code, signal) => {
      if (p.child === child) this.record(p.name, undefined, marker);
      if (!this.stopped && !this.expectedExit.delete(p.name)) this.line(p.name, `process exited unexpectedly (${signal ?? `code ${code}`})`);
    });
    const from = this.tail(p.name).length;
    const logFile = this.opts.logDir ? join(this.opts.logDir, `${p.name}.log`) : undefined;
    if (logFile) mkdirSync(dirname(logFile), { recursive: true });
    const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
    // 'close': after the last line of both streams.
    if (log) child.once('close', () => log.end());
    for (const stream of [child.stdout!, child.stderr!])
      createInterface({ input: stream }).on('line', (line) => {
        log?.write(line + '\n');
        this.line(p.name, line);
      });
    await waitReady(p.url, child, this.opts.readyTimeoutMs ?? 30_000).catch((err: Error) => {
      throw new Error(`${p.name} did not become ready: ${err.message}\n${this.tail(p.name).slice(from).slice(-30).join('\n')}`);
    });
  }

  /** Calls fn with each message a facade sends over its console channel; returns the unsubscribe. */
  onFacadeMessage(fn: (m: unknown) => void): () => void {
    this.facadeListeners.add(fn);
    return () => this.facadeListeners.delete(fn);
  }

  /** Sends a message to every running facade with a console channel (dropped for one that is stopping). */
  sendToFacade(m: unknown): void {
    for (const p of this.byService('facade')) {
      const c = p.child;
      if (c?.connected && c.exitCode === null && c.signalCode === null) c.send(m as object, () => undefined);
    }
  }

  /** Sends a signal and waits for the exit (SIGTERM: graceful; SIGKILL: a crash). No-op when not running; throws for an unknown name. */
  async signal(name: string, sig: NodeJS.Signals, timeoutMs = 15_000): Promise<void> {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process named ${name}`);
    if (!p.child || p.child.exitCode !== null || p.child.signalCode !== null) return;
    this.expectedExit.add(name);
    p.child.kill(sig);
    const t = setTimeout(() => p.child?.kill('SIGKILL'), timeoutMs);
    await p.exited;
    clearTimeout(t);
  }

  isRunning(name: string): boolean {
    const c = this.procs.get(name)?.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  /** Stops services in reverse start order (facade, messages, logging), then members and brokers. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const order: ServiceKind[] = ['facade', 'messages', 'logging'];
    for (const kind of order) await Promise.all(this.byService(kind).map((p) => this.signal(p.name, 'SIGTERM')));
    await Promise.all([this.cluster?.stop(), this.opts.killBrokersOnStop ? this.kafka?.kill() : this.kafka?.stop()]);
    if (this.opts.pidFile) removePidFile(this.opts.pidFile);
  }
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms (${last})`);
}
