import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isNoInstanceError, PermanentCallError } from '../../../src/lib/errors.js';
import { InstanceCaller, type ResilienceOptions } from '../../../src/services/facade/resilience.js';
import type { InstanceRecord } from '../../../src/shared/registry.js';
import { eventually } from '../../helpers/fakes.js';

const rec = (instance: string): InstanceRecord => ({
  service: 'logging',
  instance,
  url: `http://${instance}.test`,
  pid: 1,
  startedAt: new Date().toISOString(),
  heartbeatAt: new Date().toISOString(),
  ttlMs: 0,
});

/** Generous timeouts: a loaded machine must not turn a slow answer into a failure here. */
function caller(o: Partial<ResilienceOptions> = {}): InstanceCaller {
  return new InstanceCaller({ attemptTimeoutMs: 2000, deadlineMs: 10_000, breakerThreshold: 3, breakerHalfOpenMs: 60_000, ...o });
}

/** An op that records which instance each attempt went to, failing for the named ones. */
function recording(failing: Set<string>, error: () => Error = () => new Error('connect ECONNREFUSED')) {
  const tried: string[] = [];
  const op = async (i: InstanceRecord) => {
    tried.push(i.instance);
    if (failing.has(i.instance)) throw error();
    return `answer from ${i.instance}`;
  };
  return { tried, op };
}

describe('InstanceCaller: failover', () => {
  test('a failing instance is failed over: every call answers from a healthy one, and the failure is in the attempt log', async () => {
    const c = caller({ breakerThreshold: 1000 });
    const [a, b, d] = [rec('a'), rec('b'), rec('c')];
    const { tried, op } = recording(new Set(['b']));
    let sawFailover = false;
    for (let i = 0; i < 30; i++) {
      const out = await c.call([a, b, d], op);
      assert.notEqual(out.instance.instance, 'b');
      assert.equal(out.value, `answer from ${out.instance.instance}`);
      assert.equal(out.attempts.at(-1)?.ok, true);
      const failed = out.attempts.filter((x) => !x.ok);
      for (const f of failed) assert.deepEqual([f.instance, f.error], ['b', 'connect ECONNREFUSED']);
      if (failed.length > 0) sawFailover = true;
    }
    assert.ok(sawFailover, 'in 30 calls in random order, b was tried first at least once');
    assert.ok(new Set(tried).size === 3, `all three instances were tried (${[...new Set(tried)].join(', ')})`);
  });

  test('every instance failing: the call rejects after two rounds over them', async () => {
    const c = caller({ breakerThreshold: 1000 });
    const { tried, op } = recording(new Set(['a', 'b', 'c']));
    await assert.rejects(c.call([rec('a'), rec('b'), rec('c')], op), /ECONNREFUSED/);
    assert.equal(tried.length, 6);
    for (const name of ['a', 'b', 'c']) assert.equal(tried.filter((x) => x === name).length, 2, `${name} tried twice`);
  });

  test('rounds: 1 tries each instance once', async () => {
    const c = caller({ breakerThreshold: 1000 });
    const { tried, op } = recording(new Set(['a', 'b']));
    await assert.rejects(c.call([rec('a'), rec('b')], op, { rounds: 1 }));
    assert.deepEqual([...tried].sort(), ['a', 'b']);
  });

  test('no instance → NoInstanceError, and nothing is called', async () => {
    const c = caller();
    const { tried, op } = recording(new Set());
    await assert.rejects(c.call([], op), (e) => isNoInstanceError(e));
    assert.deepEqual(tried, []);
  });

  test('an attempt that hangs is cut by the attempt timeout (its signal aborts) and the call fails over', async () => {
    const c = caller({ attemptTimeoutMs: 100, breakerThreshold: 1000 });
    const aborted: string[] = [];
    const op = (i: InstanceRecord, signal: AbortSignal) =>
      i.instance === 'slow'
        ? new Promise<string>((_res, rej) => signal.addEventListener('abort', () => (aborted.push(i.instance), rej(new Error('aborted'))), { once: true }))
        : Promise.resolve('fast');
    let cut = false;
    for (let i = 0; i < 20 && !cut; i++) {
      const out = await c.call([rec('slow'), rec('fast')], op);
      assert.equal(out.value, 'fast');
      cut = out.attempts.some((x) => x.instance === 'slow' && !x.ok);
    }
    assert.ok(cut, 'the slow instance was tried first at least once in 20 calls');
    assert.ok(await eventually(() => aborted.length > 0), "the hanging attempt's signal was aborted");
  });
});

describe('InstanceCaller: circuit breaker per instance', () => {
  test('opens after the threshold of consecutive failures; an open breaker is not called', async () => {
    const c = caller({ breakerThreshold: 3 });
    const a = rec('a');
    const { tried, op } = recording(new Set(['a']));
    for (let i = 1; i <= 3; i++) {
      assert.equal(c.breakerState(a), 'closed', `closed before failure ${i}`);
      await assert.rejects(c.call([a], op, { rounds: 1 }));
    }
    assert.equal(c.breakerState(a), 'open');
    assert.equal(tried.length, 3);
    await assert.rejects(c.call([a], op, { rounds: 1 }), /circuit breaker is open/);
    assert.equal(tried.length, 3, 'the open breaker kept the call from the instance');
  });

  test('a success resets the count: failures must be consecutive', async () => {
    const c = caller({ breakerThreshold: 3 });
    const a = rec('a');
    const failing = new Set(['a']);
    const { op } = recording(failing);
    for (let round = 0; round < 3; round++) {
      failing.add('a');
      await assert.rejects(c.call([a], op, { rounds: 1 }));
      await assert.rejects(c.call([a], op, { rounds: 1 }));
      failing.delete('a');
      await c.call([a], op, { rounds: 1 });
    }
    assert.equal(c.breakerState(a), 'closed');
  });

  test('an instance with an open breaker goes last while others answer', async () => {
    const c = caller({ breakerThreshold: 1 });
    const [a, b] = [rec('a'), rec('b')];
    const failing = new Set(['a']);
    const { tried, op } = recording(failing);
    await assert.rejects(c.call([a], op, { rounds: 1 }));
    assert.equal(c.breakerState(a), 'open');
    failing.delete('a');
    tried.length = 0;
    for (let i = 0; i < 10; i++) assert.equal((await c.call([a, b], op)).instance.instance, 'b');
    assert.deepEqual(new Set(tried), new Set(['b']), 'a was not called');
  });

  test('after the half-open time one trial call goes through: a success closes the breaker, a failure opens it again', async () => {
    const c = caller({ breakerThreshold: 1, breakerHalfOpenMs: 100 });
    const a = rec('a');
    const failing = new Set(['a']);
    const { tried, op } = recording(failing);
    await assert.rejects(c.call([a], op, { rounds: 1 }));
    assert.equal(c.breakerState(a), 'open');

    // Failing trial: called once, open again.
    const before = tried.length;
    assert.ok(
      await eventually(async () => {
        await c.call([a], op, { rounds: 1 }).catch(() => undefined);
        return tried.length > before;
      }, 5000),
      'a trial call reached the instance once the half-open time passed',
    );
    assert.equal(tried.length, before + 1, 'one trial call');
    assert.equal(c.breakerState(a), 'open');

    // Healed: the next trial closes it.
    failing.delete('a');
    const ok = await eventually(async () => c.call([a], op, { rounds: 1 }).catch(() => undefined), 5000);
    assert.equal(ok?.value, 'answer from a');
    assert.equal(c.breakerState(a), 'closed');
  });
});

describe('InstanceCaller: permanent errors', () => {
  test('a PermanentCallError (a 400/413 about the request) is not retried elsewhere and never opens a breaker', async () => {
    const c = caller({ breakerThreshold: 2 });
    const [a, b] = [rec('a'), rec('b')];
    const { tried, op } = recording(new Set(['a', 'b']), () => new PermanentCallError('a answered 400', 400, { message: 'bad' }));
    for (let i = 0; i < 5; i++) {
      await assert.rejects(c.call([a, b], op), (e) => e instanceof PermanentCallError && e.status === 400);
      assert.equal(tried.length, i + 1, 'exactly one attempt per call');
    }
    assert.equal(c.breakerState(a), 'closed');
    assert.equal(c.breakerState(b), 'closed');
  });

  test('retries are reported through onRetry, by service', async () => {
    const c = caller({ breakerThreshold: 1000 });
    const retried: string[] = [];
    c.onRetry = (service) => retried.push(service);
    const { op } = recording(new Set(['a', 'b']));
    await assert.rejects(c.call([rec('a'), rec('b')], op));
    assert.deepEqual(retried, ['logging', 'logging', 'logging']);
  });
});
