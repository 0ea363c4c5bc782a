import type { Logger } from 'pino';
import type { EngineConfig } from './config.js';
import type { Engine } from './ports.js';

/**
 * Builds the configured engine adapter, with its queue on Kafka when asked
 * (`--queue kafka`). Only entries and the launcher call this; services get
 * the ports.
 */
export async function createEngine(cfg: EngineConfig, logger: Logger, instanceName: string): Promise<Engine> {
  const engine = await createStore(cfg, logger, instanceName);
  if (cfg.queue !== 'kafka') return engine;
  const { withKafkaQueue } = await import('./kafka/kafka-engine.js');
  logger.info({ brokers: cfg.kafka.brokers, group: cfg.kafka.group }, 'the queue is on Kafka');
  return withKafkaQueue(engine, {
    brokers: cfg.kafka.brokers,
    groupId: cfg.kafka.group,
    clientId: instanceName,
    capacity: cfg.queueCapacity,
    leaseMs: cfg.queueLeaseMs,
    partitions: cfg.kafka.partitions,
    onError: (what, err) => logger.warn({ err, what }, 'Kafka client recovered from an error'),
  });
}

async function createStore(cfg: EngineConfig, logger: Logger, instanceName: string): Promise<Engine> {
  if (cfg.kind === 'embedded') {
    const { EmbeddedEngine } = await import('./embedded/embedded-engine.js');
    return new EmbeddedEngine({ dataDir: cfg.dataDir, queueCapacity: cfg.queueCapacity, leaseMs: cfg.queueLeaseMs });
  }
  const { HazelcastEngine } = await import('./hazelcast/hazelcast-engine.js');
  const members = cfg.members;
  logger.info({ members, preferred: cfg.preferredMember, clusterName: cfg.clusterName }, 'connecting to the Hazelcast cluster');
  return new HazelcastEngine({
    members,
    clusterName: cfg.clusterName,
    connectTimeoutMs: cfg.connectTimeoutMs,
    instanceName,
    leaseMs: cfg.queueLeaseMs,
    ledgerScanMs: cfg.ledgerScanMs,
    log: logger,
    ...(cfg.preferredMember ? { preferredMember: cfg.preferredMember } : {}),
  });
}
