/**
 * The system under test: the default topology (1 facade, 3 logging,
 * 2 messages; Hazelcast: 3 members) as real processes from dist/, on free
 * ports with its own temp data dir, plus the probes the bench reads.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { freePort, Topology } from '../src/topology/topology.js';
import { startKafkaCluster, type KafkaCluster } from '../src/engine/kafka/cluster.js';
import { findFreePorts } from '../src/lib/net.js';
import type { EngineKind } from '../src/shared/common-config.js';
import { programPid, type Tracked } from './memory.js';
import { DEFAULT_KAFKA_PARTITIONS, DEFAULT_KAFKA_TOPIC } from '../src/engine/defaults.js';

export interface SystemOptions {
  engine: EngineKind;
  dataDir: string;
  /** Passed to every service as --log-level when set; the services' default (info) otherwise. */
  logLevel?: string;
  /** Extra environment for every service (e.g. NODE_OPTIONS for profiling). */
  env?: NodeJS.ProcessEnv;
  /** The queue on a local 3-broker Kafka cluster started for the run (the log stays on the engine). */
  kafka?: boolean;
}

/** Warnings/errors each process printed (pino level ≥ 40), and its last lines. */
interface ProcLog {
  warn: number;
  error: number;
  tail: string[];
  lastWarn?: string;
}

async function distinctPorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A base port with `n` free consecutive ports after it (members use base+i). */
async function freeRange(n: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

async function getJson<T>(url: string, timeoutMs = 5000): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`GET ${url} → ${r.status}`);
  return (await r.json()) as T;
}

export class BenchSystem {
  readonly logs = new Map<string, ProcLog>();
  /** The brokers, when the queue is on Kafka. */
  kafka: KafkaCluster | undefined;

  private constructor(
    readonly engine: EngineKind,
    readonly topo: Topology,
    readonly dataDir: string,
    private readonly kafkaBasePort?: number,
  ) {}

  /** Builds the topology without starting it, so a caller can register stop() first. */
  static create(o: SystemOptions): Promise<BenchSystem> {
    return BenchSystem.build(o);
  }

  /** create() + start(). */
  static async start(o: SystemOptions): Promise<BenchSystem> {
    const sys = await BenchSystem.build(o);
    await sys.start();
    return sys;
  }

  private static async build(o: SystemOptions): Promise<BenchSystem> {
    const [l1, l2, l3, m1, m2, f] = await distinctPorts(6);
    const hz = o.engine === 'hazelcast';
    // Brokers on basePort+i, controllers 10000 above: both ranges free.
    const kafkaBasePort = o.kafka ? await findFreePorts(3, 30_000 + 3 * Math.floor(Math.random() * 3000), [0, 10_000]) : undefined;
    const kafkaArgs = kafkaBasePort ? ['--queue', 'kafka', '--kafka-brokers', [0, 1, 2].map((i) => `127.0.0.1:${kafkaBasePort + i}`).join(',')] : [];
    // The topology is built before the system that reads its lines.
    const holder: { sys?: BenchSystem } = {};
    const topo = new Topology({
      engine: o.engine,
      dataDir: o.dataDir,
      logging: 3,
      messages: 2,
      loggingPorts: [l1!, l2!, l3!],
      messagesPorts: [m1!, m2!],
      facadePort: f!,
      ...(hz ? { members: 3, memberBasePort: await freeRange(3), clusterName: `bench-${randomBytes(4).toString('hex')}` } : {}),
      extraArgs: [...(o.logLevel ? ['--log-level', o.logLevel] : []), ...kafkaArgs],
      ...(o.env ? { env: o.env } : {}),
      readyTimeoutMs: 60_000,
      onLine: (name, line) => holder.sys?.onLine(name, line),
    });
    return (holder.sys = new BenchSystem(o.engine, topo, o.dataDir, kafkaBasePort));
  }

  /** Starts members (Hazelcast) and services and waits until the facade sees every instance; stops what started on failure. */
  async start(): Promise<void> {
    try {
      if (this.kafkaBasePort !== undefined) {
        this.kafka = await startKafkaCluster({ brokers: 3, basePort: this.kafkaBasePort, dataDir: join(this.dataDir, 'kafka'), topic: DEFAULT_KAFKA_TOPIC, partitions: DEFAULT_KAFKA_PARTITIONS, startTimeoutMs: 180_000, tieToParent: true });
      }
      await this.topo.start();
      await this.waitInstances(3, 2);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private onLine(name: string, line: string): void {
    let l = this.logs.get(name);
    if (!l) this.logs.set(name, (l = { warn: 0, error: 0, tail: [] }));
    l.tail.push(line);
    if (l.tail.length > 40) l.tail.shift();
    // Cheap check first: most lines are level 30 (info).
    if (!line.includes('"level":30')) {
      const m = /"level":(\d+)/.exec(line);
      const lv = m ? Number(m[1]) : 0;
      if (lv >= 50) l.error++;
      else if (lv >= 40) l.warn++;
      if (lv >= 40) l.lastWarn = line.slice(0, 300);
    }
  }

  get facadeUrl(): string {
    return this.topo.facadeUrl;
  }

  urls(service: 'logging' | 'messages'): string[] {
    return this.topo.byService(service).map((p) => p.url);
  }

  tracked(): Tracked[] {
    const out: Tracked[] = [...this.topo.procs.values()].map((p) => ({ name: p.name, kind: 'node' as const, pid: p.child?.pid }));
    const c = this.topo.cluster;
    if (c) c.addresses.forEach((_a, i) => out.push({ name: `member-${i + 1}`, kind: 'java', pid: programPid(c.member(i).pid) }));
    const k = this.kafka;
    if (k) k.bootstrap.forEach((_a, i) => out.push({ name: `broker-${i + 1}`, kind: 'java', pid: programPid(k.broker(i).pid) }));
    return out;
  }

  /** Messages the facade answered 201 for since it started (its Prometheus counter). */
  async accepted(): Promise<number> {
    const r = await fetch(`${this.facadeUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await r.text();
    const m = /^messages_accepted_total(?:\{[^}]*\})?\s+([0-9.eE+]+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  /** Messages held by the messages instances' stores, summed. */
  async consumed(): Promise<number> {
    const counts = await Promise.all(this.urls('messages').map((u) => getJson<{ count: number }>(`${u}/messages/count`).then((c) => c.count)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async consumedBy(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const p of this.topo.byService('messages')) out[p.name] = (await getJson<{ count: number }>(`${p.url}/messages/count`)).count;
    return out;
  }

  /** Entries in the shared log, read through one logging instance. */
  async logged(): Promise<number> {
    return (await getJson<{ count: number }>(`${this.urls('logging')[0]}/log/count`, 30_000)).count;
  }

  /** Waits until the facade's directory lists the instances, all up. */
  async waitInstances(logging: number, messages: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const list = await getJson<Array<{ service: string; status: string }>>(`${this.facadeUrl}/instances`);
        const up = (s: string) => list.filter((r) => r.service === s && r.status === 'up').length;
        if (up('logging') >= logging && up('messages') >= messages) return;
        last = JSON.stringify(list.map((r) => `${r.service}:${r.status}`));
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the facade did not see ${logging} logging and ${messages} messages instances up: ${last}`);
  }

  /**
   * Restarts the logging and messages instances on a new, empty log map and
   * new, empty stores (same ports), so the read path starts from zero
   * entries on either engine without restarting the cluster or the facade.
   */
  async restartEmpty(tag: string): Promise<void> {
    const procs = [...this.topo.byService('logging'), ...this.topo.byService('messages')];
    await Promise.all(procs.map((p) => this.topo.signal(p.name, 'SIGTERM')));
    for (const p of procs) {
      // Later flags win in the services' argv parsing.
      if (p.service === 'logging') p.args.push('--map-name', `bench-read-${tag}`);
      else p.args.push('--store-file', join(this.dataDir, `store-${p.name}-${tag}.db`));
    }
    await Promise.all(procs.map((p) => this.topo.startProc(p.name)));
    await this.waitInstances(3, 2);
  }

  warnings(): Array<{ name: string; warn: number; error: number; lastWarn?: string }> {
    return [...this.logs.entries()]
      .filter(([, l]) => l.warn + l.error > 0)
      .map(([name, l]) => ({ name, warn: l.warn, error: l.error, ...(l.lastWarn ? { lastWarn: l.lastWarn } : {}) }));
  }

  /** Clears the warning counters (e.g. after warm-up). */
  resetWarnings(): void {
    for (const l of this.logs.values()) {
      l.warn = 0;
      l.error = 0;
      delete l.lastWarn;
    }
  }

  async stop(): Promise<void> {
    await this.topo.stop();
    // Throw-away brokers: SIGKILL all at once (a graceful stop of all three stalls on the leaving quorum).
    await this.kafka?.kill();
  }
}
