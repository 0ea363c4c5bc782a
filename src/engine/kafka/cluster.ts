/**
 * A local Kafka cluster: N brokers in KRaft mode, each broker and controller
 * at once (static quorum, no ZooKeeper), run from the Maven jars as child
 * processes. Used by the launcher, `npm run kafka` and the tests.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Admin, FindCoordinatorKeyTypes } from '@platformatic/kafka';
import { portInUse } from '../../lib/net.js';
import { runCommand } from '../../lib/maven.js';
import { DEFAULT_KAFKA_GROUP, DEFAULT_KAFKA_PARTITIONS, DEFAULT_KAFKA_PORT } from '../defaults.js';
import { JvmSupervisor, type ProcessSlot } from '../jvm/supervisor.js';
import { guardUnknownBroker } from './client-fixes.js';
import { ensureTopic as ensureTopicOn, groupLagOf, partitionStates, type GroupLag, type PartitionState } from './admin.js';
import { findKafkaClasspath, javaAvailable, KAFKA_JAVA_HINT, KafkaSetupError } from './jars.js';

export interface StartKafkaOptions {
  /** How many brokers (≥ 1). Each is also a controller (quorum voter). */
  brokers: number;
  /** Broker i (0-based) serves clients on basePort + i. Default 9092. */
  basePort?: number;
  /** Controller i listens on controllerBasePort + i. Default basePort + 10000 (19092…). */
  controllerBasePort?: number;
  /** Address brokers bind to and advertise. Default '127.0.0.1'. */
  host?: string;
  /** Broker i keeps its log, config and output under <dataDir>/broker-<i+1>/. Required. */
  dataDir: string;
  /** Broker class path. Default: the jars of `npm run kafka:fetch`. */
  classpath?: string;
  /** The topic to create once the cluster is up (skipped when absent). */
  topic?: string;
  /** Partitions of that topic. Default 6. */
  partitions?: number;
  /** Java heap per broker in MiB. Default 128 (enough with the small cleaner buffer set below). */
  heapMb?: number;
  /** Each line a broker prints, tagged with its index. */
  onLog?: (broker: number, line: string) => void;
  /** How long to wait for the cluster (and topic) to be ready. Default 90000. */
  startTimeoutMs?: number;
  /** How long a graceful stop may take before SIGKILL. Default 15000. */
  stopTimeoutMs?: number;
  /**
   * Spawn each broker through the exit-with-parent wrapper, so it stops when
   * this process dies, even by SIGKILL (the launcher and the tests). Default false.
   */
  tieToParent?: boolean;
  /**
   * Called each time broker i's process is spawned, with its pid (the process
   * group holding the JVM) and a string its command line contains, so a
   * launcher can record it and recognise it later.
   */
  onSpawn?: (broker: number, pid: number, marker: string) => void;
}

export interface BrokerInfo {
  index: number;
  /** KRaft node id: index + 1. */
  nodeId: number;
  /** 'host:port' clients connect to. */
  address: string;
  controllerAddress: string;
  pid: number | undefined;
  running: boolean;
  /** Its log said `Kafka Server started` since its last launch. */
  started: boolean;
}

export { groupLagOf } from './admin.js';
export type { GroupLag, MemberLag, PartitionState } from './admin.js';

export interface KafkaCluster {
  /** 'host:port' of every broker slot, running or not; index i is node i+1. */
  readonly bootstrap: string[];
  readonly clusterId: string;
  readonly topic: string | undefined;
  broker(i: number): BrokerInfo;
  /** Index of the broker with this KRaft node id, or -1. */
  indexOfNode(nodeId: number): number;
  /** Broker i's last lines of output (its whole log is <dataDir>/broker-<i+1>/broker.log). */
  tail(i: number): string[];
  /** kill -9: a crash. Resolves when the process has exited. */
  killBroker(i: number): Promise<void>;
  /** SIGTERM: a controlled shutdown (leadership moved first); SIGKILL after stopTimeoutMs. */
  stopBroker(i: number): Promise<void>;
  /** (Re)starts broker i from its data and waits until it is registered again and (with a topic) back in every ISR. No-op if running. */
  startBroker(i: number): Promise<void>;
  /** Leader and ISR of each partition of the topic (the cluster's own, by default). */
  partitions(topic?: string): Promise<PartitionState[]>;
  /** Waits until every partition of the topic has a leader and every running broker that is a replica is in its ISR. */
  waitForFullIsr(topic?: string, timeoutMs?: number): Promise<void>;
  /** The consumer group's lag per member. */
  groupLag(group: string, topic?: string): Promise<GroupLag>;
  /** Node id of the broker coordinating the consumer group (it holds the group's committed offsets). */
  groupCoordinator(group: string): Promise<number>;
  /** Node id of the active controller as the brokers' logs last said; undefined when not known. */
  activeController(): number | undefined;
  /** Stops every broker, one at a time (SIGTERM, then SIGKILL after stopTimeoutMs). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs every broker at once: for throw-away clusters. Idempotent. */
  kill(): Promise<void>;
}

/** Thrown when brokers do not start or form the cluster in time. */
export class KafkaStartError extends Error {
  readonly isKafkaStartError = true;
  constructor(message: string) {
    super(message);
    this.name = 'KafkaStartError';
  }
}

export function isKafkaStartError(e: unknown): e is KafkaStartError {
  return typeof e === 'object' && e !== null && (e as { isKafkaStartError?: unknown }).isKafkaStartError === true;
}

/** How long a broker left without a quorum may take to stop before it is killed. */
const NO_QUORUM_GRACE_MS = 3000;

const STARTED_LINE = /Kafka Server started/;
// The raft layer logs each state change of a node: "Completed transition to Leader(...)" marks the active controller.
const RAFT_TRANSITION = /Completed transition to (\w+)/;

// Warnings and errors on the console; the few INFO loggers that say when a node is up and who leads the quorum.
const LOG4J2 = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss.SSS} %-5p [%c{1}] %m%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.quorum.name = org.apache.kafka.raft.QuorumState
logger.quorum.level = INFO
`;

interface Slot extends ProcessSlot {
  nodeId: number;
  port: number;
  controllerPort: number;
  address: string;
  controllerAddress: string;
  dir: string;
  /** Last raft state this node reported. */
  raftState?: string;
}

/**
 * Starts the brokers (formatting each log dir on first use), waits until an
 * admin client sees all of them, creates the topic when one is named and
 * waits for its full ISR. Brokers run in their own process group so a
 * Ctrl-C in the terminal reaches only the parent.
 */
export async function startKafkaCluster(opts: StartKafkaOptions): Promise<KafkaCluster> {
  const n = opts.brokers;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`brokers must be an integer ≥ 1, got ${n}`);
  const basePort = opts.basePort ?? DEFAULT_KAFKA_PORT;
  const controllerBasePort = opts.controllerBasePort ?? basePort + 10_000;
  for (const p of [basePort, controllerBasePort]) if (!Number.isInteger(p) || p < 1 || p + n - 1 > 65535) throw new RangeError(`bad port: ${p}`);
  if (Math.abs(basePort - controllerBasePort) < n) throw new RangeError(`broker ports ${basePort}.. and controller ports ${controllerBasePort}.. overlap`);
  const host = opts.host ?? '127.0.0.1';
  if (host === '0.0.0.0' || host === '::') throw new RangeError(`host must be an address brokers can advertise, not ${host}`);
  const startTimeoutMs = opts.startTimeoutMs ?? 90_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 15_000;
  const heapMb = opts.heapMb ?? 128;
  const partitionsWanted = opts.partitions ?? DEFAULT_KAFKA_PARTITIONS;
  const topic = opts.topic;

  if (!javaAvailable()) throw new KafkaSetupError(KAFKA_JAVA_HINT, 'java');
  const classpath = opts.classpath ?? findKafkaClasspath();
  if (!classpath) throw new KafkaSetupError('the Kafka broker jars are missing: run `npm run kafka:fetch`', 'jars');

  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // One cluster id per data dir: a restart reuses the formatted logs.
  const idFile = join(dataDir, 'cluster-id');
  const clusterId = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : randomBytes(16).toString('base64url');
  writeFileSync(idFile, clusterId + '\n');
  const log4j = join(dataDir, 'log4j2.properties');
  writeFileSync(log4j, LOG4J2);

  const slots: Slot[] = Array.from({ length: n }, (_, index) => ({
    index,
    label: `Kafka broker ${index + 1} (${host}:${basePort + index})`,
    nodeId: index + 1,
    port: basePort + index,
    controllerPort: controllerBasePort + index,
    address: `${host}:${basePort + index}`,
    controllerAddress: `${host}:${controllerBasePort + index}`,
    dir: join(dataDir, `broker-${index + 1}`),
    started: false,
    tail: [],
  }));
  const bootstrap = slots.map((s) => s.address);
  const voters = slots.map((s) => `${s.nodeId}@${s.controllerAddress}`).join(',');
  const rf = Math.min(3, n);
  const minIsr = n >= 3 ? 2 : 1;

  const properties = (s: Slot) =>
    [
      `node.id=${s.nodeId}`,
      'process.roles=broker,controller',
      `controller.quorum.voters=${voters}`,
      `listeners=PLAINTEXT://${s.address},CONTROLLER://${s.controllerAddress}`,
      `advertised.listeners=PLAINTEXT://${s.address}`,
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(s.dir, 'data')}`,
      `num.partitions=${partitionsWanted}`,
      `default.replication.factor=${rf}`,
      `min.insync.replicas=${minIsr}`,
      `offsets.topic.replication.factor=${rf}`,
      `transaction.state.log.replication.factor=${rf}`,
      `transaction.state.log.min.isr=${minIsr}`,
      `share.coordinator.state.topic.replication.factor=${rf}`,
      'auto.create.topics.enable=false',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=2',
      'num.recovery.threads.per.data.dir=1',
      'background.threads=2',
      // A dead broker is fenced in ~3 s instead of the default 9 s, so leadership moves quickly.
      'broker.session.timeout.ms=3000',
      'broker.heartbeat.interval.ms=500',
      // The default 128 MiB dedupe buffer is allocated on the heap: with -Xmx128m the broker dies at start.
      'log.cleaner.dedupe.buffer.size=8388608',
      // A small machine: the group offsets topic with 3 partitions instead of 50 (× 3 replicas), and the
      // controller's no-op metadata record every 5 s instead of every 0.5 s when idle.
      'offsets.topic.num.partitions=3',
      'metadata.max.idle.interval.ms=5000',
      // Leaders back on their preferred replicas soon after a broker returns (and at start, after an earlier
      // run left them elsewhere): checked every 5 s instead of 300 s, any imbalance counts (default 10 %).
      'auto.leader.rebalance.enable=true',
      'leader.imbalance.check.interval.seconds=5',
      'leader.imbalance.per.broker.percentage=0',
      '',
    ].join('\n');

  const sup = new JvmSupervisor<Slot>(slots, {
    error: (message) => new KafkaStartError(message),
    stopTimeoutMs,
    onLog: opts.onLog,
    onSpawn: opts.onSpawn,
    reset: (s) => {
      s.raftState = undefined;
    },
    onLine: (s, line) => {
      if (STARTED_LINE.test(line)) s.started = true;
      if (!line.includes('[QuorumState]')) return line;
      // Each of these lines is several hundred characters of raft state: pass on one short line per transition.
      const t = RAFT_TRANSITION.exec(line);
      if (!t) return undefined;
      s.raftState = t[1];
      return `${line.slice(0, line.indexOf('[QuorumState]'))}[QuorumState] controller node ${s.nodeId} is now ${t[1] === 'Leader' ? 'the active controller' : t[1]}`;
    },
  });
  let stopping: Promise<void> | undefined;

  const javaArgs = (s: Slot) => [
    '-Xms32m',
    `-Xmx${heapMb}m`,
    '-XX:+UseSerialGC',
    // The brokers are short-lived and small: the C1 compiler alone starts faster and uses less memory.
    '-XX:TieredStopAtLevel=1',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-Djava.net.preferIPv4Stack=true',
    `-Dlog4j2.configurationFile=${log4j}`,
    `-Dkafka.logs.dir=${s.dir}`,
    '-cp',
    classpath,
  ];

  const format = async (s: Slot) => {
    const props = join(s.dir, 'server.properties');
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(props, properties(s));
    if (existsSync(join(s.dir, 'data', 'meta.properties'))) return;
    const { code, output } = await runCommand(
      'java',
      // `--cluster-id=<id>` in one word: a base64url id may start with '-', which the tool would take for an option.
      [...javaArgs(s), 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', props, '--ignore-formatted'],
      s.dir,
    );
    if (code !== 0) throw new KafkaStartError(`formatting the log dir of broker ${s.nodeId} failed (exit ${code}):\n${output.trim().slice(-3000)}`);
  };

  const launch = async (s: Slot) => {
    for (const p of [s.port, s.controllerPort]) {
      if (await portInUse(host, p)) throw new KafkaStartError(`port ${p} on ${host} is already in use (another cluster running?); choose other ports`);
    }
    await format(s);
    const props = join(s.dir, 'server.properties');
    sup.launch(s, {
      command: 'java',
      args: [...javaArgs(s), 'kafka.Kafka', props],
      cwd: s.dir,
      // Own process group either way (a Ctrl-C in the terminal reaches only us); tied, the broker also stops when we die.
      tieToParent: opts.tieToParent ?? false,
      graceMs: NO_QUORUM_GRACE_MS,
      logFile: join(s.dir, 'broker.log'),
      marker: props,
    });
  };

  const terminate = async (s: Slot, sig: 'SIGKILL' | 'SIGTERM') => {
    // A controlled shutdown waits for the quorum; with too few other voters running there is none, and the
    // broker would wait out the whole timeout (15 s seen for the last of three). Its log is on disk: kill it soon.
    const others = slots.filter((o) => o !== s && o.child).length;
    await sup.terminate(s, sig, others >= Math.floor(n / 2) ? stopTimeoutMs : Math.min(stopTimeoutMs, NO_QUORUM_GRACE_MS));
  };

  /** A fresh admin client per question: one that saw a broker die keeps asking it (see the notes on the client). */
  const withAdmin = async <T>(fn: (admin: Admin) => Promise<T>): Promise<T> => {
    const live = slots.filter((s) => s.child && s.started).map((s) => s.address);
    const admin = new Admin({ clientId: 'hazel-lab-cluster', bootstrapBrokers: live.length ? live : bootstrap, retries: 2, retryDelay: 250, timeout: 5000 });
    guardUnknownBroker(admin);
    admin.on('error', () => {}); // failures reach the caller through the call itself
    try {
      return await fn(admin);
    } finally {
      await admin.close().catch(() => {});
    }
  };

  const running = () => sup.running();

  const seesBrokers = async (count: number) =>
    withAdmin(async (admin) => {
      const md = await admin.metadata({ topics: [], forceUpdate: true });
      return md.brokers.size >= count;
    });

  const partitions = async (t = topic): Promise<PartitionState[]> => {
    if (!t) throw new Error('no topic named');
    return withAdmin((admin) => partitionStates(admin, t));
  };

  const fullIsr = async (t: string) => {
    const ps = await partitions(t);
    const live = new Set(running().filter((s) => s.started).map((s) => s.nodeId));
    return ps.length > 0 && ps.every((p) => p.leader >= 0 && p.replicas.every((r) => !live.has(r) || p.isr.includes(r)));
  };

  const ensureTopic = (t: string) =>
    withAdmin((admin) => ensureTopicOn(admin, { topic: t, partitions: partitionsWanted, replicationFactor: rf, minInsyncReplicas: minIsr }));

  const cluster: KafkaCluster = {
    bootstrap,
    clusterId,
    topic,
    broker(i) {
      const s = sup.slotAt(i);
      return {
        index: s.index,
        nodeId: s.nodeId,
        address: s.address,
        controllerAddress: s.controllerAddress,
        pid: s.child?.pid,
        running: s.child !== undefined,
        started: s.started,
      };
    },
    indexOfNode: (nodeId) => slots.findIndex((s) => s.nodeId === nodeId),
    tail: (i) => [...sup.slotAt(i).tail],
    killBroker: (i) => terminate(sup.slotAt(i), 'SIGKILL'),
    stopBroker: (i) => terminate(sup.slotAt(i), 'SIGTERM'),
    async startBroker(i) {
      const s = sup.slotAt(i);
      if (stopping) throw new Error('cluster is stopped');
      if (s.child) return;
      await launch(s);
      await sup.until(() => s.started, startTimeoutMs, () => `waiting for broker ${s.nodeId} (${s.address}) to start`, [s]);
      await sup.poll(() => seesBrokers(running().length), startTimeoutMs, `waiting for broker ${s.nodeId} to register`, [s]);
      if (topic) await sup.poll(() => fullIsr(topic), startTimeoutMs, `waiting for broker ${s.nodeId} to rejoin the ISR of ${topic}`, [s]);
    },
    partitions,
    async waitForFullIsr(t = topic, timeoutMs = startTimeoutMs) {
      if (!t) throw new Error('no topic named');
      await sup.poll(() => fullIsr(t), timeoutMs, `waiting for every partition of ${t} to have its full ISR`, []);
    },
    groupLag: (group, t = topic) => {
      if (!t) throw new Error('no topic named');
      return withAdmin((admin) => groupLagOf(admin, group, t));
    },
    groupCoordinator: (group) =>
      withAdmin(async (admin) => {
        const [c] = await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [group] });
        if (!c || c.nodeId < 0) throw new Error(`no coordinator for group ${group}`);
        return c.nodeId;
      }),
    activeController() {
      return slots.find((s) => s.child && s.raftState === 'Leader')?.nodeId;
    },
    stop() {
      stopping ??= (async () => {
        // One at a time, the active controller last: stopped all at once each waits for a quorum that is leaving.
        const order = [...slots].sort((a, b) => Number(a.raftState === 'Leader') - Number(b.raftState === 'Leader'));
        for (const s of order) await terminate(s, 'SIGTERM');
        await sup.close();
      })();
      return stopping;
    },
    kill() {
      stopping ??= (async () => {
        await Promise.all(slots.map((s) => terminate(s, 'SIGKILL')));
        await sup.close();
      })();
      return stopping;
    },
  };

  try {
    // Formatting runs a JVM each: in parallel it costs the same CPU but less wall time.
    await Promise.all(slots.map((s) => launch(s)));
    await sup.until(
      () => slots.every((s) => s.started),
      startTimeoutMs,
      () => `waiting for ${n} Kafka broker(s) on ${host}:${basePort}-${basePort + n - 1} to start`,
      slots,
    );
    await sup.poll(() => seesBrokers(n), startTimeoutMs, `waiting for an admin client to see ${n} brokers`, slots);
    if (topic) {
      await sup.poll(async () => (await ensureTopic(topic), true), startTimeoutMs, `creating topic ${topic}`, slots);
      await sup.poll(() => fullIsr(topic), startTimeoutMs, `waiting for every partition of ${topic} to have its full ISR`, slots);
      // The group coordinator's topic is created on first use; asking for a coordinator now spares the first consumer the wait.
      await sup.poll(
        () => withAdmin(async (admin) => (await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [DEFAULT_KAFKA_GROUP] })).every((c) => c.nodeId >= 0)),
        startTimeoutMs,
        'waiting for the group coordinator',
        slots,
      );
    }
  } catch (e) {
    await cluster.kill();
    throw e;
  }
  return cluster;
}
