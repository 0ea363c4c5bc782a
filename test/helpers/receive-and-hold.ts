/**
 * A consumer in its own process, for the contract's "killed between receive
 * and ack" case: `tsx receive-and-hold.ts '<json>'` with {engine, queue, n}
 * connects to the engine, receives n items of the queue, prints their ids as
 * one JSON line, and then holds them (never acknowledging) until killed.
 */
import { pino } from 'pino';
import { createEngine } from '../../src/engine/factory.js';
import type { EngineConfig } from '../../src/shared/common-config.js';

const { engine: cfg, queue, n } = JSON.parse(process.argv[2] ?? '{}') as { engine: EngineConfig; queue: string; n: number };
const engine = await createEngine(cfg, pino({ level: 'silent' }), `held-${process.pid}`);
const got: string[] = [];
const deadline = Date.now() + 60_000;
while (got.length < n && Date.now() < deadline) {
  for (const d of await engine.queue(queue).receive(n - got.length, 1000)) got.push(d.item.id);
}
process.stdout.write(`${JSON.stringify(got)}\n`);
setInterval(() => {}, 60_000);
