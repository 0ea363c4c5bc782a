/**
 * The Kafka queue's levers, one at a time, on one local 3-broker cluster:
 * `node --import tsx bench/kafka-levers.ts [--seconds 10] [--concurrency 64] [--receive 32] [--reverse 1] [--by-key 1]`
 * (run under the shared JVM lock). For each variant, `concurrency` offer
 * loops and one consumer (receive → ack) in this process for `seconds`:
 * messages/s, offer p50/p99, and CPU per message of this process and of the
 * brokers. Variants: every lever on; then each of the one partition per
 * send (the default), the commit timer and the depth check off the offer
 * path (both measured no better, so not the default) turned back to the
 * old behaviour. `--in-flight 1`: the defaults with 1, 2, 3 and 6 sends in
 * flight.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaCluster } from '../src/engine/kafka/cluster.js';
import { KafkaQueue, type KafkaQueueOptions } from '../src/engine/kafka/kafka-queue.js';
import { findFreePorts } from '../src/lib/net.js';
import { CpuMeter } from './cpu.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg('seconds', 10);
const concurrency = arg('concurrency', 64);
/** Most items one receive takes (the messages service asks for 32; under a light load it gets a few). */
const receiveMax = arg('receive', 32);

const ON: Partial<KafkaQueueOptions> = { stickyPartition: true, commitIntervalMs: 200, offerDepthCheck: 'near-capacity' };
const variants: Array<[string, Partial<KafkaQueueOptions>]> = [
  ['all levers on', ON],
  ['partition by key (no sticky partition)', { ...ON, stickyPartition: false }],
  ['commit after every ack', { ...ON, commitIntervalMs: 0 }],
  ['depth read on every offer', { ...ON, offerDepthCheck: 'every-offer' }],
  ['all three off (as before)', { stickyPartition: false, commitIntervalMs: 0, offerDepthCheck: 'every-offer' }],
];

// --by-key 1: the commit timer and the depth check measured where sends are slow (partitioned by key).
if (arg('by-key', 0) === 1) {
  variants.splice(
    0,
    variants.length,
    ['partition by key', { ...ON, stickyPartition: false }],
    ['by key, commit after every ack', { ...ON, stickyPartition: false, commitIntervalMs: 0 }],
    ['by key, depth read on every offer', { ...ON, stickyPartition: false, offerDepthCheck: 'every-offer' }],
    ['by key, both (as before)', { stickyPartition: false, commitIntervalMs: 0, offerDepthCheck: 'every-offer' }],
  );
}
// --in-flight 1: the defaults with 1, 2, 3 and 6 sends in flight (each on its own partition).
if (arg('in-flight', 0) === 1) {
  variants.splice(0, variants.length, ...[1, 2, 3, 6].map((k): [string, Partial<KafkaQueueOptions>] => [`${k} send(s) in flight`, { maxSendsInFlight: k }]));
}
// Reversed, a variant's place in the run (a warmer JIT, more topics on the brokers) is told apart from its effect.
if (arg('reverse', 0) === 1) variants.reverse();

const dataDir = mkdtempSync(join(tmpdir(), 'kafka-levers-'));
const basePort = await findFreePorts(3, 31_000 + 3 * Math.floor(Math.random() * 2000), [0, 10_000]);
const cluster = await startKafkaCluster({ brokers: 3, basePort, dataDir, startTimeoutMs: 120_000 });
const rows: string[] = [];
try {
  for (const [name, o] of variants) {
    const tag = Math.random().toString(36).slice(2, 8);
    const base = { brokers: cluster.bootstrap, topic: `levers-${tag}`, groupId: `levers-${tag}`, capacity: 100_000, ...o };
    const producer = new KafkaQueue({ ...base, clientId: `p-${tag}` });
    const consumer = new KafkaQueue({ ...base, clientId: `c-${tag}` });
    // Warm: the topic, the group and the first sends.
    await producer.offer({ id: 'warm', msg: 'w', enqueuedAt: new Date().toISOString() }, 10_000);
    await consumer.receive(1, 30_000).then((d) => consumer.ack(d));
    let stop = false;
    let n = 0;
    let consumed = 0;
    const lat: number[] = [];
    const meter = new CpuMeter([
      { name: 'this process', kind: 'node', pid: process.pid },
      ...[0, 1, 2].map((i) => ({ name: `broker-${i + 1}`, kind: 'java' as const, pid: cluster.broker(i).pid })),
    ]);
    const t0 = Date.now();
    const loops = Array.from({ length: concurrency }, async () => {
      while (!stop) {
        const id = `${tag}-${n++}`;
        const s = performance.now();
        await producer.offer({ id, msg: 'x'.repeat(40), enqueuedAt: new Date().toISOString() }, 5000);
        lat.push(performance.now() - s);
      }
    });
    const consume = (async () => {
      while (!stop) {
        const d = await consumer.receive(receiveMax, 200);
        consumed += d.length;
        if (d.length) await consumer.ack(d);
      }
    })();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    stop = true;
    const use = meter.stop();
    const elapsed = (Date.now() - t0) / 1000;
    await Promise.all([...loops, consume]);
    lat.sort((a, b) => a - b);
    const rate = lat.length / elapsed;
    const brokers = ['broker-1', 'broker-2', 'broker-3'].reduce((s, b) => s + (use?.byProcess[b] ?? 0), 0);
    const self = use?.byProcess['this process'] ?? NaN;
    const row = `| ${name} | ${rate.toFixed(0)} | ${(consumed / elapsed).toFixed(0)} | ${lat[Math.floor(lat.length * 0.5)]!.toFixed(0)} / ${lat[Math.floor(lat.length * 0.99)]!.toFixed(0)} | ${((self / rate) * 1e6).toFixed(0)} | ${((brokers / rate) * 1e6).toFixed(0)} | ${(use ? use.foreign + use.steal : NaN).toFixed(2)} |`;
    console.log(row);
    rows.push(row);
    await Promise.all([producer.close(), consumer.close()]);
  }
} finally {
  await cluster.kill();
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(`\n${concurrency} offer loops, ${seconds} s each, one consumer (receive ${receiveMax} → ack), 3 brokers\n`);
console.log('| variant | offers/s | consumed/s | offer p50 / p99 (ms) | CPU/msg this process (µs) | CPU/msg brokers (µs) | other work (cores) |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
