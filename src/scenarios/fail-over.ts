/**
 * Fail-over: 30 messages sent one after the other; after the 10th a logging
 * instance is killed (kill -9). Shows which instance logged each: the facade
 * moves on to the others and none is lost.
 */
import type { ScenarioVerdict } from '../contracts/console.js';
import type { LabActions } from './actions.js';
import { fullStrength } from './full-strength.js';
import { runTag, until, type Steps } from './runner.js';

export interface FailOverResult {
  verdict: ScenarioVerdict;
  killed: string;
  rows: Array<{ n: number; id: string | undefined; status: number; loggedBy: string | undefined; afterKill: boolean }>;
}

const TOTAL = 30;
const KILL_AFTER = 10;

export async function failOver(a: LabActions, steps: Steps): Promise<FailOverResult> {
  await fullStrength(a, steps);
  const logging = a.instances('logging');
  if (logging.length < 2) throw new Error('fail-over needs at least 2 logging instances');
  const killed = logging[0]!;
  const tag = `failover-${runTag()}`;
  const rows: FailOverResult['rows'] = [];
  const send = async (from: number, to: number, afterKill: boolean) => {
    for (let n = from; n < to; n++) {
      const r = await a.send(`${tag}-${n}`);
      rows.push({ n, id: r.id, status: r.status, loggedBy: undefined, afterKill });
    }
  };
  await steps.run(`send ${KILL_AFTER} messages`, async () => {
    await send(0, KILL_AFTER, false);
    return `${rows.filter((r) => r.id).length}/${KILL_AFTER} accepted`;
  });
  await steps.run(`kill -9 ${killed} (a logging instance)`, async () => {
    await a.kill(killed);
    return 'no goodbye: the registry still lists it until its heartbeat expires';
  });
  await steps.run(`send ${TOTAL - KILL_AFTER} more`, async () => {
    await send(KILL_AFTER, TOTAL, true);
    return `${rows.filter((r) => r.afterKill && r.id).length}/${TOTAL - KILL_AFTER} accepted`;
  });
  const ids = rows.flatMap((r) => (r.id ? [r.id] : []));
  const logged = await steps.run('read who logged each', () =>
    until('every accepted message in the log', async () => {
      const m = await a.loggedBy();
      return ids.every((id) => m.has(id)) ? m : undefined;
    }, 20_000),
  () => 'all accepted ones are in the log');
  for (const r of rows) r.loggedBy = r.id ? logged.get(r.id) : undefined;
  const by = (after: boolean) => {
    const m = new Map<string, number>();
    for (const r of rows.filter((x) => x.afterKill === after && x.loggedBy)) m.set(r.loggedBy!, (m.get(r.loggedBy!) ?? 0) + 1);
    return [...m].map(([n, c]) => `${n} ${c}`).join(', ') || 'none';
  };
  const accepted = ids.length;
  const toDead = rows.filter((r) => r.afterKill && r.loggedBy === killed).length;
  return {
    killed,
    rows,
    verdict: {
      ok: accepted === TOTAL && toDead === 0,
      summary: `${accepted}/${TOTAL} accepted and logged; before the kill: ${by(false)}; after: ${by(true)}`,
      lines: rows.map((r) => `#${String(r.n + 1).padStart(2)} ${r.afterKill ? 'after ' : 'before'} the kill → ${r.id ? `logged by ${r.loggedBy ?? '?'}` : `refused (${r.status})`}`),
    },
  };
}
