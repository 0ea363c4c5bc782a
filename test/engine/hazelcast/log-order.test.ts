import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tsOf } from '../../../src/engine/hazelcast/log-order.js';

describe('tsOf: an entry\'s ts read from its JSON text', () => {
  const tricky = ['"ts":5', '\\"ts\\":7,', 'ts', '"', '\\', '\\"', '"ts":', '}', ',', 'cats', '{"ts":1}', 'żółw ✓ 🐢', '\u2028'];
  it('agrees with JSON.parse for messages that try to look like the key', () => {
    let n = 0;
    for (const msg of tricky) {
      for (const ts of [0, 1, 1764310000123.457, -5, 1e21, 1764310000.1239]) {
        const text = JSON.stringify({ id: `id-${n++}`, msg, loggedBy: 'logging-1', loggedAt: '2026-11-28T07:00:00.000Z', ts, correlationId: msg });
        assert.equal(tsOf(text), (JSON.parse(text) as { ts: number }).ts, text);
      }
    }
  });

  it('also when ts is the last key or the fields come in another order', () => {
    assert.equal(tsOf('{"ts":42.5}'), 42.5);
    assert.equal(tsOf('{"msg":"\\"ts\\":1","ts":3,"id":"a"}'), 3);
  });

  it('falls back to a full parse when the text has no number there', () => {
    assert.equal(tsOf('{"id":"a","ts":null}'), null, 'what the stored entry says, as JSON.parse reads it');
    assert.equal(tsOf('{ "id": "a", "ts" : 9 }'), 9);
  });
});
