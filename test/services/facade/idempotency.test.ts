import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import { isEngineUnavailable } from '../../../src/lib/errors.js';
import { decide, fingerprintOf, IdempotencyKeys, type IdempotencyRecord } from '../../../src/services/facade/idempotency.js';
import { eventually } from '../../helpers/fakes.js';

const IN_PROGRESS_MS = 2000;
const NOW = 1_000_000;
const A = fingerprintOf('pay 10 EUR');
const B = fingerprintOf('pay 1000 EUR');

describe('idempotency: fingerprint', () => {
  test('the same text gives the same fingerprint; another text (even by one character or in another normal form) another', () => {
    assert.equal(fingerprintOf('pay 10 EUR'), A);
    assert.notEqual(A, B);
    assert.notEqual(fingerprintOf('pay 10 EUR '), A);
    assert.notEqual(fingerprintOf('caf\u00e9'), fingerprintOf('cafe\u0301'));
    assert.match(A, /^[0-9a-f]{64}$/);
  });
});

describe('idempotency: decide', () => {
  const rec = (r: Partial<IdempotencyRecord>): IdempotencyRecord => ({ id: 'id-1', state: 'pending', ...r });

  test('a new key: go on', () => {
    assert.deepEqual(decide(undefined, A, NOW, IN_PROGRESS_MS), { kind: 'new' });
  });

  test('the same message after it was accepted: a repeat with the first id', () => {
    assert.deepEqual(decide(rec({ state: 'done', fingerprint: A }), A, NOW, IN_PROGRESS_MS), { kind: 'repeat', id: 'id-1' });
  });

  test('another message under a used key is a conflict, whatever state the first is in', () => {
    for (const r of [rec({ state: 'done', fingerprint: A }), rec({ startedAt: NOW - 10, fingerprint: A }), rec({ startedAt: 0, fingerprint: A })]) {
      assert.deepEqual(decide(r, B, NOW, IN_PROGRESS_MS), { kind: 'conflict', id: 'id-1' }, JSON.stringify(r));
    }
  });

  test('the same message while the first still runs: in progress', () => {
    assert.deepEqual(decide(rec({ startedAt: NOW - 10, fingerprint: A }), A, NOW, IN_PROGRESS_MS), { kind: 'in-progress', id: 'id-1' });
    assert.deepEqual(decide(rec({ startedAt: NOW - IN_PROGRESS_MS + 1, fingerprint: A }), A, NOW, IN_PROGRESS_MS).kind, 'in-progress');
  });

  test('the same message after the first failed or outlived its deadline: take over under the first id', () => {
    assert.deepEqual(decide(rec({ startedAt: 0, fingerprint: A }), A, NOW, IN_PROGRESS_MS), { kind: 'take-over', id: 'id-1' });
    assert.deepEqual(decide(rec({ startedAt: NOW - IN_PROGRESS_MS, fingerprint: A }), A, NOW, IN_PROGRESS_MS), { kind: 'take-over', id: 'id-1' });
    assert.deepEqual(decide(rec({ fingerprint: A }), A, NOW, IN_PROGRESS_MS).kind, 'take-over');
  });

  test('a record kept before fingerprints were (none in it) is taken as the same message', () => {
    assert.deepEqual(decide(rec({ state: 'done' }), B, NOW, IN_PROGRESS_MS), { kind: 'repeat', id: 'id-1' });
    assert.deepEqual(decide(rec({ startedAt: NOW - 10 }), B, NOW, IN_PROGRESS_MS).kind, 'in-progress');
  });
});

describe('IdempotencyKeys over an engine map', () => {
  const TTL = 60_000;
  function setup(ttlMs = TTL) {
    const engine = new MemoryEngine();
    const kv = engine.kv<IdempotencyRecord>(`idempotency-${Math.random()}`);
    return { engine, kv, keys: new IdempotencyKeys(kv, ttlMs, IN_PROGRESS_MS) };
  }

  test('a new key: go on with the fresh id; the key now holds a pending claim with the fingerprint', async () => {
    const { kv, keys } = setup();
    assert.deepEqual(await keys.claim('k', 'pay 10 EUR', 'fresh-1', NOW), { go: true, id: 'fresh-1' });
    assert.deepEqual(await kv.get('k'), { id: 'fresh-1', state: 'pending', startedAt: NOW, fingerprint: A });
  });

  test('the same message while the first runs: in progress, under the first id; the claim is unchanged', async () => {
    const { kv, keys } = setup();
    await keys.claim('k', 'pay 10 EUR', 'fresh-1', NOW);
    assert.deepEqual(await keys.claim('k', 'pay 10 EUR', 'fresh-2', NOW + 10), { go: false, decision: { kind: 'in-progress', id: 'fresh-1' } });
    assert.equal((await kv.get('k'))?.id, 'fresh-1');
  });

  test('another message under the key: conflict, pending or done; the first stays', async () => {
    const { kv, keys } = setup();
    await keys.claim('k', 'pay 10 EUR', 'fresh-1', NOW);
    assert.deepEqual(await keys.claim('k', 'pay 1000 EUR', 'fresh-2', NOW + 10), { go: false, decision: { kind: 'conflict', id: 'fresh-1' } });
    await keys.done('k', 'fresh-1', 'pay 10 EUR');
    assert.deepEqual(await keys.claim('k', 'pay 1000 EUR', 'fresh-3', NOW + 20), { go: false, decision: { kind: 'conflict', id: 'fresh-1' } });
    assert.deepEqual(await kv.get('k'), { id: 'fresh-1', state: 'done', fingerprint: A });
  });

  test('done → a repeat answers the first id', async () => {
    const { keys } = setup();
    await keys.claim('k', 'pay 10 EUR', 'fresh-1', NOW);
    await keys.done('k', 'fresh-1', 'pay 10 EUR');
    assert.deepEqual(await keys.claim('k', 'pay 10 EUR', 'fresh-2', NOW + 1), { go: false, decision: { kind: 'repeat', id: 'fresh-1' } });
    // Long after, still a repeat: a done key does not time out into a take-over.
    assert.deepEqual(await keys.claim('k', 'pay 10 EUR', 'fresh-3', NOW + 10 * IN_PROGRESS_MS), { go: false, decision: { kind: 'repeat', id: 'fresh-1' } });
  });

  test('failed → the next repeat takes over at once under the first id, and holds the key as in progress', async () => {
    const { kv, keys } = setup();
    await keys.claim('k', 'pay 10 EUR', 'fresh-1', NOW);
    await keys.failed('k', 'fresh-1', 'pay 10 EUR');
    assert.deepEqual(await kv.get('k'), { id: 'fresh-1', state: 'pending', startedAt: 0, fingerprint: A });
    assert.deepEqual(await keys.claim('k', 'pay 10 EUR', 'fresh-2', NOW + 1), { go: true, id: 'fresh-1' });
    assert.deepEqual(await kv.get('k'), { id: 'fresh-1', state: 'pending', startedAt: NOW + 1, fingerprint: A });
    // A third request while the take-over runs waits.
    assert.deepEqual(await keys.claim('k', 'pay 10 EUR', 'fresh-3', NOW + 2), { go: false, decision: { kind: 'in-progress', id: 'fresh-1' } });
  });

  test('a claim that outlived the request deadline without an end is taken over', async () => {
    const { keys } = setup();
    await keys.claim('k', 'pay 10 EUR', 'fresh-1', NOW);
    assert.deepEqual(await keys.claim('k', 'pay 10 EUR', 'fresh-2', NOW + IN_PROGRESS_MS), { go: true, id: 'fresh-1' });
  });

  test('a key is forgotten after its TTL: the same key is new again', async () => {
    const { keys } = setup(50);
    await keys.claim('k', 'pay 10 EUR', 'fresh-1');
    await keys.done('k', 'fresh-1', 'pay 10 EUR');
    const again = await eventually(async () => {
      const c = await keys.claim('k', 'pay 10 EUR', 'fresh-2');
      return c.go ? c : undefined;
    }, 5000);
    assert.deepEqual(again, { go: true, id: 'fresh-2' });
  });

  test('an engine failure rejects the claim and the done mark as EngineUnavailableError; failed() never throws', async () => {
    const { engine, keys } = setup();
    engine.down = true;
    await assert.rejects(keys.claim('k', 'pay 10 EUR', 'fresh-1'), (e) => isEngineUnavailable(e));
    await assert.rejects(keys.done('k', 'fresh-1', 'pay 10 EUR'), (e) => isEngineUnavailable(e));
    await keys.failed('k', 'fresh-1', 'pay 10 EUR');
  });
});
