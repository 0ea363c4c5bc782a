#!/usr/bin/env node
/**
 * `npm start [-- --engine embedded|hazelcast --queue engine|kafka --logging N --messages N --data-dir DIR ...]`
 * (`npm start -- --help` lists the options). Runs the whole topology as
 * separate processes, prefixes each log line with its instance name, and on
 * Ctrl-C/SIGTERM stops services, then members and brokers. Nothing it starts outlives it:
 * services and members stop by themselves when it dies, by any signal, and a
 * start first stops what a killed earlier run with the same data dir left.
 * While running in a terminal, type `help` for commands that stop/start
 * instances by hand.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SETTINGS_MAP, type EngineKind } from '../shared/common-config.js';
import { ConfigError } from '../lib/errors.js';
import { formatHelp, processSource, readOrExit, readSettings } from '../shared/settings.js';
import { startSettings } from './start-config.js';
import { LauncherConsole } from './launcher-console.js';
import { formatLine } from './format.js';
import { isJvmName, JvmLogFilter } from './jvm-log.js';
import { isAlive, pidFileIn, readPidFile, removePidFile, stopLeftovers, type PidFileContent } from '../topology/pid-file.js';
import { describeTakenPort, firstTakenPort, type PlannedPort } from '../topology/port-check.js';
import { Topology, type TopologyPort } from '../topology/topology.js';
import { DEFAULT_KAFKA_GROUP, DEFAULT_KAFKA_TOPIC, DEFAULT_QUEUE_NAME } from '../engine/defaults.js';

const USAGE = `usage: npm start -- [options]
Runs the whole topology (Hazelcast members when --engine hazelcast and Kafka brokers when --queue kafka first,
then logging, messages, facade).
The typed commands (ps, stop NAME, kill-member N, kill-broker N, ...) need a terminal, or --commands.`;

function options() {
  const o = readSettings(startSettings, processSource());
  if (o.queue === 'kafka' && o.brokers === 0 && o.kafkaBrokers.length === 0) {
    throw new ConfigError('--queue kafka with --brokers 0 needs --kafka-brokers host:port,… (an external cluster)');
  }
  if (o.brokers > 0 && o.kafkaBrokers.length > 0) {
    throw new ConfigError('give either --brokers N (local brokers) or --kafka-brokers host:port,… (an external cluster), not both');
  }
  return { ...o, dataDir: resolve(o.dataDir) };
}

/** The services' consumer group (their --kafka-group default), whose lag `ps` shows. */
const KAFKA_GROUP = DEFAULT_KAFKA_GROUP;

/** The option that moves each kind of port. */
const MOVE_WITH: Record<TopologyPort['kind'], string> = {
  member: '--base-port P',
  broker: '--kafka-base-port P',
  controller: '--kafka-base-port P',
  logging: '--logging-port P',
  messages: '--messages-port P',
  facade: '--port P',
};

/**
 * What an earlier run with this data dir left: a launcher still running (its
 * record is returned, so a clash can name it), or children of a launcher that
 * is gone (stopped here, and said so).
 */
async function earlierRun(pidFile: string): Promise<PidFileContent | undefined> {
  const prev = readPidFile(pidFile);
  if (!prev) return undefined;
  if (prev.launcher.pid !== process.pid && isAlive(prev.launcher)) return prev;
  const stopped = await stopLeftovers(prev);
  if (stopped.length > 0) {
    console.log(
      `stopped ${stopped.length} leftover process(es) of an earlier run whose launcher (pid ${prev.launcher.pid}) is gone: ` +
        stopped.map((r) => `${r.name} (pid ${r.pid})`).join(', '),
    );
  }
  removePidFile(pidFile);
  return undefined;
}

/** --fresh: this engine's messages stores (and the embedded engine's file), with their WAL side files. */
function freshStart(dataDir: string, engine: EngineKind): string[] {
  const wanted = new RegExp(`^(store-${engine}-.+\\.db${engine === 'embedded' ? '|engine\\.db' : ''})(-wal|-shm|-journal)?$`);
  let names: string[];
  try {
    names = readdirSync(dataDir).filter((n) => wanted.test(n));
  } catch {
    return [];
  }
  for (const n of names) rmSync(join(dataDir, n), { force: true });
  return names;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(formatHelp(USAGE, startSettings));
    return;
  }
  const o = readOrExit('start', options);
  const color = process.stdout.isTTY === true;
  const pidFile = pidFileIn(o.dataDir);
  // Members' and brokers' output goes to their log files; the terminal shows their warnings and errors only.
  const jvmLines = new JvmLogFilter();
  const show = (name: string, line: string) => {
    const shown = isJvmName(name) ? jvmLines.pass(name, line) : line;
    if (shown !== undefined) console.log(formatLine(name, shown, color, o.raw));
  };
  const port = (first: number, n: number) => Array.from({ length: n }, (_, i) => first + i);
  const topo = new Topology({
    engine: o.engine,
    logging: o.logging,
    messages: o.messages,
    dataDir: o.dataDir,
    facadePort: o.facadePort,
    loggingPorts: port(o.loggingPort, o.logging),
    messagesPorts: port(o.messagesPort, o.messages),
    members: o.engine === 'hazelcast' ? o.members : 0,
    memberBasePort: o.basePort,
    clusterName: o.clusterName,
    hzMembers: o.hzMembers,
    queue: o.queue,
    brokers: o.queue === 'kafka' ? o.brokers : 0,
    kafkaBasePort: o.kafkaBasePort,
    ...(o.kafkaBrokers.length > 0 ? { kafkaBrokers: o.kafkaBrokers } : {}),
    pidFile,
    onLine: show,
    // The dashboard's lab controls: the facade forwards them to this launcher's shell.
    console: true,
  });

  // Before anything starts: a start that fails halfway would leave half a system.
  const running = await earlierRun(pidFile);
  const planned: PlannedPort[] = topo.plannedPorts().map((p) => ({ port: p.port, name: p.name, option: MOVE_WITH[p.kind] }));
  const taken = await firstTakenPort(topo.host, planned);
  if (taken) {
    console.error(`start: ${describeTakenPort(taken, running)}`);
    process.exit(1);
  }
  if (running) {
    console.error(`start: another npm start (pid ${running.launcher.pid}) is running with data dir ${running.dataDir}; stop it first, or use another --data-dir`);
    process.exit(1);
  }

  let shell: { close(): Promise<void> } | undefined = undefined;
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    const clusters = [topo.cluster ? 'Hazelcast members' : '', topo.kafka ? 'Kafka brokers' : ''].filter(Boolean).join(' and ');
    console.log(`\n${why}: stopping services${clusters ? `, then ${clusters}` : ''}…`);
    await shell?.close().catch(() => undefined);
    await topo.stop();
    console.log('all stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  if (o.fresh) {
    const removed = freshStart(o.dataDir, o.engine);
    console.log(`fresh start: ${removed.length ? `removed ${removed.join(', ')} from ${o.dataDir}` : `no stores to remove in ${o.dataDir}`}`);
  }
  console.log(
      `starting: engine=${o.engine} queue=${o.queue}${o.queue === 'kafka' ? (topo.localBrokers > 0 ? ` brokers=${topo.localBrokers}` : ` kafka-brokers=${o.kafkaBrokers.join(',')}`) : ''} ` +
      `logging=${o.logging} messages=${o.messages} data-dir=${o.dataDir}`,
  );
  const t0 = Date.now();
  try {
    await topo.start();
  } catch (err) {
    console.error(`start failed: ${(err as Error).message}`);
    await topo.stop();
    process.exit(1);
  }
  if (stopping) return;
  console.log(`\nrunning: (everything ready after ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (topo.cluster) topo.cluster.addresses.forEach((a, i) => console.log(`  member-${i + 1}`.padEnd(20) + `hazelcast ${a}, log ${topo.logFile(`member-${i + 1}`)}`));
  if (topo.kafka) topo.kafka.bootstrap.forEach((a, i) => console.log(`  broker-${i + 1}`.padEnd(20) + `kafka     ${a} (controller ${topo.kafka!.broker(i).controllerAddress}), data and log in ${join(o.dataDir, 'kafka', `broker-${i + 1}`)}`));
  else if (o.queue === 'kafka') console.log(`  kafka`.padEnd(20) + `external  ${topo.kafkaBootstrap!.join(', ')}`);
  if (o.queue === 'kafka') console.log(`  topic`.padEnd(20) + `kafka     ${DEFAULT_KAFKA_TOPIC}, group ${KAFKA_GROUP}`);
  for (const p of topo.procs.values()) console.log(`  ${p.name}`.padEnd(20) + `${p.service.padEnd(9)} ${p.url}`);
  console.log(`\nopen ${topo.facadeUrl}/ — try: curl -d 'hello' -H 'content-type: text/plain' ${topo.facadeUrl}/messages`);
  const typed = process.stdin.isTTY || o.commands;
  // One shell, fed by the terminal (when there is one) and by the dashboard's controls.
  shell = commands(topo, o.engine === 'hazelcast' ? (o.members > 0 ? [...topo.cluster!.addresses] : o.hzMembers) : undefined, o.clusterName, typed);
  console.log(`the dashboard (${topo.facadeUrl}/) has the same controls on its cards, and the lab's scenarios (lab 4, …) one click each; what they do is printed here too.`);
  if (typed) {
    console.log(`type "help" for commands; Ctrl-C stops everything.${topo.cluster || topo.kafka ? ' Members and brokers log to their files: only their warnings and errors show here ("logs NAME" shows the last lines of any process).' : ''}\n`);
    if (o.queue === 'kafka') console.log(`(on Kafka: ps shows each partition's leader and in-sync replicas, and the group's lag per consumer${topo.kafka ? '; kill-broker N / stop-broker N / start-broker N' : ''})\n`);
  } else {
    console.log('Ctrl-C (SIGINT) or SIGTERM stops everything. The typed commands (ps, stop NAME, start NAME, ...) need a terminal: run npm start in one, or add --commands to read them from stdin.\n');
  }
}

/**
 * The Kafka queue's describe data (admin-describe.ts) as `ps` lines: each
 * partition's leader and in-sync replicas, the group's lag per consumer, and
 * the partitions no live consumer reads (a messages instance this launcher
 * runs and that has exited counts as gone at once, before the group's
 * session timeout drops it). A fresh admin client per question, to the
 * brokers running now: one that saw a broker die keeps asking it.
 */
async function kafkaQueueLines(topo: Topology, watch: import('../engine/kafka/admin-describe.js').ConsumerWatch): Promise<string[]> {
  const { withFreshAdmin } = await import('../engine/kafka/admin.js');
  const { psLines, readQueueDescription } = await import('../engine/kafka/admin-describe.js');
  const k = topo.kafka;
  const live = k ? k.bootstrap.filter((_, i) => k.broker(i).running) : topo.kafkaBootstrap!;
  if (live.length === 0) return ['kafka: no broker running'];
  // A consumer's client id is its instance name (messages-<port>) and '-consumer'.
  const isLive = (clientId: string) => {
    const name = clientId.replace(/-consumer$/, '');
    return /^messages-\d+$/.test(name) ? topo.isRunning(name) : undefined;
  };
  return withFreshAdmin(live, 'launcher-ps', async (admin) => psLines(await readQueueDescription(admin, DEFAULT_KAFKA_TOPIC, KAFKA_GROUP, watch, isLive)));
}

/**
 * The launcher's console: typed commands from stdin (when `typed`) and the
 * dashboard's; on Hazelcast `ps` also names the member owning the messages
 * queue, on Kafka the partitions.
 */
function commands(topo: Topology, hzMembers: string[] | undefined, clusterName: string, typed: boolean): { close(): Promise<void> } {
  // One client of the launcher's own, made on the first `ps`, asks the cluster where the queue lives.
  let engine: Promise<import('../engine/hazelcast/hazelcast-engine.js').HazelcastEngine> | undefined;
  const client = () =>
    (engine ??= import('../engine/hazelcast/hazelcast-engine.js').then(
      ({ HazelcastEngine }) => new HazelcastEngine({ members: hzMembers!, clusterName, instanceName: 'launcher', connectTimeoutMs: 5000 }),
    ));
  let kafkaWatch: import('../engine/kafka/admin-describe.js').ConsumerWatch | undefined;
  const shell = new LauncherConsole(topo, {
    out: (line) => console.log(line),
    // With the queue on Kafka the engine's queue is unused: no Hazelcast owner to name.
    ...(hzMembers && topo.opts.queue !== 'kafka'
      ? {
          queueOwner: async () => {
            const e = await client();
            // The services' queue: their --queue-name default, unless set in the engine's settings.
            const queue = (await e.kv<string>(SETTINGS_MAP).get('QUEUE_NAME')) ?? DEFAULT_QUEUE_NAME;
            return { queue, owner: await e.queueOwner(queue) };
          },
        }
      : {}),
    ...(topo.opts.queue === 'kafka' ? { kafkaQueue: async () => kafkaQueueLines(topo, (kafkaWatch ??= new (await import('../engine/kafka/admin-describe.js')).ConsumerWatch())) } : {}),
    ...(hzMembers ? { waiting: async () => (await client()).waiting() } : {}),
  });
  const rl = typed ? createInterface({ input: process.stdin }) : undefined;
  rl?.on('line', (line) => void shell.submit(line));
  return {
    close: async () => {
      shell.close();
      rl?.close();
      if (engine) await (await engine).close();
    },
  };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
