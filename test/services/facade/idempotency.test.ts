import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, fingerprintOf, type IdempotencyRecord } from '../../../src/services/facade/idempotency.js';

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
