/**
 * Kafka admin reads and the one place that creates the queue's topic: used
 * by the queue adapter (depth, describe), the local cluster runner (the
 * topic at start, ISR checks) and the launcher (`ps`).
 */
import { Admin } from '@platformatic/kafka';
import { guardUnknownBroker } from './client-fixes.js';

/** An admin client guarded against the client's dead-broker crash; failures reach the caller through its calls. */
export function openAdmin(brokers: readonly string[], clientId: string, onError?: (e: Error) => void): Admin {
  const admin = new Admin({ clientId, bootstrapBrokers: [...brokers], retries: 2, retryDelay: 250, timeout: 5000 });
  guardUnknownBroker(admin);
  admin.on('error', (e: Error) => onError?.(e));
  return admin;
}

/** Runs fn with a fresh admin client and closes it: one that saw a broker die keeps asking it from cached metadata. */
export async function withFreshAdmin<T>(brokers: readonly string[], clientId: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = openAdmin(brokers, clientId);
  try {
    return await fn(admin);
  } finally {
    await admin.close().catch(() => {});
  }
}

/**
 * The queue's admin client: one client, replaced after a failed call (like
 * the consumer, it may keep asking a dead broker from cached metadata), and
 * the topic created once per session when missing.
 */
export class AdminSession {
  private admin?: Admin;
  private topicReady?: Promise<void>;
  private closed = false;

  constructor(
    private readonly brokers: readonly string[],
    private readonly clientId: string,
    private readonly onError?: (what: string, err: unknown) => void,
  ) {}

  async run<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.admin ??= openAdmin(this.brokers, this.clientId, (e) => this.onError?.('admin client', e));
      try {
        return await fn(this.admin);
      } catch (e) {
        if (attempt >= 3 || this.closed) throw e;
        const admin = this.admin;
        this.admin = undefined;
        void admin.close().catch(() => {});
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  /** Creates the topic when it is missing (a cluster run by the launcher has made it already); a failure is tried again on the next call. */
  ensureTopic(spec: TopicSpec): Promise<void> {
    this.topicReady ??= this.run((admin) => ensureTopic(admin, spec)).catch((e: unknown) => {
      this.topicReady = undefined;
      throw e;
    });
    return this.topicReady;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.admin?.close();
  }
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  /** Set on the topic when given (2 with 3 replicas: a write survives one broker down). */
  minInsyncReplicas?: number;
}

/** Creates the topic when it is missing; another client creating it at the same time is fine. */
export async function ensureTopic(admin: Admin, spec: TopicSpec): Promise<void> {
  if ((await admin.listTopics()).includes(spec.topic)) return;
  try {
    await admin.createTopics({
      topics: [spec.topic],
      partitions: spec.partitions,
      replicas: spec.replicationFactor,
      configs: spec.minInsyncReplicas ? [{ name: 'min.insync.replicas', value: String(spec.minInsyncReplicas) }] : [],
    });
  } catch (e) {
    if (!(await admin.listTopics()).includes(spec.topic)) throw e;
  }
}

/** Offsets of the partitions at a special timestamp: -1n the end (next offset to write), -2n the earliest kept. */
export async function listOffsets(admin: Admin, topic: string, partitions: number[], timestamp: bigint): Promise<Map<number, bigint>> {
  const out = new Map<number, bigint>();
  if (partitions.length === 0) return out;
  const res = await admin.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }] });
  for (const t of res) for (const p of t.partitions) out.set(p.partitionIndex, p.offset);
  return out;
}

/** The group's committed offset per partition (partitions it never committed are absent). */
export async function committedOffsets(admin: Admin, group: string, topic: string, partitions: number[]): Promise<Map<number, bigint>> {
  const out = new Map<number, bigint>();
  const res = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: partitions }] }] });
  for (const g of res) for (const t of g.topics) if (t.name === topic) for (const p of t.partitions) if (p.committedOffset >= 0n) out.set(p.partitionIndex, p.committedOffset);
  return out;
}

/** Where the group stands on one partition. */
export interface PartitionProgress {
  /** End offset minus the offset the group reads from next. */
  lag: number;
  /** The group's committed offset; -1n when it never committed (a new member starts at the earliest kept). */
  committed: bigint;
}

/**
 * Progress per partition: lag = end offset minus committed offset. A
 * partition the group never committed counts from its earliest offset,
 * where a new member starts reading it (fallback mode earliest).
 */
export async function partitionProgress(admin: Admin, group: string, topic: string): Promise<Map<number, PartitionProgress>> {
  const md = await admin.metadata({ topics: [topic] });
  const count = md.topics.get(topic)?.partitionsCount ?? 0;
  const ids = Array.from({ length: count }, (_, i) => i);
  const [ends, starts, done] = await Promise.all([
    listOffsets(admin, topic, ids, -1n),
    listOffsets(admin, topic, ids, -2n),
    committedOffsets(admin, group, topic, ids),
  ]);
  const out = new Map<number, PartitionProgress>();
  for (const p of ids) {
    const end = ends.get(p) ?? 0n;
    const from = done.get(p) ?? starts.get(p) ?? 0n;
    out.set(p, { lag: Number(end > from ? end - from : 0n), committed: done.get(p) ?? -1n });
  }
  return out;
}

/** The queue's depth: the group's lag summed over the topic's partitions. */
export async function depthOf(admin: Admin, group: string, topic: string): Promise<number> {
  let sum = 0;
  for (const p of (await partitionProgress(admin, group, topic)).values()) sum += p.lag;
  return sum;
}

/** Leader, replicas and in-sync replicas of each partition of the topic. */
export async function partitionStates(admin: Admin, topic: string): Promise<PartitionState[]> {
  const md = await admin.metadata({ topics: [topic], forceUpdate: true });
  const tm = md.topics.get(topic);
  if (!tm) throw new Error(`topic ${topic} not found`);
  return tm.partitions.map((p, partition) => ({ partition, leader: p.leader, replicas: [...p.replicas], isr: [...p.isr] }));
}

export interface PartitionState {
  partition: number;
  /** Node id of the leader; -1 when none. */
  leader: number;
  /** Replicas, the preferred leader first. */
  replicas: number[];
  /** In-sync replicas (node ids). */
  isr: number[];
}

export interface MemberLag {
  memberId: string;
  clientId: string;
  partitions: number[];
  /** Sum over its partitions of end offset − committed offset. */
  lag: number;
}

export interface GroupLag {
  group: string;
  state: string;
  members: MemberLag[];
  /** Lag of partitions no member holds now (between rebalances, or no consumer). */
  unassignedLag: number;
  total: number;
  /** Per partition. */
  progress: Map<number, PartitionProgress>;
}

/** Lag of a consumer group on one topic, per member: end offsets minus committed offsets. */
export async function groupLagOf(admin: Admin, group: string, topic: string): Promise<GroupLag> {
  const [progress, groups] = await Promise.all([partitionProgress(admin, group, topic), admin.describeGroups({ groups: [group] })]);
  const g = groups.get(group);
  const held = new Set<number>();
  const members: MemberLag[] = [];
  for (const m of g?.members.values() ?? []) {
    const ps = [...(m.assignments?.get(topic)?.partitions ?? [])].sort((a, b) => a - b);
    ps.forEach((p) => held.add(p));
    members.push({ memberId: m.id, clientId: m.clientId, partitions: ps, lag: ps.reduce((sum, p) => sum + (progress.get(p)?.lag ?? 0), 0) });
  }
  let unassignedLag = 0;
  let total = 0;
  for (const [p, { lag }] of progress) {
    total += lag;
    if (!held.has(p)) unassignedLag += lag;
  }
  return { group, state: String(g?.state ?? 'UNKNOWN'), members, unassignedLag, total, progress };
}
