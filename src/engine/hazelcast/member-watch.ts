/**
 * Says when the cluster is waiting for a member to be declared gone. A member
 * cut off by a partition or a dead host stays in the member list until the
 * others have had no heartbeat from it for `hazelcast.max.no.heartbeat.seconds`;
 * meanwhile every call whose partition it owns waits. The watch asks each
 * listed member for its health (its REST endpoint, `/hazelcast/health`) and
 * puts what it sees in words: a member that does not answer, and for how
 * long; a member that answers but sees fewer than a majority.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './jar.js';

/** What a member's `GET /hazelcast/health` answers (the part used here). */
export interface MemberAnswer {
  clusterSize: number;
}

export interface MemberWatchOptions {
  /** 'host:port' of the members the client lists now; empty when it is not connected. */
  listed: () => Promise<readonly string[]>;
  /** The configured members, in order: member i is the i-th (the lab's numbering) and a majority is counted of these. */
  configured: readonly string[];
  /** The member's answer, or undefined when it gives none within timeoutMs. */
  probe: (address: string, timeoutMs: number) => Promise<MemberAnswer | undefined>;
  /** How long the members wait without a heartbeat before declaring one gone; undefined when unknown. */
  heartbeatTimeoutS: number | undefined;
  /**
   * Bound of each probe. Default 4000: while the members detect a partition
   * their health checks took 1.5–5 s on the bed; a shorter bound calls
   * every member silent.
   */
  probeTimeoutMs?: number;
  now?: () => number;
}

export class MemberWatch {
  /** When each member last began not answering (cleared when it answers or leaves the list). */
  private readonly silentSince = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly o: MemberWatchOptions) {
    this.now = o.now ?? Date.now;
  }

  /**
   * Probes every listed member once; one line per member the cluster is
   * waiting on (none when all is well). When no listed member answers, one
   * line says so: during a partition's detection window the members on both
   * sides are busy, so naming each as the silent one would mislead.
   */
  async check(): Promise<string[]> {
    const listed = [...(await this.o.listed())].sort((a, b) => this.indexOf(a) - this.indexOf(b));
    const t = this.now();
    const timeoutMs = this.o.probeTimeoutMs ?? 4000;
    const answers = await Promise.all(listed.map((a) => this.o.probe(a, timeoutMs).catch(() => undefined)));
    for (const a of [...this.silentSince.keys()]) if (!listed.includes(a)) this.silentSince.delete(a);
    const silentFor = (address: string) => {
      const since = this.silentSince.get(address) ?? t;
      this.silentSince.set(address, since);
      return Math.round((this.now() - since) / 1000);
    };
    const bound = this.o.heartbeatTimeoutS === undefined ? 'its heartbeat timeout' : `up to ${this.o.heartbeatTimeoutS} s without a heartbeat`;
    const majority = Math.floor(this.o.configured.length / 2) + 1;
    if (listed.length > 1 && answers.every((a) => a === undefined)) {
      const s = Math.max(...listed.map(silentFor));
      return [`no member answers within ${timeoutMs / 1000} s (all ${listed.length} listed) for ${s} s — the cluster is stalled: a member it cannot reach is declared gone after ${bound}; calls whose partition is there wait`];
    }
    const lines: string[] = [];
    listed.forEach((address, i) => {
      const answer = answers[i];
      const name = this.nameOf(address);
      if (answer === undefined) {
        lines.push(`${name} not answering for ${silentFor(address)} s — the cluster waits ${bound} to declare it gone; writes whose primary is there wait`);
        return;
      }
      this.silentSince.delete(address);
      if (answer.clusterSize < majority) {
        lines.push(`${name} sees ${answer.clusterSize} of ${this.o.configured.length} members: in the minority — it refuses writes until the partition heals`);
      }
    });
    return lines;
  }

  private indexOf(address: string): number {
    const i = this.o.configured.indexOf(address);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  }

  private nameOf(address: string): string {
    const i = this.o.configured.indexOf(address);
    return i >= 0 ? `member-${i + 1} (${address})` : `member ${address}`;
  }
}

/** GET http://<address>/hazelcast/health within timeoutMs; undefined on any failure. */
export async function probeMember(address: string, timeoutMs: number): Promise<MemberAnswer | undefined> {
  try {
    const res = await fetch(`http://${address}/hazelcast/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as Partial<MemberAnswer>;
    return typeof body.clusterSize === 'number' ? { clusterSize: body.clusterSize } : undefined;
  } catch {
    return undefined;
  }
}

/** `hazelcast.max.no.heartbeat.seconds` as the lab's member config sets it; undefined when it cannot be read. */
export function configuredHeartbeatTimeoutS(file = join(repoRoot, 'config', 'hazelcast.yaml')): number | undefined {
  try {
    const m = /^\s*hazelcast\.max\.no\.heartbeat\.seconds:\s*(\d+)\s*$/m.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
