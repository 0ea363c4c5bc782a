import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { BrokerActions, LabActions, MemberActions, StoredEntry } from '../../src/scenarios/actions.js';
import { lab4 } from '../../src/scenarios/lab4.js';
import { silentReport, Steps } from '../../src/scenarios/runner.js';

/**
 * A lab whose consumers hold every message sent (alternately), `inBoth`
 * of them in both stores and `twice` of them twice in the first store.
 */
function fakeLab(o: { queue: 'hazelcast' | 'kafka'; inBoth?: number; twice?: number }): LabActions {
  const sent: string[] = [];
  const running = new Set(['messages-1', 'messages-2', 'logging-1']);
  const members: MemberActions = {
    count: 3,
    running: () => true,
    kill: async () => {},
    start: async () => {},
    waitForSize: async () => {},
    waitForSafe: async () => {},
    queueOwner: async () => 1,
  };
  const brokers: BrokerActions = {
    count: 3,
    running: () => true,
    kill: async () => {},
    start: async () => {},
    waitForFullIsr: async () => {},
    leaders: async () => [0, 1, 1, 2, 1, 0],
  };
  return {
    send: async () => {
      const id = randomUUID();
      sent.push(id);
      return { status: 201, id };
    },
    instances: (s) => (s === 'messages' ? ['messages-1', 'messages-2'] : ['logging-1']),
    isRunning: (n) => running.has(n),
    stop: async (n) => void running.delete(n),
    kill: async (n) => void running.delete(n),
    start: async (n) => void running.add(n),
    stores: async () => {
      const one: StoredEntry[] = [];
      const two: StoredEntry[] = [];
      if (!running.has('messages-1')) return new Map();
      const kept = sent;
      kept.forEach((id, i) => (i % 2 ? two : one).push({ id }));
      for (const id of kept.slice(0, o.inBoth ?? 0)) (one.some((e) => e.id === id) ? two : one).push({ id });
      for (const id of kept.slice(0, o.twice ?? 0)) one.push({ id });
      return new Map([
        ['messages-1', one],
        ['messages-2', two],
      ]);
    },
    loggedBy: async () => new Map(),
    writeLog: async () => 201,
    readLog: async () => [],
    queueDepth: async () => sent.length,
    ...(o.queue === 'kafka' ? { brokers } : { members }),
  };
}

describe('lab 4 verdict', () => {
  test('all 100 received, each once: OK, on either queue', async () => {
    for (const queue of ['hazelcast', 'kafka'] as const) {
      const r = await lab4(fakeLab({ queue }), new Steps(silentReport));
      assert.equal(r.verdict.ok, true, `${queue}: ${r.verdict.summary}`);
      assert.match(r.verdict.summary, /^100\/100 received, duplicates per store: messages-1 0, messages-2 0, time to drain/);
      assert.equal(r.victim, queue === 'kafka' ? 'broker-2' : 'member-2', 'the busiest leader, or the queue owner');
    }
  });

  test('on Kafka, messages in both stores (a rebalance) are said and explained, and the verdict stays OK', async () => {
    const r = await lab4(fakeLab({ queue: 'kafka', inBoth: 7 }), new Steps(silentReport));
    assert.equal(r.verdict.ok, true, r.verdict.summary);
    assert.match(r.verdict.summary, /, 7 in both stores,/);
    assert.ok(r.verdict.lines?.some((l) => /^7 in both stores: Kafka delivers at least once across a rebalance/.test(l)), JSON.stringify(r.verdict.lines));
  });

  test('on Hazelcast, messages in both stores fail the verdict', async () => {
    const r = await lab4(fakeLab({ queue: 'hazelcast', inBoth: 3 }), new Steps(silentReport));
    assert.equal(r.verdict.ok, false);
    assert.match(r.verdict.summary, /, 3 in both stores,/);
  });

  test('a message held twice by one store fails the verdict on either queue', async () => {
    for (const queue of ['hazelcast', 'kafka'] as const) {
      const r = await lab4(fakeLab({ queue, twice: 1 }), new Steps(silentReport));
      assert.equal(r.verdict.ok, false, queue);
      assert.match(r.verdict.summary, /duplicates per store: messages-1 1/);
    }
  });
});
