/**
 * Per-partition watermarks: acknowledgements that arrive in any order
 * become, per partition, the offset to commit — the first offset not yet
 * acknowledged, so a commit never passes an unacknowledged record.
 *
 * Pure bookkeeping (no client, no clock): the consumer session feeds it the
 * records it reads and the assignments the group gives; the queue feeds it
 * acknowledgements and asks what to commit.
 *
 * Each time this member is given a partition anew, the partition gets a new
 * epoch: an acknowledgement carrying an older epoch (a lease taken before a
 * rebalance) is not counted into the new reading of that partition, which
 * starts over from the group's committed offset.
 */

/** An offset to commit: every record of `partition` before `offset` is acknowledged. */
export interface CommitPoint {
  partition: number;
  offset: bigint;
  /** The reading of the partition this point belongs to. */
  epoch: number;
  /** Records the watermark had passed since the last commit when this point was taken. */
  records: number;
}

interface PartState {
  epoch: number;
  /** Highest offset read: a record at or below it is a re-read (after a rejoin) and skipped. */
  highest: bigint;
  /** Offsets read and not yet below the watermark, ascending; `head` is the first still relevant. */
  order: bigint[];
  head: number;
  acked: Set<bigint>;
  /** Next offset to commit; -1n before any record is acknowledged. */
  watermark: bigint;
  /** Last offset committed (by this reading). */
  committed: bigint;
  /** Records passed by the watermark since the last commit. */
  uncommitted: number;
}

export class PartitionWatermarks {
  private readonly parts = new Map<number, PartState>();
  private epochs = 0;
  private held: Set<number> | undefined;

  /**
   * The group's latest assignment for this member. What was read of a
   * partition given to another member is dropped: that member reads it again
   * from the committed offset.
   */
  assign(partitions: Iterable<number>): void {
    this.held = new Set(partitions);
    for (const p of [...this.parts.keys()]) if (!this.held.has(p)) this.parts.delete(p);
  }

  /** Partitions held by the latest assignment, ascending; undefined before the first. */
  assigned(): number[] | undefined {
    return this.held ? [...this.held].sort((a, b) => a - b) : undefined;
  }

  /**
   * A record read from `partition`: its epoch when it is new, undefined when
   * it is to be skipped (a re-read, or a partition this member no longer
   * holds — right after a rebalance the client may still hand a few over).
   */
  read(partition: number, offset: bigint): number | undefined {
    if (this.held && !this.held.has(partition)) return undefined;
    let st = this.parts.get(partition);
    if (!st) {
      st = { epoch: ++this.epochs, highest: -1n, order: [], head: 0, acked: new Set(), watermark: -1n, committed: -1n, uncommitted: 0 };
      this.parts.set(partition, st);
    }
    if (offset <= st.highest) return undefined;
    st.highest = offset;
    st.order.push(offset);
    return st.epoch;
  }

  /** Whether a record read under `epoch` still belongs to this member's reading of the partition. */
  isCurrent(partition: number, epoch: number): boolean {
    return this.parts.get(partition)?.epoch === epoch;
  }

  /** Acknowledges one record; false (and nothing changes) when its reading is over. */
  ack(partition: number, offset: bigint, epoch: number): boolean {
    const st = this.parts.get(partition);
    if (!st || st.epoch !== epoch) return false;
    st.acked.add(offset);
    while (st.head < st.order.length && st.acked.has(st.order[st.head]!)) {
      const o = st.order[st.head++]!;
      st.acked.delete(o);
      st.watermark = o + 1n;
      st.uncommitted++;
    }
    if (st.head > 1024) {
      st.order.splice(0, st.head);
      st.head = 0;
    }
    return true;
  }

  /** The partitions whose watermark moved past their last commit. */
  due(): CommitPoint[] {
    const out: CommitPoint[] = [];
    for (const [partition, st] of this.parts) {
      if (st.watermark > st.committed) out.push({ partition, offset: st.watermark, epoch: st.epoch, records: st.uncommitted });
    }
    return out;
  }

  /** Records acknowledged past the watermark and not committed yet (all partitions). */
  uncommitted(): number {
    let n = 0;
    for (const st of this.parts.values()) n += st.uncommitted;
    return n;
  }

  /** Marks commit points done; a point of a reading that ended meanwhile changes nothing. */
  committed(points: readonly CommitPoint[]): void {
    for (const p of points) {
      const st = this.parts.get(p.partition);
      if (!st || st.epoch !== p.epoch || p.offset <= st.committed) continue;
      st.committed = p.offset;
      // What was passed while the commit ran stays counted for the next one.
      st.uncommitted = Math.max(0, st.uncommitted - p.records);
    }
  }

  clear(): void {
    this.parts.clear();
  }
}
