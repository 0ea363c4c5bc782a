import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { correlationIdOf, correlationIdProblem } from '../../src/shared/correlation-id.js';

describe('correlation id at the door', () => {
  test('short and plain ids are taken as they are', () => {
    for (const id of ['a', '4bf92f3577b34da6a3ce929d0e0e4736', '00-4bf92f35-01', 'order_42.retry:1', 'x'.repeat(128)]) {
      assert.equal(correlationIdProblem(id), undefined, id);
      assert.equal(correlationIdOf(id), id);
    }
  });

  test('absent: no problem, a fresh UUID', () => {
    assert.equal(correlationIdProblem(undefined), undefined);
    assert.match(correlationIdOf(undefined), /^[0-9a-f-]{36}$/);
  });

  for (const [sent, why] of [
    ['x'.repeat(129), /longer than 128/],
    ['', /empty/],
    ['has space', /characters other than/],
    ['<script>', /characters other than/],
    ['tab\there', /characters other than/],
    ['ünïcode', /characters other than/],
    ['a, b', /characters other than/],
    [['a', 'b'], /more than once/],
  ] as const) {
    test(`${JSON.stringify(sent).slice(0, 30)} is replaced (${why.source})`, () => {
      assert.match(correlationIdProblem(sent as string | string[]) ?? '', why);
      const fresh = correlationIdOf(sent as string | string[]);
      assert.match(fresh, /^[0-9a-f-]{36}$/);
    });
  }
});
