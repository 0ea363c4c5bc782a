/** Which engine a process uses and how to reach it: read from the settings, passed to createEngine. */
export type EngineKind = 'embedded' | 'hazelcast';
export const ENGINE_KINDS: readonly EngineKind[] = ['embedded', 'hazelcast'];

/** Where the facade → messages queue lives: the engine's own queue, or Kafka (the log, registry and maps stay on the engine). */
export type QueueKind = 'engine' | 'kafka';
export const QUEUE_KINDS: readonly QueueKind[] = ['engine', 'kafka'];

export interface KafkaConfig {
  /** Bootstrap brokers, host:port. */
  brokers: string[];
  /** The messages instances' consumer group. */
  group: string;
  /** Partitions of a topic the queue has to create itself (the launcher creates it first). */
  partitions: number;
}

/** How a service reaches the shared engine. */
export interface EngineConfig {
  kind: EngineKind;
  /** embedded: folder of the shared SQLite file (and of per-instance stores). */
  dataDir: string;
  /** embedded: most items the queue holds. */
  queueCapacity: number;
  /** hazelcast: member addresses, host:port. */
  members: string[];
  clusterName: string;
  /** hazelcast: listed first so the client prefers it (the lab pairs logging i with member i). */
  preferredMember?: string;
  connectTimeoutMs: number;
  /** How long a received queue item may stay unacknowledged before it is delivered again. */
  queueLeaseMs: number;
  /** hazelcast: how often a consumer's delivery-ledger reconciler scans. */
  ledgerScanMs: number;
  queue: QueueKind;
  kafka: KafkaConfig;
}

