import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseTable, partitionOfTag } from '../../../src/engine/kafka/lease-table.js';

const current = () => true;
const rec = (partition: number, offset: number, item = `i${partition}-${offset}`) => ({ partition, offset: BigInt(offset), epoch: 1, item });

describe('lease table', () => {
  it('hands records out once, leased; an expired lease first, before fresh records', () => {
    const t = new LeaseTable<string>(1000);
    t.push(rec(0, 0));
    t.push(rec(0, 1));
    t.push(rec(1, 0));
    const first = t.take(2, 0, current);
    assert.deepEqual(first.map((l) => l.item), ['i0-0', 'i0-1']);
    assert.equal(partitionOfTag(first[0]!.tag), 0);
    assert.equal(t.nextExpiry(), 1000);
    assert.equal(t.release(first[1]!.tag)?.item, 'i0-1');
    assert.equal(t.release(first[1]!.tag), undefined, 'a second release finds nothing');
    assert.deepEqual(t.take(5, 999, current).map((l) => l.item), ['i1-0'], 'lease not over yet');
    assert.deepEqual(t.take(5, 1000, current).map((l) => l.item), ['i0-0'], 'the unacknowledged record comes again');
    assert.equal(t.redelivered, 1);
  });

  it('skips records of a reading that ended, and drops leases of partitions no longer held', () => {
    const t = new LeaseTable<string>(1000);
    t.push(rec(0, 0));
    t.push(rec(1, 0));
    t.push(rec(2, 0));
    assert.deepEqual(t.take(1, 0, current).map((l) => l.item), ['i0-0']);
    assert.deepEqual(t.take(5, 0, (p) => p !== 1).map((l) => l.item), ['i2-0']);
    t.keepPartitions(new Set([2]));
    assert.deepEqual(t.take(5, 5000, current).map((l) => l.item), ['i2-0'], 'only the held partition comes again');
  });

  it('counts what waits and refuses a lease of zero', () => {
    const t = new LeaseTable<string>(10);
    for (let i = 0; i < 3; i++) t.push(rec(0, i));
    t.take(1, 0, current);
    assert.equal(t.buffered(), 2);
    assert.throws(() => new LeaseTable<string>(0), RangeError);
  });
});
