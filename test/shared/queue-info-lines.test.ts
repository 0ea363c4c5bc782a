import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HazelcastQueueDetails, KafkaQueueDetails } from '../../src/contracts/queue-info.js';
import { queueInfoLines } from '../../src/shared/queue-info-lines.js';

/** ps prints these lines; the dashboard keeps them as queue.about: one formatter, from the describe data alone. */
describe('queueInfoLines: the describe data as lines', () => {
  it('hazelcast: the members, whether the cluster is safe, the queue owner and its backup', () => {
    const d: HazelcastQueueDetails = {
      kind: 'hazelcast',
      queue: 'messages-queue',
      members: [
        { number: 1, address: '127.0.0.1:5701', up: true, safe: false, migrationsPending: 3, clusterSize: 2 },
        { number: 2, address: '127.0.0.1:5702', up: false },
        { number: 3, address: '127.0.0.1:5703', up: true, safe: true, migrationsPending: 0, clusterSize: 2 },
      ],
      safe: false,
      migrationsPending: 3,
      owner: 3,
      backup: 1,
      backupAmong: [],
    };
    assert.deepEqual(queueInfoLines(d), [
      'cluster: 2 of 3 member(s) up, NOT safe (3 migration(s) pending): a crash now can lose data',
      '  member-1 127.0.0.1:5701 up (holds its backup)',
      '  member-2 127.0.0.1:5702 down',
      '  member-3 127.0.0.1:5703 up (owns the queue)',
      'queue messages-queue: partition owner member-3, backup member-1',
    ]);
    const three: HazelcastQueueDetails = { ...d, members: d.members.map((m) => ({ ...m, up: true })), safe: true, migrationsPending: 0, owner: 2, backupAmong: [1, 3] };
    delete three.backup;
    assert.equal(queueInfoLines(three)[0], 'cluster: 3 of 3 member(s) up, safe (backups in sync)');
    assert.equal(queueInfoLines(three).at(-1), 'queue messages-queue: partition owner member-2, backup one of member-1, member-3');
    const unknown: HazelcastQueueDetails = { ...three, backupAmong: [] };
    delete unknown.owner;
    assert.equal(queueInfoLines(unknown).at(-1), 'queue messages-queue: partition owner not known yet, backup none (no other member up)');
  });

  it('kafka: brokers (down, controller), each partition (leader, preferred, in sync or not, lag), the group, the unconsumed', () => {
    const d: KafkaQueueDetails = {
      kind: 'kafka',
      topic: 'messages-queue',
      group: 'messages',
      groupState: 'Stable',
      brokers: [
        { id: 1, address: '127.0.0.1:9092', up: true, controller: true },
        { id: 2, address: '', up: false, controller: false },
        { id: 3, address: '127.0.0.1:9094', up: true, controller: false },
      ],
      partitions: [
        { partition: 0, leader: 1, preferredLeader: 1, replicas: [1, 2, 3], isr: [1, 3], outOfSync: [2], lag: 0 },
        { partition: 1, leader: 3, preferredLeader: 2, replicas: [2, 3, 1], isr: [3, 1], outOfSync: [2], lag: 5 },
        { partition: 2, leader: 3, preferredLeader: 3, replicas: [3, 1, 2], isr: [3, 1, 2], outOfSync: [], lag: 1 },
      ],
      consumers: [{ clientId: 'messages-5001-consumer', partitions: [0, 2], lag: 1 }],
      unassignedLag: 5,
      totalLag: 6,
      unconsumed: [{ partition: 1, lag: 5, why: 'no member holds it', since: 1000 }],
    };
    assert.deepEqual(queueInfoLines(d, 3500), [
      'brokers: broker-1 127.0.0.1:9092 up (active controller), broker-2 down, broker-3 127.0.0.1:9094 up',
      'topic messages-queue: 3 partitions',
      '  partition 0: leader broker-1, in-sync 1,3 (out of sync: 2 down), lag 0',
      '  partition 1: leader broker-3 (preferred broker-2), in-sync 3,1 (out of sync: 2 down), lag 5',
      '  partition 2: leader broker-3, in-sync 3,1,2, lag 1',
      'leaders on their preferred replicas: all but p1',
      'group messages (stable) lag: messages-5001-consumer 1 (partitions 0,2); unassigned 5',
      'partitions without a live consumer: p1 (no member holds it, 5 waiting, for 2.5 s)',
    ]);
  });

  it('embedded and memory: one line', () => {
    assert.deepEqual(queueInfoLines({ kind: 'embedded', queue: 'q', file: '/d/engine.db', depth: 4, leased: 1 }), ['queue q: file /d/engine.db, depth 4, leased 1']);
    assert.deepEqual(queueInfoLines({ kind: 'memory', queue: 'q', depth: 0, leased: 0 }), ['queue q: in memory, depth 0, leased 0']);
  });
});
