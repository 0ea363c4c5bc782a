/**
 * What a scenario may do to the lab: the launcher's commands (stop, kill,
 * start an instance; kill and start a member or broker), sending through the
 * facade, and reading what the services hold. The launcher implements it over
 * its topology (topology-actions.ts); the scenarios know nothing else.
 */
export interface StoredEntry {
  id: string;
  msg?: string;
}

export interface LabActions {
  /** POST /messages through the facade: the HTTP status and the id (when accepted). */
  send(msg: string): Promise<{ status: number; id?: string }>;
  /** Instance names of one kind, in their order (logging-7001, …). */
  instances(service: 'logging' | 'messages'): string[];
  isRunning(name: string): boolean;
  /** SIGTERM and wait for the exit. */
  stop(name: string): Promise<void>;
  /** SIGKILL (a crash) and wait for the exit. */
  kill(name: string): Promise<void>;
  /** Start and wait until ready. */
  start(name: string): Promise<void>;
  /** The newest entries (up to 1000) each running messages instance holds, by instance. */
  stores(): Promise<Map<string, StoredEntry[]>>;
  /** Who logged each of the newest entries (up to 1000) of the shared log: id → logging instance. */
  loggedBy(): Promise<Map<string, string>>;
  /** POST /log straight to a logging instance (the map durability scenario writes this way). */
  writeLog(instance: string, id: string, msg: string): Promise<number>;
  /** The newest entries (up to 1000) of the log, read through one logging instance: their ids, or the HTTP status it answered. */
  readLog(instance: string): Promise<string[] | number>;
  /** Items not yet acknowledged on the queue (null when the facade cannot say). */
  queueDepth(): Promise<number | null>;
  /** Hazelcast members run by the launcher (absent otherwise). */
  members?: MemberActions;
  /** Local Kafka brokers run by the launcher (absent otherwise). */
  brokers?: BrokerActions;
}

export interface MemberActions {
  count: number;
  running(i: number): boolean;
  kill(i: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  start(i: number): Promise<void>;
  waitForSize(n: number): Promise<void>;
  /** Until every backup is in sync: one crash then loses nothing. */
  waitForSafe(): Promise<void>;
  /** The member (index) owning the queue's partition, as the partition table says now; undefined when not known. */
  queueOwner(): Promise<number | undefined>;
}

export interface BrokerActions {
  count: number;
  running(i: number): boolean;
  kill(i: number): Promise<void>;
  start(i: number): Promise<void>;
  /** Every partition led and every replica in sync. */
  waitForFullIsr(): Promise<void>;
  /** Leader (broker index) of each partition of the queue's topic; -1 for none. */
  leaders(): Promise<number[]>;
}
