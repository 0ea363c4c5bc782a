import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Committer } from '../../../src/engine/kafka/committer.js';
import { PartitionWatermarks, type CommitPoint } from '../../../src/engine/kafka/watermark.js';

function setup(o: { intervalMs?: number; maxRecords?: number; fail?: () => boolean } = {}) {
  const marks = new PartitionWatermarks();
  const commits: CommitPoint[][] = [];
  const c = new Committer(
    marks,
    async (points) => {
      if (o.fail?.()) throw new Error('coordinator moved');
      commits.push(points);
    },
    { intervalMs: o.intervalMs ?? 60_000, maxRecords: o.maxRecords ?? 1000, onError: () => {} },
  );
  const e = marks.read(0, 0n)!;
  for (let i = 1n; i < 10n; i++) marks.read(0, i);
  return { marks, commits, c, ack: (o: bigint) => marks.ack(0, o, e) };
}

describe('committer', () => {
  it('commits on flush, not per acknowledgement, while the timer has not run', async () => {
    const { commits, c, ack } = setup();
    ack(0n);
    c.acked();
    ack(1n);
    c.acked();
    assert.equal(commits.length, 0);
    await c.flush();
    assert.deepEqual(commits.map((p) => p.map((x) => x.offset)), [[2n]]);
    await c.flush();
    assert.equal(commits.length, 1, 'nothing moved: no second commit');
    c.stop();
  });

  it('commits at once when maxRecords acknowledged records wait', async () => {
    const { commits, c, ack } = setup({ maxRecords: 3 });
    for (const o of [0n, 1n, 2n]) {
      ack(o);
      c.acked();
    }
    await c.flush();
    assert.equal(commits[0]![0]!.offset, 3n);
    c.stop();
  });

  it('a failed commit leaves the points due, and the next flush commits them', async () => {
    let failing = true;
    const { commits, marks, c, ack } = setup({ fail: () => failing });
    ack(0n);
    await c.flush();
    assert.equal(commits.length, 0);
    assert.equal(marks.due().length, 1);
    failing = false;
    await c.flush();
    assert.equal(commits[0]![0]!.offset, 1n);
    c.stop();
  });
});
