/**
 * The describe data of a Kafka queue — partition leaders and replicas, the
 * group's lag per consumer, and the partitions no live consumer reads —
 * and its two renderings: the adapter's short lines (the dashboard) and
 * `ps`'s per-partition lines (the launcher). One reading, one shape.
 */
import type { Admin } from '@platformatic/kafka';
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
  return { topic, group, partitions, lag, unconsumed: watch.observe(lag, Date.now(), isLive) };
}

const node = (id: number) => (id < 0 ? 'none' : `broker-${id}`);
const ago = (since: number, now: number) => `${((now - since) / 1000).toFixed(1)} s`;

function unconsumedLine(d: QueueDescription, now: number): string {
  if (d.unconsumed.length === 0) return 'partitions without a live consumer: none';
  const parts = d.unconsumed.map((u) => `p${u.partition} (${u.why}${u.heldBy ? `: ${u.heldBy}` : ''}, ${u.lag} waiting, for ${ago(u.since, now)})`);
  return `partitions without a live consumer: ${parts.join(', ')}`;
}

/** Leaders away from their preferred replica (the first listed): after a failover, until the brokers move them back. */
function preferredLine(d: QueueDescription): string {
  const away = d.partitions.filter((p) => p.leader >= 0 && p.replicas[0] !== undefined && p.leader !== p.replicas[0]);
  return `leaders on their preferred replicas: ${away.length ? `all but ${away.map((p) => `p${p.partition} (${node(p.leader)}, preferred ${node(p.replicas[0]!)})`).join(', ')}` : 'all'}`;
}

/** The adapter's lines: one per fact. */
export function summaryLines(d: QueueDescription, now = Date.now()): string[] {
  const leads = new Map<number, number[]>();
  for (const p of d.partitions) leads.set(p.leader, [...(leads.get(p.leader) ?? []), p.partition]);
  const leaders = [...leads].sort((a, b) => a[0] - b[0]).map(([n, ps]) => `${n < 0 ? 'no leader' : node(n)}: ${ps.join(',')}`);
  const short = d.partitions.filter((p) => p.isr.length < p.replicas.length).map((p) => `p${p.partition} isr ${p.isr.join(',') || 'none'} of ${p.replicas.join(',')}`);
  const members = d.lag.members.map((m) => `${m.clientId} ${m.lag} (p${m.partitions.join(',')})`);
  return [
    `topic ${d.topic}: ${d.partitions.length} partitions, leaders ${leaders.join('; ')}`,
    `in-sync replicas: ${short.length ? short.join('; ') : 'all'}`,
    `group ${d.group} lag: ${members.length ? members.join(', ') : 'no consumer'}${d.lag.unassignedLag ? `, unassigned ${d.lag.unassignedLag}` : ''}`,
    unconsumedLine(d, now),
  ];
}

/** `ps`'s lines: one per partition, then the group. */
export function psLines(d: QueueDescription, now = Date.now()): string[] {
  const lines = [`topic ${d.topic}: ${d.partitions.length} partitions`];
  for (const p of d.partitions) {
    const out = p.replicas.filter((r) => !p.isr.includes(r));
    lines.push(`  partition ${p.partition}: leader ${node(p.leader)}, in-sync ${p.isr.join(',') || 'none'}${out.length ? ` (out of sync: ${out.join(',')})` : ''}`);
  }
  lines.push(preferredLine(d));
  const members = d.lag.members.map((m) => `${m.clientId} ${m.lag} (partitions ${m.partitions.join(',') || 'none'})`);
  lines.push(`group ${d.group} (${d.lag.state.toLowerCase()}) lag: ${members.length ? members.join(', ') : 'no consumer'}${d.lag.unassignedLag ? `; unassigned ${d.lag.unassignedLag}` : ''}`);
  lines.push(unconsumedLine(d, now));
  return lines;
}
