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

  it('with a timer, acked() answers once the commit that covers it is done, not before', async () => {
    const { commits, c, ack } = setup({ intervalMs: 30 });
    ack(0n);
    let answered = false;
    const first = c.acked().then(() => (answered = true));
    ack(1n);
    const second = c.acked();
    await new Promise((r) => setImmediate(r));
    assert.equal(answered, false, 'not answered before any commit');
    assert.equal(commits.length, 0);
    await Promise.all([first, second]);
    assert.deepEqual(commits.map((p) => p.map((x) => x.offset)), [[2n]], 'one commit for both acknowledgements');
    c.stop();
  });

  it('with a timer, an acknowledgement made while a commit is in flight waits for the next one', async () => {
    const marks = new PartitionWatermarks();
    const e = marks.read(0, 0n)!;
    marks.read(0, 1n);
    let release!: () => void;
    const commits: bigint[] = [];
    const c = new Committer(
      marks,
      async (points) => {
        commits.push(points[0]!.offset);
        if (commits.length === 1) await new Promise<void>((r) => (release = r));
      },
      { intervalMs: 10, onError: () => {} },
    );
    marks.ack(0, 0n, e);
    const first = c.acked();
    for (let i = 0; i < 200 && commits.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(commits.length, 1, 'the first commit started');
    marks.ack(0, 1n, e);
    let secondDone = false;
    const second = c.acked().then(() => (secondDone = true));
    release();
    await first;
    assert.equal(secondDone, false, 'the second acknowledgement was not in the first commit');
    await second;
    assert.deepEqual(commits, [1n, 2n]);
    c.stop();
  });

  it('stop() answers acknowledgements still waiting for the timer', async () => {
    const { commits, c, ack } = setup({ intervalMs: 60_000 });
    ack(0n);
    const waiting = c.acked();
    c.stop();
    await waiting;
    assert.equal(commits.length, 0);
  });

  it('after stop(), an acknowledgement answers at once (no timer would answer it)', { timeout: 5000 }, async () => {
    const { c, ack } = setup({ intervalMs: 60_000 });
    c.stop();
    ack(0n);
    await c.acked();
  });
});
