import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsumerWatch, kafkaQueueDetails } from '../../../src/engine/kafka/admin-describe.js';
import type { GroupLag, PartitionProgress } from '../../../src/engine/kafka/admin.js';

function lagOf(members: Array<[string, number[]]>, progress: Array<[number, PartitionProgress]>): GroupLag {
  const p = new Map(progress);
  return {
    group: 'g',
    state: 'STABLE',
    members: members.map(([clientId, partitions]) => ({ memberId: clientId, clientId, partitions, lag: partitions.reduce((s, x) => s + (p.get(x)?.lag ?? 0), 0) })),
    unassignedLag: 0,
    total: 0,
    progress: p,
  };
}

describe('consumer watch (partitions without a live consumer)', () => {
  it('names partitions no member holds, and those of a member known to be gone, since first seen', () => {
    const w = new ConsumerWatch(5000);
    const lag = lagOf([['a-consumer', [0]], ['b-consumer', [1]]], [[0, { lag: 0, committed: 5n }], [1, { lag: 3, committed: 2n }], [2, { lag: 0, committed: -1n }]]);
    const live = (id: string) => id !== 'b-consumer';
    assert.deepEqual(w.observe(lag, 1000, live), [
      { partition: 1, lag: 3, why: 'its consumer is gone', since: 1000, heldBy: 'b-consumer' },
      { partition: 2, lag: 0, why: 'no member holds it', since: 1000 },
    ]);
    assert.equal(w.observe(lag, 4000, live)[0]!.since, 1000, 'since stays the first time seen');
    const taken = lagOf([['a-consumer', [0, 1, 2]]], [[0, { lag: 0, committed: 5n }], [1, { lag: 0, committed: 5n }], [2, { lag: 0, committed: -1n }]]);
    assert.deepEqual(w.observe(taken, 5000, live), [], 'the rebalance gave them to the live member');
  });

  it('names a held partition whose items wait and whose committed offset has not moved for stallMs', () => {
    const w = new ConsumerWatch(5000);
    const stuck = lagOf([['a-consumer', [0]]], [[0, { lag: 4, committed: 7n }]]);
    assert.deepEqual(w.observe(stuck, 0), []);
    assert.deepEqual(w.observe(stuck, 4999), []);
    assert.deepEqual(w.observe(stuck, 5000), [{ partition: 0, lag: 4, why: 'no progress', since: 0, heldBy: 'a-consumer' }]);
    const moving = lagOf([['a-consumer', [0]]], [[0, { lag: 4, committed: 9n }]]);
    assert.deepEqual(w.observe(moving, 6000), []);
  });

  it('turns the reading into the describe data: a replica the cluster does not list is a broker that is down', () => {
    const lag = lagOf([['a-consumer', [0]]], [[0, { lag: 1, committed: 1n }], [1, { lag: 2, committed: 0n }]]);
    const d = {
      topic: 't',
      group: 'g',
      brokers: [{ id: 1, address: 'h:1' }, { id: 3, address: 'h:3' }],
      partitions: [
        { partition: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 3] },
        { partition: 1, leader: 3, replicas: [2, 3, 1], isr: [3, 1] },
      ],
      lag: { ...lag, unassignedLag: 2, total: 3 },
      unconsumed: [{ partition: 1, lag: 2, why: 'no member holds it' as const, since: 1000 }],
    };
    assert.deepEqual(kafkaQueueDetails(d, 3), {
      kind: 'kafka',
      topic: 't',
      group: 'g',
      groupState: 'STABLE',
      brokers: [
        { id: 1, address: 'h:1', up: true, controller: false },
        { id: 2, address: '', up: false, controller: false },
        { id: 3, address: 'h:3', up: true, controller: true },
      ],
      partitions: [
        { partition: 0, leader: 1, preferredLeader: 1, replicas: [1, 2, 3], isr: [1, 3], outOfSync: [2], lag: 1 },
        { partition: 1, leader: 3, preferredLeader: 2, replicas: [2, 3, 1], isr: [3, 1], outOfSync: [2], lag: 2 },
      ],
      consumers: [{ clientId: 'a-consumer', partitions: [0], lag: 1 }],
      unassignedLag: 2,
      totalLag: 3,
      unconsumed: [{ partition: 1, lag: 2, why: 'no member holds it', since: 1000 }],
    });
    assert.deepEqual(kafkaQueueDetails(d).brokers.filter((b) => b.controller), [], 'without the caller knowing, none: the metadata names any live broker');
  });
});
