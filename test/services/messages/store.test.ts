import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConsumedStore, type ConsumedEntry } from '../../../src/services/messages/store.js';

const dir = mkdtempSync(join(tmpdir(), 'messages-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const entry = (id: string, msg = `msg ${id}`, consumedBy = 'messages-1'): ConsumedEntry => ({ id, msg, consumedBy, consumedAt: new Date().toISOString() });

describe('ConsumedStore', () => {
  for (const kind of [':memory:', 'file'] as const) {
    test(`${kind}: dedups on id and keeps consumption order`, (t) => {
      const store = new ConsumedStore(kind === 'file' ? join(dir, `order-${randomUUID()}.db`) : ':memory:');
      t.after(() => store.close());
      assert.equal(store.count(), 0);
      assert.deepEqual(store.list(), []);
      assert.equal(store.add(entry('c', 'third?')), true);
      assert.equal(store.add(entry('a', 'first?')), true);
      assert.equal(store.add(entry('c', 'changed')), false, 'a repeated id is not new');
      assert.equal(store.add(entry('b')), true);
      assert.equal(store.count(), 3);
      const list = store.list();
      assert.deepEqual(
        list.map((e) => e.id),
        ['c', 'a', 'b'],
      );
      assert.equal(list[0]?.msg, 'third?', 'the first copy is kept');
      assert.equal(list[0]?.consumedBy, 'messages-1');
    });
  }

  test('keeps every field, including optional ones and Unicode', (t) => {
    const store = new ConsumedStore(':memory:');
    t.after(() => store.close());
    const e: ConsumedEntry = { id: 'u', msg: 'Ї 🚀 <b>', consumedBy: 'm-2', consumedAt: '2024-01-01T00:00:00.000Z', enqueuedAt: '2023-12-31T23:59:59.000Z', correlationId: 'corr' };
    store.add(e);
    assert.deepEqual(store.list(), [e]);
  });

  test('a file store survives reopening (entries, order, dedup)', () => {
    const file = join(dir, 'nested', `reopen-${randomUUID()}.db`);
    const first = new ConsumedStore(file);
    first.add(entry('x1'));
    first.add(entry('x2'));
    first.close();
    first.close(); // safe twice

    const second = new ConsumedStore(file);
    try {
      assert.equal(second.count(), 2);
      assert.equal(second.add(entry('x1', 'again')), false, 'ids from before the restart still dedup');
      assert.equal(second.add(entry('x3')), true);
      assert.deepEqual(
        second.list().map((e) => e.id),
        ['x1', 'x2', 'x3'],
      );
      assert.equal(second.list()[0]?.msg, 'msg x1');
      assert.equal(second.count(), 3, 'the count kept across the restart and the adds');
    } finally {
      second.close();
    }
  });

  test('newestJson answers the newest entries, newest first; count follows addMany, duplicates left out', (t) => {
    const store = new ConsumedStore(':memory:');
    t.after(() => store.close());
    assert.deepEqual(JSON.parse(store.newestJson(3)), []);
    assert.deepEqual(store.addMany([entry('a'), entry('b'), entry('a'), entry('c')]), [true, true, false, true]);
    store.add(entry('d'));
    assert.equal(store.count(), 4);
    assert.deepEqual(
      (JSON.parse(store.newestJson(2)) as ConsumedEntry[]).map((e) => e.id),
      ['d', 'c'],
    );
    assert.equal((JSON.parse(store.newestJson(100)) as ConsumedEntry[]).length, 4);
    assert.throws(() => store.newestJson(0), RangeError);
  });

  test(':memory: stores are separate from each other', (t) => {
    const a = new ConsumedStore(':memory:');
    const b = new ConsumedStore(':memory:');
    t.after(() => (a.close(), b.close()));
    a.add(entry('only-a'));
    assert.equal(b.count(), 0);
  });
});
