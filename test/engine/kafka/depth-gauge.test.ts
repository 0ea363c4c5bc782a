import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DepthGauge } from '../../../src/engine/kafka/depth-gauge.js';

describe('depth gauge', () => {
  it('counts offers since the last reading, and a reading replaces what it saw', async () => {
    let lag = 0;
    let reads = 0;
    const g = new DepthGauge(async () => (reads++, lag), { refreshMs: 60_000 });
    assert.equal(g.known(), false);
    assert.equal(await g.fresh(), 0);
    g.add();
    g.add();
    assert.equal(g.estimate(), 2);
    assert.equal(await g.fresh(), 2, 'not stale: no read');
    assert.equal(reads, 1);
    lag = 2;
    g.invalidate();
    assert.equal(await g.fresh(), 2, 'the reading includes the two offers; they are not counted twice');
    assert.equal(reads, 2);
  });

  it('stands in the last value when a reading is slow or fails', async () => {
    const g = new DepthGauge(() => new Promise<number>(() => {}), { waitMs: 20 });
    g.add(3);
    assert.equal(await g.forBound(), 3);
    const failing = new DepthGauge(async () => Promise.reject(new Error('no leader')), { onError: () => {} });
    failing.add();
    assert.equal(await failing.forBound(), 1);
  });

  it('exact() reads anew: an offer that landed during a slow reading is not counted twice, as the estimate may', async () => {
    // The log's real lag, and reads answered by hand.
    let lag = 0;
    const pending: Array<() => void> = [];
    const g = new DepthGauge(() => new Promise<number>((r) => pending.push(() => r(lag))), { waitMs: 20 });
    // An offer's bound check gives up waiting for a slow reading; the offer lands and is counted.
    assert.equal(await g.forBound(), 0);
    lag = 1;
    g.add();
    // The reading, asked for before the offer, answers after it landed: it saw the record.
    pending.shift()!();
    await new Promise((r) => setImmediate(r));
    assert.equal(g.estimate(), 2, 'the estimate errs on the full side (the bound tolerates it)');
    // exact() asks again and answers what that read saw.
    const exact = g.exact();
    assert.equal(pending.length, 1, 'a new read was asked for');
    pending.shift()!();
    assert.equal(await exact, 1);
    assert.equal(g.estimate(), 1, 'and the estimate follows it');
  });

  it('exact() waits for a reading in flight and then asks its own', async () => {
    let lag = 4;
    const pending: Array<() => void> = [];
    const g = new DepthGauge(() => new Promise<number>((r) => pending.push(() => r(lag))));
    const early = g.fresh();
    const exact = g.exact();
    await new Promise((r) => setImmediate(r));
    assert.equal(pending.length, 1, 'one request at a time');
    lag = 3;
    pending.shift()!();
    assert.equal(await early, 3);
    await new Promise((r) => setImmediate(r));
    assert.equal(pending.length, 1, 'exact() asked after the earlier reading answered');
    lag = 2;
    pending.shift()!();
    assert.equal(await exact, 2);
  });

  it('exact() callers together share one reading started after them; a reading in flight that fails is read again', async () => {
    let reads = 0;
    let fail = true;
    const pending: Array<() => void> = [];
    const g = new DepthGauge(
      () =>
        new Promise<number>((resolve, reject) => {
          reads++;
          pending.push(() => (fail ? reject(new Error('no leader')) : resolve(7)));
        }),
      { onError: () => {} },
    );
    const early = g.fresh().catch((e: Error) => e.message);
    const all = [g.exact(), g.exact(), g.exact()];
    pending.shift()!();
    assert.equal(await early, 'no leader');
    fail = false;
    await new Promise((r) => setImmediate(r));
    assert.equal(reads, 2, 'the three share the one reading asked for after the failed one');
    pending.shift()!();
    assert.deepEqual(await Promise.all(all), [7, 7, 7]);
  });

  it('a commit during a reading leaves it stale: the next check reads again', async () => {
    let lag = 5;
    let reads = 0;
    const pending: Array<() => void> = [];
    const g = new DepthGauge(() => new Promise<number>((r) => (reads++, pending.push(() => r(lag)))), { refreshMs: 60_000 });
    const first = g.fresh();
    g.invalidate();
    pending.shift()!();
    assert.equal(await first, 5);
    lag = 2;
    const second = g.fresh();
    assert.equal(reads, 2, 'not trusted for refreshMs: a commit came while it was read');
    pending.shift()!();
    assert.equal(await second, 2);
    assert.equal(await g.fresh(), 2, 'a reading with no commit during it is reused');
    assert.equal(reads, 2);
  });
});
