import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { KafkaCluster } from '../../src/engine/kafka/cluster.js';
import { postJson, startTestTopology, storesOf, until, type Entry, type TestTopology } from '../helpers/cluster-env.js';
import { kafkaSkip } from '../helpers/kafka-gate.js';
import { checkTracedMessage } from '../helpers/trace-check.js';
import { lab4, type LabFourResult } from '../../src/scenarios/lab4.js';
import { linesReport, Steps } from '../../src/scenarios/runner.js';
import { topologyActions } from '../../src/scenarios/topology-actions.js';

/**
 * Lab 4 with the queue on Kafka: 3 real brokers (KRaft, RF 3, min ISR 2),
 * the facade, 3 logging and 2 messages instances as real processes. The log
 * stays on the embedded engine (SQLite): only the facade → messages queue
 * moves to Kafka, which is what this lab is about, and Hazelcast members
 * would add their own start time to CI's. One cluster for the whole file;
 * each test first brings everything back and looks only at its own ids.
 */
const skip = await kafkaSkip();
const runId = randomUUID().slice(0, 8);
const REGISTRY_TTL_MS = 1500;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;


/** Per store: how many of the ids it holds, and the ids it holds more than once. */
function tally(stores: Map<string, Entry[]>, ids: string[]) {
  const wanted = new Set(ids);
  const holders = new Map<string, number>();
  const perInstance = new Map<string, number>();
  const twiceInOne: string[] = [];
  for (const [name, entries] of stores) {
    const mine = entries.filter((e) => wanted.has(e.id)).map((e) => e.id);
    perInstance.set(name, mine.length);
    twiceInOne.push(...mine.filter((id, i) => mine.indexOf(id) !== i));
    for (const id of new Set(mine)) holders.set(id, (holders.get(id) ?? 0) + 1);
  }
  return { perInstance, missing: ids.filter((id) => !holders.has(id)), inTwo: ids.filter((id) => (holders.get(id) ?? 0) > 1), twiceInOne };
}

describe('Lab 4 on Kafka (3 real brokers, real service processes, log on the embedded engine)', { skip }, () => {
  let t: TestTopology;
  let kafka: KafkaCluster;

  before(async () => {
    const t0 = Date.now();
    t = await startTestTopology({
      engine: 'embedded',
      queue: 'kafka',
      brokers: 3,
      logging: 3,
      messages: 2,
      extraArgs: ['--registry-ttl-ms', String(REGISTRY_TTL_MS)],
      serviceArgs: { facade: ['--registry-refresh-ms', '200'], messages: ['--poll-timeout-ms', '300'] },
    });
    kafka = t.topo.kafka!;
    console.log(`kafka lab topology up in ${secs(Date.now() - t0)}: brokers ${kafka.bootstrap.join(', ')}; facade ${t.facade}`);
  });

  after(async () => {
    await t?.close();
  });

  /** Every broker and every service running again, every partition with its full ISR. */
  async function fullStrength(): Promise<void> {
    for (let i = 0; i < kafka.bootstrap.length; i++) await kafka.startBroker(i);
    await kafka.waitForFullIsr();
    for (const p of t.topo.procs.values()) await t.topo.startProc(p.name);
  }

  const messagesProcs = () => t.topo.byService('messages');

  async function send(n: number, tag: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await postJson(`${t.facade}/messages`, { msg: `${tag}-${runId}-${i}` });
      assert.equal(r.status, 201, `POST ${i} → ${r.status} ${JSON.stringify(r.body)}`);
      ids.push(r.body.id);
    }
    return ids;
  }

  it('both messages instances share the topic: each consumes part, none holds one twice', async () => {
    await fullStrength();
    const ids = await send(60, 'share');
    const stores = await until('60 messages consumed', async () => {
      const s = await storesOf(messagesProcs());
      return tally(s, ids).missing.length === 0 ? s : undefined;
    }, 60_000, 200);
    const d = tally(stores, ids);
    console.log(`shared consumption: ${[...d.perInstance].map(([n, c]) => `${n} ${c}`).join(', ')}; in both ${d.inTwo.length}`);
    assert.deepEqual(d.twiceInOne, [], 'ids held twice by one instance');
    for (const [name, c] of d.perInstance) assert.ok(c > 0, `${name} consumed none: the group did not split the partitions`);
  });

  it('a traced POST: one trace across the facade, a logging instance and a messages instance, the item read from a partition and offset', async () => {
    await fullStrength();
    const { trace, receive, acked } = await checkTracedMessage(t.facade, `traced-${runId}`);
    const from = String(receive.attributes['hazel.from']);
    console.log(`trace ${trace.traceIds[0]}: ${trace.spans.map((s) => `${s.instance} ${s.name}`).join(' → ')}; read from ${from}; ack ${acked.end - acked.start} ms`);
    assert.match(from, /^partition \d+, offset \d+$/);
    // The ack answers once the group's offset commit covers it (on a timer): the span says so, so its length is explained.
    assert.match(String(acked.attributes['hazel.ack_waits_for']), /^the group's offset commit \(made every 200 ms/);
  });

  it('consumers down, 100 sent, the busiest leader killed, consumers back: all 100 received; the broker rejoins the ISR', async () => {
    // The scenario the dashboard's lab 4 button and `npm run lab -- lab4` run.
    const report: string[] = ['lab 4 on Kafka (src/scenarios/lab4.ts)'];
    let r: LabFourResult;
    try {
      r = await lab4(topologyActions(t.topo), new Steps(linesReport((l) => report.push(l), '  ')));
    } finally {
      console.log(report.join('\n'));
    }
    console.log(`verdict: ${r.verdict.summary}; in both instances ${r.delivery.inTwo.length} (at-least-once allows it across a rebalance)`);
    assert.deepEqual(r.statuses, { 201: 100 });
    const m = /^broker-(\d+)$/.exec(r.victim);
    assert.ok(m, `a broker was killed (${r.victim})`);
    const leader = Number(m[1]);
    const victim = kafka.indexOfNode(leader);
    assert.ok(victim >= 0 && !kafka.broker(victim).running, `broker-${leader} is down`);
    // Checked again against the stores as the services hold them.
    const d = tally(await storesOf(messagesProcs()), r.ids);
    assert.deepEqual(d.missing, []);
    assert.deepEqual(d.twiceInOne, [], 'no store holds a message twice');
    const afterKill = await kafka.partitions();
    assert.ok(afterKill.every((p) => p.leader !== leader && p.leader >= 0), `every partition has a live leader: ${JSON.stringify(afterKill)}`);

    const t1 = Date.now();
    await kafka.startBroker(victim); // resolves once it is back in every ISR
    const rejoined = await kafka.partitions();
    console.log(`broker-${leader} restarted and back in every ISR after ${secs(Date.now() - t1)}`);
    for (const p of rejoined) assert.ok(p.isr.includes(leader), `partition ${p.partition}: isr ${p.isr.join(',')} lacks broker ${leader}`);
  });
});
