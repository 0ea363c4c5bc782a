import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { excerpt, quotedExcerpt } from '../../src/lib/excerpt.js';

describe('excerpt', () => {
  test('short text is kept whole', () => {
    assert.equal(excerpt('abc', 3), 'abc');
    assert.equal(quotedExcerpt('a"b', 3), '"a\\"b"');
  });

  test('long text is cut and says how long it was', () => {
    assert.equal(excerpt('abcdef', 3), 'abc… (6 characters)');
    assert.equal(quotedExcerpt('k'.repeat(10_000), 4), '"kkkk"… (10000 characters)');
  });

  test('a surrogate pair is not cut in half', () => {
    const cut = excerpt('ab🚀cd', 3);
    assert.equal(cut, 'ab… (6 characters)');
  });
});
