import type { Admin } from '@platformatic/kafka';

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

/**
 * Lag per partition: end offset minus committed offset. A partition the
 * group never committed counts from its earliest offset, where a new
 * member starts reading it (fallback mode earliest).
 */
export async function partitionLag(admin: Admin, group: string, topic: string): Promise<Map<number, number>> {
  const md = await admin.metadata({ topics: [topic] });
  const count = md.topics.get(topic)?.partitionsCount ?? 0;
  const ids = Array.from({ length: count }, (_, i) => i);
  const [ends, starts, done] = await Promise.all([
    listOffsets(admin, topic, ids, -1n),
    listOffsets(admin, topic, ids, -2n),
    committedOffsets(admin, group, topic, ids),
  ]);
  const lag = new Map<number, number>();
  for (const p of ids) {
    const end = ends.get(p) ?? 0n;
    const from = done.get(p) ?? starts.get(p) ?? 0n;
    lag.set(p, Number(end > from ? end - from : 0n));
  }
  return lag;
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
}

/** Lag of a consumer group on one topic, per member: end offsets minus committed offsets. */
export async function groupLagOf(admin: Admin, group: string, topic: string): Promise<GroupLag> {
  const [lag, groups] = await Promise.all([partitionLag(admin, group, topic), admin.describeGroups({ groups: [group] })]);
  const g = groups.get(group);
  const held = new Set<number>();
  const members: MemberLag[] = [];
  for (const m of g?.members.values() ?? []) {
    const ps = [...(m.assignments?.get(topic)?.partitions ?? [])].sort((a, b) => a - b);
    ps.forEach((p) => held.add(p));
    members.push({ memberId: m.id, clientId: m.clientId, partitions: ps, lag: ps.reduce((sum, p) => sum + (lag.get(p) ?? 0), 0) });
  }
  let unassignedLag = 0;
  let total = 0;
  for (const [p, l] of lag) {
    total += l;
    if (!held.has(p)) unassignedLag += l;
  }
  return { group, state: String(g?.state ?? 'UNKNOWN'), members, unassignedLag, total };
}

