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
});
