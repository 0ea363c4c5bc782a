/**
 * What a queue's `describe()` says of where the queue lives, as data: the
 * launcher's `ps` prints it (through one formatter, src/shared/queue-info-lines.ts)
 * and the dashboard draws it (state.queue.details, read by src/web/dashboard.js).
 * Plain JSON: no bigint, no Map, times as ms since the epoch.
 */

/** The embedded engine: one SQLite file on this machine. */
export interface EmbeddedQueueDetails {
  kind: 'embedded';
  queue: string;
  /** The SQLite file. */
  file: string;
  /** Items offered and not yet acknowledged, waiting or leased. */
  depth: number;
  /** Of those, items received and leased now (not yet acknowledged, lease not ended). */
  leased: number;
}

/** The in-process fake (tests). */
export interface MemoryQueueDetails {
  kind: 'memory';
  queue: string;
  depth: number;
  leased: number;
}

/** A Hazelcast member as the queue's describe sees it. */
export interface HazelcastMemberInfo {
  /** 1-based, as configured (member-N, `kill-member N`). */
  number: number;
  /** 'host:port'. */
  address: string;
  /** It answered its health check, or the client lists it. */
  up: boolean;
  /** Its own report: no migration queued and every backup in sync; undefined when it did not answer. */
  safe?: boolean;
  /** Migrations it still has queued, when it answered. */
  migrationsPending?: number;
  /** How many members it sees, when it answered. */
  clusterSize?: number;
}

export interface HazelcastQueueDetails {
  kind: 'hazelcast';
  queue: string;
  members: HazelcastMemberInfo[];
  /**
   * The cluster is safe when every member that answered says so (no
   * migration queued, backups in sync) and at least one answered: a crash of
   * one member now loses nothing.
   */
  safe: boolean;
  /** Migrations queued, summed over the members that answered. */
  migrationsPending: number;
  /** The member owning the queue's partition (its number), when known. */
  owner?: number;
  /**
   * The member holding the queue's backup, when it can be told: the client
   * learns only the owners of partitions, so the backup is named when exactly
   * one other member is up (backup-count 1); otherwise `backupAmong` lists
   * the members that may hold it.
   */
  backup?: number;
  backupAmong: number[];
}

/** A Kafka broker as the queue's describe sees it. */
export interface KafkaBrokerInfo {
  /** Node id (broker-N has node id N in the lab). */
  id: number;
  /** 'host:port'; empty when the broker is down and the cluster no longer lists it. */
  address: string;
  /** Listed by the cluster's metadata now. */
  up: boolean;
  /**
   * The active controller of the cluster, when the describer knows it (the
   * launcher does; a client does not: under KRaft its metadata names any live
   * broker as the controller), else false for every broker.
   */
  controller: boolean;
}

export interface KafkaPartitionInfo {
  partition: number;
  /** Node id of the leader; -1 when none. */
  leader: number;
  /** The preferred leader: the first replica. */
  preferredLeader: number;
  replicas: number[];
  /** In-sync replicas. */
  isr: number[];
  /** Replicas not in sync (down or behind). */
  outOfSync: number[];
  /** Items waiting for the group on this partition. */
  lag: number;
}

export interface KafkaConsumerInfo {
  /** The consumer's client id (`messages-5001-consumer`). */
  clientId: string;
  partitions: number[];
  lag: number;
}

/** A partition whose items no live consumer reads, and since when. */
export interface KafkaUnconsumedInfo {
  partition: number;
  lag: number;
  heldBy?: string;
  why: 'no member holds it' | 'its consumer is gone' | 'no progress';
  /** ms since the epoch. */
  since: number;
}

export interface KafkaQueueDetails {
  kind: 'kafka';
  topic: string;
  group: string;
  /** The group's state (Stable, PreparingRebalance, Empty, …). */
  groupState: string;
  brokers: KafkaBrokerInfo[];
  partitions: KafkaPartitionInfo[];
  consumers: KafkaConsumerInfo[];
  /** Lag of partitions no consumer holds now. */
  unassignedLag: number;
  totalLag: number;
  unconsumed: KafkaUnconsumedInfo[];
}

export type QueueDetails = EmbeddedQueueDetails | MemoryQueueDetails | HazelcastQueueDetails | KafkaQueueDetails;
