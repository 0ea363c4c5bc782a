/**
 * Lab 4: the consumers are stopped, 100 messages are sent, the queue's owner
 * member (Hazelcast) or the broker leading the most partitions (Kafka) is
 * killed, the consumers are started again. Verdict: how many of the 100 were
 * received, duplicates per store, and how long the consumers took to drain
 * them. Only this run's 100 count.
 */
import type { ScenarioVerdict } from '../contracts/console.js';
import type { LabActions } from './actions.js';
import { delivery, perInstanceText, type Delivery } from './delivery.js';
import { fullStrength } from './full-strength.js';
import { pool, runTag, secs, until, type Steps } from './runner.js';

export interface LabFourResult {
  verdict: ScenarioVerdict;
  /** The 100 ids the facade accepted (fewer if some were refused). */
  ids: string[];
  /** HTTP status → how many of the 100 POSTs got it. */
  statuses: Record<string, number>;
  depthBefore: number | null;
  depthAfterKill: number | null;
  /** What was killed: member-N or broker-N. */
  victim: string;
  drainMs: number;
  delivery: Delivery;
}

export const LAB4_COUNT = 100;

export async function lab4(a: LabActions, steps: Steps, count = LAB4_COUNT): Promise<LabFourResult> {
  if (!a.members && !a.brokers) throw new Error('lab 4 kills a Hazelcast member or a Kafka broker: run npm start with --engine hazelcast or --queue kafka (local brokers)');
  await fullStrength(a, steps);
  const consumers = a.instances('messages');
  await steps.run(`stop the consumers (${consumers.join(', ')})`, async () => {
    for (const name of consumers) await a.stop(name);
    return 'both down: nothing takes from the queue';
  });
  const tag = `lab4-${runTag()}`;
  const sent = await steps.run(`send ${count} messages (${tag}-0 … ${tag}-${count - 1})`, () =>
    pool(count, 8, (i) => a.send(`${tag}-${i}`)),
  (r) => {
    const ok = r.filter((x) => x.id).length;
    return `${ok}/${count} accepted`;
  });
  const statuses: Record<string, number> = {};
  for (const r of sent) statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1;
  const ids = sent.flatMap((r) => (r.id ? [r.id] : []));
  const depthBefore = await a.queueDepth();

  let victim: string;
  // With the queue on Kafka the queue lives in the brokers, whatever holds the log.
  if (a.brokers) {
    const b = a.brokers;
    const busiest = await steps.run('find the broker leading the most partitions', async () => {
      const leaders = await b.leaders();
      const leads = new Map<number, number>();
      for (const l of leaders) if (l >= 0) leads.set(l, (leads.get(l) ?? 0) + 1);
      const top = [...leads].sort((x, y) => y[1] - x[1])[0];
      if (!top) throw new Error('no partition has a leader');
      return { index: top[0], leads: top[1], of: leaders.length };
    }, (v) => `broker-${v.index + 1} leads ${v.leads} of ${v.of} partitions`);
    victim = `broker-${busiest.index + 1}`;
    await steps.run(`kill -9 ${victim}`, async () => {
      await b.kill(busiest.index);
      return 'its partitions get new leaders once it is fenced';
    });
  } else {
    const m = a.members!;
    await steps.run('wait until the cluster is safe (every backup in sync)', async () => {
      await m.waitForSafe();
      return 'safe: one crash loses nothing';
    });
    const owner = await steps.run('find the member owning the queue', () =>
      // Read twice, 300 ms apart: a migration may still be moving it.
      until('a settled queue owner', async () => {
        const first = await m.queueOwner();
        await new Promise((r) => setTimeout(r, 300));
        return first !== undefined && first === (await m.queueOwner()) ? first : undefined;
      }, 30_000),
    (i) => `member-${i + 1} owns it (queue depth ${depthBefore ?? '?'})`);
    victim = `member-${owner + 1}`;
    await steps.run(`kill -9 ${victim}`, async () => {
      await m.kill(owner, 'SIGKILL');
      await m.waitForSize(m.count - 1);
      return `${m.count - 1} members left; its backup takes over`;
    });
  }
  const depthAfterKill = await a.queueDepth();

  const t0 = Date.now();
  await steps.run(`start the consumers (${consumers.join(', ')})`, async () => {
    await Promise.all(consumers.map((name) => a.start(name)));
    return 'both ready';
  });
  // Items a promoted backup lacked come back through the delivery ledger after the queue lease (20 s) and two scans.
  await steps.run(`wait until the ${ids.length} are received`, () =>
    until(`the ${ids.length} messages received`, async () => {
      const d = delivery(await a.stores(), ids);
      return d.missing.length === 0 ? d : undefined;
    }, 90_000, 250).catch(async () => delivery(await a.stores(), ids)),
  (d) => `${ids.length - d.missing.length}/${ids.length} after ${secs(Date.now() - t0)}`);
  const drainMs = Date.now() - t0;
  const d = await steps.run('look for late duplicates (1 s)', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    return delivery(await a.stores(), ids);
  }, (x) => `duplicates: ${perInstanceText(x.duplicatesPerStore)}; in both stores ${x.inTwo.length}`);

  const received = ids.length - d.missing.length;
  const dupText = [...d.duplicatesPerStore].map(([n, c]) => `${n} ${c}`).join(', ');
  // Kafka delivers at least once across a rebalance: when the two consumers join one after the other, the first
  // may have read (and stored) items of a partition that then moves, and the second reads them again from the
  // committed offset. Each store still holds each once. On Hazelcast an item in both stores means a lease ran
  // out while its consumer was still at work: not expected in this scenario.
  const inTwoExpected = a.brokers !== undefined;
  const verdict: ScenarioVerdict = {
    ok: received === count && d.twiceInOne.length === 0 && (inTwoExpected || d.inTwo.length === 0),
    summary: `${received}/${count} received, duplicates per store: ${dupText || 'none'}${d.inTwo.length ? `, ${d.inTwo.length} in both stores` : ''}, time to drain ${secs(drainMs)}`,
    lines: [
      `killed ${victim} with ${depthBefore ?? '?'} item(s) on the queue (depth after the kill: ${depthAfterKill ?? '?'})`,
      `received per instance: ${perInstanceText(d.perInstance)}`,
      ...(d.inTwo.length && inTwoExpected
        ? [`${d.inTwo.length} in both stores: Kafka delivers at least once across a rebalance (a partition moved from one consumer to the other while they joined); no store holds one twice`]
        : []),
      ...(d.missing.length ? [`missing: ${d.missing.length}`] : []),
      ...(count - ids.length ? [`refused by the facade: ${count - ids.length} (${JSON.stringify(statuses)})`] : []),
    ],
  };
  return { verdict, ids, statuses, depthBefore, depthAfterKill, victim, drainMs, delivery: d };
}
