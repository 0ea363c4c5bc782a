import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configuredHeartbeatTimeoutS, MemberWatch, type MemberAnswer } from '../../../src/engine/hazelcast/member-watch.js';

const M = ['10.0.0.1:5701', '10.0.0.2:5701', '10.0.0.3:5701'];

/** A watch over fake members: `answers` says what each answers now (undefined: silent), `listed` who the client lists. */
function fake() {
  const w = {
    now: 1_000_000,
    listed: [...M],
    answers: new Map<string, MemberAnswer | undefined>(M.map((a) => [a, { clusterSize: 3 }])),
  };
  const watch = new MemberWatch({
    configured: M,
    listed: async () => w.listed,
    probe: async (a) => w.answers.get(a),
    heartbeatTimeoutS: 8,
    now: () => w.now,
  });
  return { w, watch };
}

describe('MemberWatch: when the cluster waits for a member to be declared gone', () => {
  test('all members answer and see a majority: nothing to say', async () => {
    const { watch } = fake();
    assert.deepEqual(await watch.check(), []);
  });

  test('a listed member that does not answer: named, for how long, and what waits', async () => {
    const { w, watch } = fake();
    w.answers.set(M[1]!, undefined);
    assert.deepEqual(await watch.check(), [
      'member-2 (10.0.0.2:5701) not answering for 0 s — the cluster waits up to 8 s without a heartbeat to declare it gone; writes whose primary is there wait',
    ]);
    w.now += 6000;
    assert.match((await watch.check())[0]!, /^member-2 \(10\.0\.0\.2:5701\) not answering for 6 s — the cluster waits up to 8 s/);
    // Declared gone: the client no longer lists it, so nothing is waited for.
    w.listed = [M[0]!, M[2]!];
    assert.deepEqual(await watch.check(), []);
    // Back and silent again: counted from now, not from the first time.
    w.listed = [...M];
    w.now += 30_000;
    assert.match((await watch.check())[0]!, /not answering for 0 s/);
    w.answers.set(M[1]!, { clusterSize: 3 });
    assert.deepEqual(await watch.check(), [], 'answering again: nothing to say');
  });

  test('no listed member answers: one line for the stalled cluster, not each member named as the silent one; listed in the configured order', async () => {
    const { w, watch } = fake();
    for (const a of M) w.answers.set(a, undefined);
    assert.deepEqual(await watch.check(), [
      'no member answers within 4 s (all 3 listed) for 0 s — the cluster is stalled: a member it cannot reach is declared gone after up to 8 s without a heartbeat; calls whose partition is there wait',
    ]);
    w.now += 4000;
    assert.match((await watch.check())[0]!, /all 3 listed\) for 4 s/);
    // Declared gone: the other two answer again, in the configured order whatever the client's order.
    w.listed = [M[1]!, M[0]!, M[2]!];
    w.answers.set(M[0]!, { clusterSize: 2 });
    w.answers.set(M[1]!, { clusterSize: 2 });
    const lines = await watch.check();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^member-3 \(10\.0\.0\.3:5701\) not answering for 4 s/);
  });

  test('a member that sees fewer than a majority is in the minority and refuses writes', async () => {
    const { w, watch } = fake();
    w.answers.set(M[2]!, { clusterSize: 1 });
    w.answers.set(M[0]!, { clusterSize: 2 });
    assert.deepEqual(await watch.check(), ['member-3 (10.0.0.3:5701) sees 1 of 3 members: in the minority — it refuses writes until the partition heals']);
  });

  test('a probe that throws counts as no answer; the heartbeat timeout comes from the members\' config', async () => {
    const watch = new MemberWatch({ configured: M, listed: async () => [M[0]!], probe: () => Promise.reject(new Error('boom')), heartbeatTimeoutS: undefined });
    assert.match((await watch.check())[0]!, /waits its heartbeat timeout to declare it gone/);
    assert.equal(configuredHeartbeatTimeoutS(), 8, 'config/hazelcast.yaml sets 8 s');
    const dir = mkdtempSync(join(tmpdir(), 'member-watch-'));
    try {
      writeFileSync(join(dir, 'a.yaml'), 'hazelcast:\n  properties:\n    hazelcast.max.no.heartbeat.seconds: 30\n');
      assert.equal(configuredHeartbeatTimeoutS(join(dir, 'a.yaml')), 30);
      assert.equal(configuredHeartbeatTimeoutS(join(dir, 'missing.yaml')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
