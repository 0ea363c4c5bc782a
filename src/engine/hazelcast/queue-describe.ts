/**
 * A Hazelcast queue's describe data: each configured member (up or down, its
 * own report on safety and migrations), the member owning the queue's
 * partition and the one holding its backup when that can be told.
 */
import type { HazelcastMemberInfo, HazelcastQueueDetails } from '../../contracts/queue-info.js';

/** What a member's `GET /hazelcast/health` answers (the part used here). */
export interface HealthAnswer {
  clusterSafe: boolean;
  migrationQueueSize: number;
  clusterSize: number;
}

/** GET http://<address>/hazelcast/health within timeoutMs; undefined on any failure. */
export async function memberHealthOf(address: string, timeoutMs: number): Promise<HealthAnswer | undefined> {
  try {
    const res = await fetch(`http://${address}/hazelcast/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    const b = (await res.json()) as Partial<HealthAnswer>;
    return typeof b.clusterSafe === 'boolean' && typeof b.clusterSize === 'number'
      ? { clusterSafe: b.clusterSafe, migrationQueueSize: Number(b.migrationQueueSize ?? 0), clusterSize: b.clusterSize }
      : undefined;
  } catch {
    return undefined;
  }
}

export interface QueueDescribeInput {
  queue: string;
  /** The configured members, in order ('host:port'): member i is the i-th. */
  configured: readonly string[];
  /** The members the client lists now. */
  listed: readonly string[];
  /** Each configured member's health answer (same order), undefined when it gave none. */
  health: ReadonlyArray<HealthAnswer | undefined>;
  /** 'host:port' of the partition owner, when the client knows it. */
  owner: string | undefined;
}

/**
 * Pure: the describe data from what was read. A member is up when it
 * answered its health check or the client lists it (a member busy detecting
 * a partition may answer late). The backup (backup-count 1) is on another
 * member than the owner; the client is told only owners, so it is named
 * when exactly one other member is up.
 */
export function hazelcastQueueDetails(i: QueueDescribeInput): HazelcastQueueDetails {
  const members: HazelcastMemberInfo[] = i.configured.map((address, k) => {
    const h = i.health[k];
    return {
      number: k + 1,
      address,
      up: h !== undefined || i.listed.includes(address),
      ...(h ? { safe: h.clusterSafe && h.migrationQueueSize === 0, migrationsPending: h.migrationQueueSize, clusterSize: h.clusterSize } : {}),
    };
  });
  const answered = members.filter((m) => m.safe !== undefined);
  const k = i.owner === undefined ? -1 : i.configured.indexOf(i.owner);
  const owner = k >= 0 ? k + 1 : undefined;
  const others = members.filter((m) => m.up && m.number !== owner).map((m) => m.number);
  return {
    kind: 'hazelcast',
    queue: i.queue,
    members,
    safe: answered.length > 0 && answered.every((m) => m.safe),
    migrationsPending: answered.reduce((s, m) => s + (m.migrationsPending ?? 0), 0),
    ...(owner !== undefined ? { owner } : {}),
    ...(owner !== undefined && others.length === 1 ? { backup: others[0]! } : {}),
    backupAmong: owner !== undefined && others.length > 1 ? others : [],
  };
}
