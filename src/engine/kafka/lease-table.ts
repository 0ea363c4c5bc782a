/**
 * Records read ahead and the leases on those handed out. Kafka moves a
 * partition only when its member leaves, so the lease is kept here: a
 * record not acknowledged within `leaseMs` is handed out again by this
 * member. Pure: the caller gives the clock.
 */

/** A record read from a partition, waiting to be handed out. */
export interface ReadRecord<T> {
  partition: number;
  offset: bigint;
  /** The reading of the partition it came from (see PartitionWatermarks). */
  epoch: number;
  item: T;
}

export interface Lease<T> extends ReadRecord<T> {
  tag: string;
  expires: number;
  /** Handed out before: its lease ended unacknowledged. */
  again?: true;
}

/** The delivery tag of a record: `partition:offset:epoch`. */
export function tagOf(r: { partition: number; offset: bigint; epoch: number }): string {
  return `${r.partition}:${r.offset}:${r.epoch}`;
}

/** The partition a delivery came from: for tests and diagnostics (services treat tags as opaque). */
export function partitionOfTag(tag: string): number {
  return Number(tag.split(':')[0]);
}

export class LeaseTable<T> {
  private readonly buffer: Array<ReadRecord<T>> = [];
  private head = 0;
  /** In lease order = expiry order: a re-lease moves to the end. */
  private readonly leases = new Map<string, Lease<T>>();
  /** Records handed out again because their lease ended. */
  redelivered = 0;

  constructor(private readonly leaseMs: number) {
    if (!(leaseMs >= 1)) throw new RangeError(`leaseMs must be ≥ 1, got ${leaseMs}`);
  }

  push(rec: ReadRecord<T>): void {
    this.buffer.push(rec);
  }

  /** Records read and not handed out yet. */
  buffered(): number {
    return this.buffer.length - this.head;
  }

  /**
   * Up to `max` records, leased until now + leaseMs: expired leases first
   * (they are the oldest), then fresh records whose reading is still
   * current.
   */
  take(max: number, now: number, isCurrent: (partition: number, epoch: number) => boolean): Array<Lease<T>> {
    const out: Array<Lease<T>> = [];
    for (const lease of this.leases.values()) {
      if (out.length >= max || lease.expires > now) break;
      this.leases.delete(lease.tag);
      lease.expires = now + this.leaseMs;
      lease.again = true;
      this.leases.set(lease.tag, lease);
      this.redelivered++;
      out.push(lease);
    }
    while (out.length < max && this.head < this.buffer.length) {
      const rec = this.buffer[this.head++]!;
      if (!isCurrent(rec.partition, rec.epoch)) continue;
      const lease = { ...rec, tag: tagOf(rec), expires: now + this.leaseMs };
      this.leases.set(lease.tag, lease);
      out.push(lease);
    }
    if (this.head > 1024 && this.head * 2 > this.buffer.length) {
      this.buffer.splice(0, this.head);
      this.head = 0;
    }
    return out;
  }

  /** Ends a lease (its record was acknowledged); undefined when the tag holds none (unknown, or already released). */
  release(tag: string): Lease<T> | undefined {
    const lease = this.leases.get(tag);
    if (lease) this.leases.delete(tag);
    return lease;
  }

  /** When the earliest lease ends; undefined when none is held. */
  nextExpiry(): number | undefined {
    return this.leases.values().next().value?.expires;
  }

  /** Drops the leases of partitions no longer held (their records are read again by their new member). */
  keepPartitions(held: ReadonlySet<number>): void {
    for (const [tag, lease] of this.leases) if (!held.has(lease.partition)) this.leases.delete(tag);
  }

  clear(): void {
    this.leases.clear();
    this.buffer.length = 0;
    this.head = 0;
  }
}
