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
  /** After the writes and after each kill: how many of the entries each running logging instance read back (distinct, and rows). */
  reads: Array<{ after: string; via: string; found: number; rows: number }>;
}

export interface MapDurabilityOptions {
  /** Entries written. Default 200 (at most 1000: they are read back as the log's newest). */
  entries?: number;
  /** How each member but the last is stopped, in order: kill -9 (a crash) or SIGTERM (a graceful leave). Default: all kill -9. */
  signals?: Array<'SIGKILL' | 'SIGTERM'>;
}

export async function mapDurability(a: LabActions, steps: Steps, o: MapDurabilityOptions = {}): Promise<MapDurabilityResult> {
  const n = Math.min(1000, o.entries ?? 200);
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
  /** Reads back through every running logging instance (each member's client, the dead member's paired one failed over). */
  const readBack = async (after: string) => {
    const out: string[] = [];
    for (const via of logging.filter((l) => a.isRunning(l))) {
      const ids = await until(`${via} reads the log`, async () => {
        const r = await a.readLog(via);
        return typeof r === 'number' ? undefined : r;
      }, 30_000, 250);
      const ours = ids.filter((id) => id.startsWith(prefix));
      const found = new Set(ours).size;
      reads.push({ after, via, found, rows: ours.length });
      out.push(`${via} ${found}/${n}`);
    }
    return out.join(', ');
  };
  await steps.run('read every entry back', () => readBack('writing'));
  for (let k = 0; k < m.count - 1; k++) {
    const i = k;
    const signal = o.signals?.[k] ?? 'SIGKILL';
    await steps.run('wait until the cluster is safe', async () => {
      await m.waitForSafe();
      return 'every backup in sync';
    });
    await steps.run(`${signal === 'SIGKILL' ? 'kill -9' : 'stop (SIGTERM)'} member-${i + 1} (paired with ${logging[i] ?? 'none'})`, async () => {
      await m.kill(i, signal);
      await m.waitForSize(m.count - 1 - k);
      return `${m.count - 1 - k} member(s) left`;
    });
    await steps.run('read every entry back', () => readBack(`member-${i + 1} ${signal === 'SIGKILL' ? 'killed' : 'stopped'}`));
  }
  const lost = reads.filter((r) => r.found !== n || r.rows !== r.found);
  return {
    reads,
    verdict: {
      ok: lost.length === 0,
      summary: lost.length === 0 ? `${n}/${n} entries read back after each of ${m.count - 1} kills (one member left)` : `entries lost or doubled: ${lost.map((r) => `${r.found}/${n} (${r.rows} rows) via ${r.via} after ${r.after}`).join('; ')}`,
      lines: reads.map((r) => `after ${r.after}: ${r.found}/${n} via ${r.via}`),
    },
  };
}
