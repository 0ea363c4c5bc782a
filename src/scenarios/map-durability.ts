/**
 * Map durability: entries written to the shared log (a distributed map), then
 * members killed one by one (kill -9), each kill only once the cluster is safe
 * (every backup in sync), until one member is left; after each kill every
 * entry is read back.
 */
import type { ScenarioVerdict } from '../contracts/console.js';
import type { LabActions } from './actions.js';
import { fullStrength } from './full-strength.js';
import { pool, runTag, until, type Steps } from './runner.js';

export interface MapDurabilityResult {
  verdict: ScenarioVerdict;
  /** After each kill: how many of the entries one logging instance read back. */
  reads: Array<{ after: string; via: string; found: number }>;
}

export async function mapDurability(a: LabActions, steps: Steps, n = 200): Promise<MapDurabilityResult> {
  const m = a.members;
  if (!m) throw new Error('map durability kills Hazelcast members: run npm start with --engine hazelcast');
  await fullStrength(a, steps);
  const logging = a.instances('logging');
  const prefix = `durable-${runTag()}-`;
  await steps.run(`write ${n} entries to the map through ${logging.join(', ')}`, async () => {
    const statuses = await pool(n, 8, (i) => a.writeLog(logging[i % logging.length]!, `${prefix}${i}`, `durable ${i}`));
    const bad = statuses.filter((s) => s !== 201).length;
    if (bad) throw new Error(`${bad} write(s) refused`);
    return `${n} written`;
  });
  const reads: MapDurabilityResult['reads'] = [];
  const readBack = async (after: string) => {
    const via = logging.find((l) => a.isRunning(l))!;
    const ids = await until(`${via} reads the log`, async () => {
      const r = await a.readLog(via);
      return typeof r === 'number' ? undefined : r;
    }, 30_000, 250);
    const found = new Set(ids.filter((id) => id.startsWith(prefix))).size;
    reads.push({ after, via, found });
    return `${found}/${n} read back via ${via}`;
  };
  await steps.run('read every entry back', () => readBack('writing'));
  for (let k = 0; k < m.count - 1; k++) {
    const i = k;
    await steps.run('wait until the cluster is safe', async () => {
      await m.waitForSafe();
      return 'every backup in sync';
    });
    await steps.run(`kill -9 member-${i + 1}`, async () => {
      await m.kill(i, 'SIGKILL');
      await m.waitForSize(m.count - 1 - k);
      return `${m.count - 1 - k} member(s) left`;
    });
    await steps.run('read every entry back', () => readBack(`member-${i + 1} killed`));
  }
  const lost = reads.filter((r) => r.found !== n);
  return {
    reads,
    verdict: {
      ok: lost.length === 0,
      summary: lost.length === 0 ? `${n}/${n} entries read back after each of ${m.count - 1} kills (one member left)` : `entries lost: ${lost.map((r) => `${r.found}/${n} after ${r.after}`).join('; ')}`,
      lines: reads.map((r) => `after ${r.after}: ${r.found}/${n} via ${r.via}`),
    },
  };
}
