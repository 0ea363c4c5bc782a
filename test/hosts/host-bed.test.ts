import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memberLine } from '../../src/hosts/host-bed.js';

test('memberLine: a member seeing fewer than a majority is in the minority, not safe; the majority side says whether backups are in sync', () => {
  const h = { nodeState: 'ACTIVE', clusterState: 'ACTIVE', clusterSafe: true, migrationQueueSize: 0 };
  // Right after `partition 3` the cut-off member may still call itself safe: what counts is how many it sees.
  assert.equal(memberLine({ ...h, clusterSize: 1 }, 3), 'ACTIVE, sees 1 of 3 members: in the minority — writes refused (split-brain protection needs 2)');
  assert.equal(memberLine({ ...h, clusterSize: 2 }, 3), 'ACTIVE, sees 2 of 3 members, safe (backups in sync)');
  assert.equal(memberLine({ ...h, clusterSize: 3 }, 3), 'ACTIVE, sees 3 of 3 members, safe (backups in sync)');
  assert.equal(memberLine({ ...h, clusterSize: 3, clusterSafe: false, migrationQueueSize: 4 }, 3), 'ACTIVE, sees 3 of 3 members, not safe (backups not in sync, 4 migration(s) queued: a crash now can lose data)');
  assert.equal(memberLine({ ...h, clusterSize: 3, clusterSafe: false }, 3), 'ACTIVE, sees 3 of 3 members, not safe (backups not in sync: a crash now can lose data)');
  assert.match(memberLine({ ...h, clusterSize: 2 }, 5), /sees 2 of 5 members: in the minority — writes refused \(split-brain protection needs 3\)/);
});
