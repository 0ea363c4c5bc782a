/**
 * The one formatter of a queue's describe data (src/contracts/queue-info.ts)
 * as text lines: what `ps` prints and what the dashboard state keeps as
 * `queue.about` for readers of text (the host bed's status).
 */
import type { HazelcastQueueDetails, KafkaQueueDetails, QueueDetails } from '../contracts/queue-info.js';

const broker = (id: number) => (id < 0 ? 'none' : `broker-${id}`);
const ago = (since: number, now: number) => `${(Math.max(0, now - since) / 1000).toFixed(1)} s`;

function hazelcastLines(d: HazelcastQueueDetails): string[] {
  const up = d.members.filter((m) => m.up).length;
  const safety = d.safe
    ? 'safe (backups in sync)'
    : `NOT safe${d.migrationsPending ? ` (${d.migrationsPending} migration(s) pending)` : ''}: a crash now can lose data`;
  const lines = [`cluster: ${up} of ${d.members.length} member(s) up, ${safety}`];
  for (const m of d.members) {
    const marks = [m.number === d.owner ? 'owns the queue' : '', m.number === d.backup ? 'holds its backup' : ''].filter(Boolean);
    lines.push(`  member-${m.number} ${m.address} ${m.up ? 'up' : 'down'}${marks.length ? ` (${marks.join(', ')})` : ''}`);
  }
  // Right after a member died the client's partition table may still name it, until the cluster sends the new one.
  const ownerDown = d.owner !== undefined && d.members[d.owner - 1]?.up === false ? ' (down: its partitions are moving to the others)' : '';
  const owner = d.owner === undefined ? 'not known yet' : `member-${d.owner}${ownerDown}`;
  const backup =
    d.backup !== undefined
      ? `member-${d.backup}`
      : d.backupAmong.length
        ? `one of ${d.backupAmong.map((n) => `member-${n}`).join(', ')}`
        : 'none (no other member up)';
  lines.push(`queue ${d.queue}: partition owner ${owner}, backup ${backup}`);
  return lines;
}

function kafkaLines(d: KafkaQueueDetails, now: number): string[] {
  const brokers = d.brokers.map((b) => `${broker(b.id)}${b.address ? ` ${b.address}` : ''} ${b.up ? 'up' : 'down'}${b.controller ? ' (active controller)' : ''}`);
  const down = new Set(d.brokers.filter((b) => !b.up).map((b) => b.id));
  const lines = [`brokers: ${brokers.length ? brokers.join(', ') : 'none listed'}`, `topic ${d.topic}: ${d.partitions.length} partitions`];
  for (const p of d.partitions) {
    const out = p.outOfSync.map((r) => `${r}${down.has(r) ? ' down' : ''}`);
    lines.push(
      `  partition ${p.partition}: leader ${broker(p.leader)}${p.leader !== p.preferredLeader ? ` (preferred ${broker(p.preferredLeader)})` : ''}, ` +
        `in-sync ${p.isr.join(',') || 'none'}${out.length ? ` (out of sync: ${out.join(', ')})` : ''}, lag ${p.lag}`,
    );
  }
  const away = d.partitions.filter((p) => p.leader >= 0 && p.leader !== p.preferredLeader);
  lines.push(`leaders on their preferred replicas: ${away.length ? `all but ${away.map((p) => `p${p.partition}`).join(', ')}` : 'all'}`);
  const consumers = d.consumers.map((c) => `${c.clientId} ${c.lag} (partitions ${c.partitions.join(',') || 'none'})`);
  lines.push(
    `group ${d.group} (${d.groupState.toLowerCase()}) lag: ${consumers.length ? consumers.join(', ') : 'no consumer'}${d.unassignedLag ? `; unassigned ${d.unassignedLag}` : ''}`,
  );
  const unconsumed = d.unconsumed.map((u) => `p${u.partition} (${u.why}${u.heldBy ? `: ${u.heldBy}` : ''}, ${u.lag} waiting, for ${ago(u.since, now)})`);
  lines.push(`partitions without a live consumer: ${unconsumed.length ? unconsumed.join(', ') : 'none'}`);
  return lines;
}

/** The describe data as lines, one fact each (indented lines belong to the line above). */
export function queueInfoLines(d: QueueDetails, now = Date.now()): string[] {
  switch (d.kind) {
    case 'embedded':
      return [`queue ${d.queue}: file ${d.file}, depth ${d.depth}, leased ${d.leased}`];
    case 'memory':
      return [`queue ${d.queue}: in memory, depth ${d.depth}, leased ${d.leased}`];
    case 'hazelcast':
      return hazelcastLines(d);
    case 'kafka':
      return kafkaLines(d, now);
  }
}
