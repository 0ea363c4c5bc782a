/** Which engine a process uses and how to reach it: read from the settings, passed to createEngine. */
export type EngineKind = 'embedded' | 'hazelcast';
export const ENGINE_KINDS: readonly EngineKind[] = ['embedded', 'hazelcast'];

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
}

