import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { settleAll, TurnBatch, type Waiting } from '../../src/lib/turn-batch.js';

/** A TurnBatch whose send records each batch's values and answers each value with its batch number. */
function recorder(o?: ConstructorParameters<typeof TurnBatch>[1]) {
  const batches: string[][] = [];
  const batch = new TurnBatch<string, number>((ws: Array<Waiting<string, number>>) => {
    batches.push(ws.map((w) => w.value));
    const n = batches.length;
    for (const w of ws) w.resolve(n);
  }, o);
  return { batches, batch };
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('TurnBatch', () => {
  test('values added in one turn are sent together, in order; the next turn is another batch', async () => {
    const { batches, batch } = recorder();
    const first = ['a', 'b', 'c'].map((v) => batch.add(v));
    assert.deepEqual(batches, [], 'nothing is sent within the turn');
    assert.deepEqual(await Promise.all(first), [1, 1, 1]);
    const second = batch.add('d');
    assert.equal(await second, 2);
    assert.deepEqual(batches, [['a', 'b', 'c'], ['d']]);
  });

  test('maxItems: a full batch is sent at once, within the turn', async () => {
    const { batches, batch } = recorder({ maxItems: 2 });
    const all = ['a', 'b', 'c', 'd', 'e'].map((v) => batch.add(v));
    assert.deepEqual(batches, [['a', 'b'], ['c', 'd']], 'the full batches went before the turn ended');
    assert.deepEqual(await Promise.all(all), [1, 1, 2, 2, 3]);
    assert.deepEqual(batches, [['a', 'b'], ['c', 'd'], ['e']]);
  });

  test('maxSize: a value that would take the batch over the size is sent in the next one', async () => {
    const { batches, batch } = recorder({ maxSize: 10 });
    const all = [batch.add('a', 4), batch.add('b', 4), batch.add('c', 4), batch.add('d', 2)];
    assert.deepEqual(batches, [['a', 'b']], 'a+b+c would be 12 > 10: a and b went first');
    await Promise.all(all);
    assert.deepEqual(batches, [['a', 'b'], ['c', 'd']]);
  });

  test('a single value bigger than maxSize still goes, alone', async () => {
    const { batches, batch } = recorder({ maxSize: 10 });
    await Promise.all([batch.add('small', 3), batch.add('huge', 50)]);
    assert.deepEqual(batches, [['small'], ['huge']]);
  });

  test('no empty batch is ever sent', async () => {
    const { batches, batch } = recorder({ maxItems: 1 });
    await batch.add('only');
    await nextTurn();
    await nextTurn();
    assert.deepEqual(batches, [['only']]);
  });
});

describe('settleAll', () => {
  test("resolves every value of the batch with the call's answer", async () => {
    const batch = new TurnBatch<string, string>((ws) => settleAll(ws, Promise.resolve(`answer for ${ws.length}`)));
    assert.deepEqual(await Promise.all([batch.add('x'), batch.add('y')]), ['answer for 2', 'answer for 2']);
  });

  test("rejects every value of the batch with the call's error", async () => {
    const batch = new TurnBatch<string, string>((ws) => settleAll(ws, Promise.reject(new Error('logging unreachable'))));
    const results = await Promise.allSettled([batch.add('x'), batch.add('y')]);
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'fulfilled')),
      ['logging unreachable', 'logging unreachable'],
    );
  });
});
