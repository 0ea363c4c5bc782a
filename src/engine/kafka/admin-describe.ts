/**
 * The describe data of a Kafka queue — partition leaders and replicas, the
 * group's lag per consumer, and the partitions no live consumer reads —
 * read once and turned into the queue's describe data
 * (src/contracts/queue-info.ts), which `ps` and the dashboard both draw.
 */
import type { Admin } from '@platformatic/kafka';
import type { KafkaBrokerInfo, KafkaPartitionInfo, KafkaQueueDetails } from '../../contracts/queue-info.js';
import { groupLagOf, partitionStates, type GroupLag, type MemberLag, type PartitionState } from './admin.js';

/** A partition whose items no live consumer reads, and since when. */
export interface Unconsumed {
  partition: number;
  /** Items waiting on it. */
  lag: number;
  /** The member the group still gives it to, if any. */
  heldBy?: string;
  why: 'no member holds it' | 'its consumer is gone' | 'no progress';
  /** Since when (ms since the epoch), as far as this watcher has seen. */
  since: number;
}

export interface QueueDescription {
  topic: string;
  group: string;
  /** The brokers the cluster lists now (the live ones). */
  brokers?: Array<{ id: number; address: string }>;
  partitions: PartitionState[];
  lag: GroupLag;
  unconsumed: Unconsumed[];
}

/** Whether a consumer (by client id) is known to be alive; undefined when the caller cannot tell. */
export type Liveness = (clientId: string) => boolean | undefined;

/**
 * Remembers, across readings, when each partition's committed offset last
 * moved and since when it has had no live consumer. A partition counts as
 * unconsumed when no member holds it, when its member is known to be gone
 * (a killed consumer stays a member until its session times out), or when
 * items wait on it and its committed offset has not moved for `stallMs`.
 */
export class ConsumerWatch {
  private readonly moved = new Map<number, { committed: bigint; at: number }>();
  private readonly idle = new Map<number, number>();

  constructor(private readonly stallMs = 5000) {}

  observe(lag: GroupLag, now: number, isLive?: Liveness): Unconsumed[] {
    const holder = new Map<number, MemberLag>();
    for (const m of lag.members) for (const p of m.partitions) holder.set(p, m);
    const out: Unconsumed[] = [];
    for (const [partition, { lag: waiting, committed }] of lag.progress) {
      const last = this.moved.get(partition);
      if (!last || last.committed !== committed) this.moved.set(partition, { committed, at: now });
      const movedAt = this.moved.get(partition)!.at;
      const m = holder.get(partition);
      const why: Unconsumed['why'] | undefined = !m
        ? 'no member holds it'
        : isLive?.(m.clientId) === false
          ? 'its consumer is gone'
          : waiting > 0 && now - movedAt >= this.stallMs
            ? 'no progress'
            : undefined;
      if (!why) {
        this.idle.delete(partition);
        continue;
      }
      const first = this.idle.get(partition) ?? now;
      this.idle.set(partition, first);
      // Items waiting have waited at least since the committed offset last moved.
      const since = waiting > 0 ? Math.min(first, movedAt) : first;
      out.push({ partition, lag: waiting, why, since, ...(m ? { heldBy: m.clientId } : {}) });
    }
    return out.sort((a, b) => a.partition - b.partition);
  }
}

export async function readQueueDescription(admin: Admin, topic: string, group: string, watch: ConsumerWatch, isLive?: Liveness): Promise<QueueDescription> {
  const [partitions, lag] = await Promise.all([partitionStates(admin, topic), groupLagOf(admin, group, topic)]);
  // Fresh: partitionStates just forced an update.
  const md = await admin.metadata({ topics: [topic] });
  const brokers = [...md.brokers].map(([id, b]) => ({ id, address: `${b.host}:${b.port}` })).sort((a, b) => a.id - b.id);
  return { topic, group, brokers, partitions, lag, unconsumed: watch.observe(lag, Date.now(), isLive) };
}

/**
 * The description as the queue's describe data (src/contracts/queue-info.ts):
 * a replica the cluster does not list is a broker that is down. `controller`
 * names the active controller when the caller knows it (the launcher, which
 * runs the controllers, does). Without it no broker is marked: under KRaft
 * the controller id in a client's metadata is any live broker, not the
 * active controller.
 */
export function kafkaQueueDetails(d: QueueDescription, controller = -1): KafkaQueueDetails {
  const listed = new Map((d.brokers ?? []).map((b) => [b.id, b.address]));
  const ids = new Set<number>(listed.keys());
  for (const p of d.partitions) for (const r of p.replicas) ids.add(r);
  const brokers: KafkaBrokerInfo[] = [...ids].sort((a, b) => a - b).map((id) => ({ id, address: listed.get(id) ?? '', up: listed.has(id), controller: id === controller }));
  const partitions: KafkaPartitionInfo[] = d.partitions.map((p) => ({
    partition: p.partition,
    leader: p.leader,
    preferredLeader: p.replicas[0] ?? -1,
    replicas: [...p.replicas],
    isr: [...p.isr],
    outOfSync: p.replicas.filter((r) => !p.isr.includes(r)),
    lag: d.lag.progress.get(p.partition)?.lag ?? 0,
  }));
  return {
    kind: 'kafka',
    topic: d.topic,
    group: d.group,
    groupState: d.lag.state,
    brokers,
    partitions,
    consumers: d.lag.members.map((m) => ({ clientId: m.clientId, partitions: [...m.partitions], lag: m.lag })),
    unassignedLag: d.lag.unassignedLag,
    totalLag: d.lag.total,
    unconsumed: d.unconsumed.map((u) => ({ ...u })),
  };
}
