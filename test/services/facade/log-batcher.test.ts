import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogBatcher, type LogRequest } from '../../../src/services/facade/log-batcher.js';

class Permanent extends Error {}

/** A batcher whose calls are recorded; `fail` decides how a call goes. */
function recorder(fail: (kind: 'one' | 'many', rs: LogRequest[]) => Error | undefined = () => undefined, limits = { maxEntries: 5, maxBytes: 10_000 }) {
  const calls: Array<{ kind: 'one' | 'many'; ids: string[] }> = [];
  const b = new LogBatcher<string>({
    one: async (r) => {
      calls.push({ kind: 'one', ids: [r.id] });
      const err = fail('one', [r]);
      if (err) throw err;
      return `one:${r.id}`;
    },
    many: async (rs) => {
      calls.push({ kind: 'many', ids: rs.map((r) => r.id) });
      const err = fail('many', rs);
      if (err) throw err;
      return rs.map((r) => `many:${r.id}`);
    },
    isPermanent: (e) => e instanceof Permanent,
    ...limits,
  });
  const req = (id: string, msg = 'x'): LogRequest => ({ id, msg, correlationId: `c-${id}` });
  return { b, calls, req };
}

describe('LogBatcher', () => {
  it('a message alone goes on its own', async () => {
    const { b, calls, req } = recorder();
    assert.equal(await b.send(req('a')), 'one:a');
    assert.deepEqual(calls, [{ kind: 'one', ids: ['a'] }]);
  });

  it('messages sent in one turn go in one call, in order, each with its own result', async () => {
    const { b, calls, req } = recorder();
    const got = await Promise.all(['a', 'b', 'c'].map((id) => b.send(req(id))));
    assert.deepEqual(got, ['many:a', 'many:b', 'many:c']);
    assert.deepEqual(calls, [{ kind: 'many', ids: ['a', 'b', 'c'] }]);
  });

  it('batches hold at most maxEntries messages and maxBytes bytes; a larger message goes alone', async () => {
    const { b, calls, req } = recorder(undefined, { maxEntries: 3, maxBytes: 200 });
    const ids = ['1', '2', '3', '4', '5', '6', '7'];
    const got = await Promise.all([...ids.map((id) => b.send(req(id))), b.send(req('big', 'y'.repeat(500)))]);
    assert.equal(got.length, 8);
    assert.deepEqual(calls.filter((c) => c.kind === 'many').map((c) => c.ids), [['1', '2', '3'], ['4', '5', '6']]);
    assert.deepEqual(calls.filter((c) => c.kind === 'one').map((c) => c.ids[0]).sort(), ['7', 'big']);
    const calls2 = recorder(undefined, { maxEntries: 100, maxBytes: 200 });
    await Promise.all(['a', 'b', 'c', 'd'].map((id) => calls2.b.send(calls2.req(id, 'z'.repeat(60)))));
    assert.ok(calls2.calls.every((c) => c.ids.length <= 1 || c.ids.length * (60 + 48 + 1 + 3) <= 200), JSON.stringify(calls2.calls));
    assert.deepEqual(calls2.calls.flatMap((c) => c.ids), ['a', 'b', 'c', 'd']);
  });

  it('a batch refused as a bad request is sent again one by one: only the bad message fails', async () => {
    const { b, calls, req } = recorder((_kind, rs) => (rs.some((r) => r.id === 'bad') ? new Permanent('400') : undefined));
    const got = await Promise.allSettled(['a', 'bad', 'c'].map((id) => b.send(req(id))));
    assert.deepEqual(got.map((g) => g.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(calls.map((c) => c.kind), ['many', 'one', 'one', 'one']);
    assert.ok((got[1] as PromiseRejectedResult).reason instanceof Permanent);
  });

  it('any other failure fails every message of the batch with it, and nothing is sent again', async () => {
    const boom = new Error('no logging instance could store it');
    const { b, calls, req } = recorder(() => boom);
    const got = await Promise.allSettled(['a', 'b'].map((id) => b.send(req(id))));
    assert.deepEqual(got.map((g) => (g as PromiseRejectedResult).reason), [boom, boom]);
    assert.equal(calls.length, 1);
  });
});
