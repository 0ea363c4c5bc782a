import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartitionWatermarks } from '../../../src/engine/kafka/watermark.js';

/** Reads offsets from..to of a partition; returns the epoch they were read under. */
function readRange(w: PartitionWatermarks, partition: number, from: number, to: number): number {
  let epoch = -1;
  for (let o = from; o <= to; o++) epoch = w.read(partition, BigInt(o)) ?? epoch;
  return epoch;
}

describe('partition watermarks', () => {
  it('acknowledgements out of order commit only up to the first unacknowledged record', () => {
    const w = new PartitionWatermarks();
    w.assign([0]);
    const e = readRange(w, 0, 10, 14);
    for (const o of [11n, 13n, 12n]) assert.equal(w.ack(0, o, e), true);
    assert.deepEqual(w.due(), [], 'offset 10 unacknowledged: nothing to commit');
    w.ack(0, 10n, e);
    assert.deepEqual(w.due(), [{ partition: 0, offset: 14n, epoch: e, records: 4 }], 'next to read is 14');
    assert.equal(w.uncommitted(), 4);
    w.committed(w.due());
    assert.deepEqual(w.due(), []);
    assert.equal(w.uncommitted(), 0);
    w.ack(0, 14n, e);
    assert.deepEqual(w.due(), [{ partition: 0, offset: 15n, epoch: e, records: 1 }]);
  });

  it('records acknowledged while a commit runs stay counted for the next commit', () => {
    const w = new PartitionWatermarks();
    const e = readRange(w, 0, 0, 9);
    for (let o = 0n; o < 3n; o++) w.ack(0, o, e);
    const point = w.due();
    assert.deepEqual(point, [{ partition: 0, offset: 3n, epoch: e, records: 3 }]);
    // The commit is in flight; two more pass the watermark meanwhile.
    w.ack(0, 3n, e);
    w.ack(0, 4n, e);
    assert.equal(w.uncommitted(), 5);
    w.committed(point);
    assert.equal(w.uncommitted(), 2, 'only what the commit covered is taken off');
    assert.deepEqual(w.due(), [{ partition: 0, offset: 5n, epoch: e, records: 2 }]);
  });

  it('keeps partitions apart', () => {
    const w = new PartitionWatermarks();
    const a = readRange(w, 0, 0, 2);
    const b = readRange(w, 1, 0, 2);
    w.ack(1, 0n, b);
    w.ack(0, 1n, a);
    assert.deepEqual(w.due(), [{ partition: 1, offset: 1n, epoch: b, records: 1 }]);
  });

  it('skips a re-read of records already read (a rejoin that keeps the partition)', () => {
    const w = new PartitionWatermarks();
    w.assign([0]);
    const e = readRange(w, 0, 0, 4);
    w.assign([0, 1]);
    assert.equal(w.read(0, 3n), undefined, 're-read');
    assert.equal(w.read(0, 5n), e, 'same reading continues');
    assert.equal(w.isCurrent(0, e), true);
  });

  it('a partition revoked mid-batch: its acknowledgements count for nothing and it is not committed', () => {
    const w = new PartitionWatermarks();
    w.assign([0, 1]);
    const e0 = readRange(w, 0, 0, 3);
    const e1 = readRange(w, 1, 0, 3);
    w.ack(0, 0n, e0);
    w.assign([1]);
    assert.equal(w.isCurrent(0, e0), false);
    assert.equal(w.ack(0, 1n, e0), false, 'an ack of the revoked partition');
    assert.equal(w.read(0, 4n), undefined, 'a late record of the revoked partition is not taken');
    w.ack(1, 0n, e1);
    assert.deepEqual(w.due(), [{ partition: 1, offset: 1n, epoch: e1, records: 1 }], 'only the partition still held');
    assert.deepEqual(w.assigned(), [1]);
  });

  it('a commit after a rebalance: the partition given back starts a new reading; old acks and old commit points do not touch it', () => {
    const w = new PartitionWatermarks();
    w.assign([0]);
    const old = readRange(w, 0, 0, 9);
    for (let o = 0n; o < 5n; o++) w.ack(0, o, old);
    const stale = w.due();
    assert.deepEqual(stale, [{ partition: 0, offset: 5n, epoch: old, records: 5 }]);
    // Revoked, then given back: the group's committed offset is still 0 (the commit above never ran), so 0.. is read again.
    w.assign([]);
    w.assign([0]);
    const fresh = w.read(0, 0n);
    assert.ok(fresh !== undefined && fresh !== old, 'a new reading with a new epoch');
    w.committed(stale);
    assert.equal(w.ack(0, 5n, old), false, 'a lease of the old reading is not counted');
    assert.deepEqual(w.due(), [], 'the stale commit point did not mark the new reading');
    w.ack(0, 0n, fresh);
    assert.deepEqual(w.due(), [{ partition: 0, offset: 1n, epoch: fresh, records: 1 }]);
  });

  it('holds a long run of acknowledgements in constant memory (the read list is compacted)', () => {
    const w = new PartitionWatermarks();
    const e = readRange(w, 0, 0, 5000);
    for (let o = 0n; o <= 5000n; o++) w.ack(0, o, e);
    assert.deepEqual(w.due(), [{ partition: 0, offset: 5001n, epoch: e, records: 5001 }]);
  });
});
