import type { Logger } from 'pino';
import type { EngineConfig } from './config.js';
import type { Engine } from './ports.js';

/** Builds the configured engine adapter. Only entries and the launcher call this; services get the ports. */
export async function createEngine(cfg: EngineConfig, logger: Logger, instanceName: string): Promise<Engine> {
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
