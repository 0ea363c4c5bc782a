import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { slotWaiter } from '../../src/lib/slot-wait.js';

interface S {
  name: string;
  child?: unknown;
  started: boolean;
}

describe('slotWaiter', () => {
  const failed = (s: S | undefined, after?: number) => new Error(after === undefined ? `${s?.name} exited` : `timed out after ${after} ms on ${s?.name}`);

  test('resolves once the condition holds, checked again on notify', async () => {
    const w = slotWaiter<S>();
    const a: S = { name: 'a', child: {}, started: false };
    let ready = false;
    const p = w.until(() => ready, 5000, [a], failed);
    ready = true;
    w.notify();
    await p;
  });

  test('rejects as soon as a watched process exits', async () => {
    const w = slotWaiter<S>();
    const a: S = { name: 'a', child: {}, started: true };
    const p = w.until(() => false, 5000, [a], failed);
    a.child = undefined;
    w.notify();
    await assert.rejects(p, /a exited/);
  });

  test('rejects after the timeout, naming the slot that had not started', async () => {
    const w = slotWaiter<S>();
    const slots: S[] = [
      { name: 'a', child: {}, started: true },
      { name: 'b', child: {}, started: false },
    ];
    await assert.rejects(w.until(() => false, 50, slots, failed), /timed out after 50 ms on b/);
  });
});
