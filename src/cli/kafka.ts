#!/usr/bin/env node
/**
 * `npm run kafka -- [--brokers N] [--base-port P] [--controller-base-port C] [--data-dir D] [--topic T] [--partitions K]`
 * Runs only a local Kafka cluster (KRaft, each broker also a controller;
 * brokers on P..P+N-1, controllers on C..C+N-1) until Ctrl-C, with each
 * broker's output prefixed by its name. Data under <D>/kafka/. Fetches the
 * broker jars first if they are missing. A second Ctrl-C kills the brokers
 * without waiting.
 */
import { join, resolve } from 'node:path';
import { startKafkaCluster, type KafkaCluster } from '../engine/kafka/cluster.js';
import { ensureKafkaJars, isKafkaSetupError, javaAvailable, KAFKA_JAVA_HINT } from '../engine/kafka/jars.js';
import { readOrExit, HOSTNAME, parseArgv, SettingsReader } from '../shared/settings.js';
import { formatLine } from './format.js';
import { DEFAULT_BROKER_COUNT, DEFAULT_KAFKA_PARTITIONS, DEFAULT_KAFKA_PORT, DEFAULT_KAFKA_TOPIC } from '../engine/defaults.js';

function options() {
  const { flags } = parseArgv(process.argv.slice(2));
  const r = new SettingsReader({ flags, env: process.env });
  const brokers = r.int('brokers', 'KAFKA_LOCAL_BROKERS', DEFAULT_BROKER_COUNT, 1, 9);
  const basePort = r.int('base-port', 'KAFKA_BASE_PORT', DEFAULT_KAFKA_PORT, 1024, 65535 - 9);
  const o = {
    brokers,
    basePort,
    controllerBasePort: r.int('controller-base-port', 'KAFKA_CONTROLLER_BASE_PORT', basePort + 10_000, 1024, 65535 - 9),
    host: r.string('host', 'KAFKA_HOST', '127.0.0.1', HOSTNAME, 'a host name or IP address'),
    dataDir: resolve(r.string('data-dir', 'DATA_DIR', './data')),
    topic: r.string('topic', 'KAFKA_TOPIC', DEFAULT_KAFKA_TOPIC, /^[A-Za-z0-9._-]{1,200}$/, 'letters, digits, dot, dash or underscore'),
    partitions: r.int('partitions', 'KAFKA_PARTITIONS', DEFAULT_KAFKA_PARTITIONS, 1, 1000),
    heapMb: r.int('heap-mb', 'KAFKA_HEAP_MB', 128, 96, 8192),
  };
  r.rejectUnknown();
  return o;
}

async function main(): Promise<void> {
  const o = readOrExit('kafka', options);
  if (!javaAvailable()) {
    console.error(`kafka: missing java\n${KAFKA_JAVA_HINT}`);
    process.exit(1);
  }
  let classpath: string;
  try {
    classpath = await ensureKafkaJars({ log: (line) => console.log(`kafka: ${line}`) });
  } catch (err) {
    console.error(`kafka: ${isKafkaSetupError(err) && err.missing ? `missing ${err.missing}\n` : ''}${(err as Error).message}`);
    process.exit(1);
  }

  const color = process.stdout.isTTY === true;
  let cluster: KafkaCluster | undefined;
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) {
      console.log('kafka: killing brokers');
      await cluster?.kill();
      process.exit(130);
    }
    stopping = true;
    console.log(`kafka: ${why}, stopping brokers one at a time (again to kill)…`);
    const t0 = Date.now();
    await cluster?.stop();
    console.log(`kafka: stopped in ${Date.now() - t0} ms`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const t0 = Date.now();
  const dataDir = join(o.dataDir, 'kafka');
  console.log(`kafka: starting ${o.brokers} broker(s) on ${o.host}:${o.basePort}, data in ${dataDir}…`);
  try {
    cluster = await startKafkaCluster({
      brokers: o.brokers,
      basePort: o.basePort,
      controllerBasePort: o.controllerBasePort,
      host: o.host,
      dataDir,
      classpath,
      topic: o.topic,
      partitions: o.partitions,
      heapMb: o.heapMb,
      onLog: (i, line) => console.log(formatLine(`broker-${i + 1}`, line, color, true)),
    });
  } catch (err) {
    console.error(`kafka: ${(err as Error).message}`);
    process.exit(1);
  }
  if (stopping) return;
  console.log(`kafka: cluster up in ${Date.now() - t0} ms: ${cluster.bootstrap.join(', ')}; active controller: node ${cluster.activeController() ?? '?'}`);
  for (const p of await cluster.partitions().catch(() => [])) {
    console.log(`kafka:   ${o.topic}[${p.partition}] leader ${p.leader} replicas ${p.replicas.join(',')} isr ${p.isr.join(',')}`);
  }
  console.log(`kafka: connect with --queue kafka --kafka-brokers ${cluster.bootstrap.join(',')}`);
  console.log('kafka: Ctrl-C to stop');
}

void main();
