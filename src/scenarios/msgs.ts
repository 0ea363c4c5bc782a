/**
 * msg1..msg10: ten messages sent through the facade, each shown with the
 * logging instance that logged it and the messages instance that consumed it.
 */
import type { ScenarioVerdict } from '../contracts/console.js';
import type { LabActions } from './actions.js';
import { delivery } from './delivery.js';
import { fullStrength } from './full-strength.js';
import { runTag, secs, until, type Steps } from './runner.js';

export interface MsgsResult {
  verdict: ScenarioVerdict;
  rows: Array<{ msg: string; id: string; loggedBy: string | undefined; consumedBy: string | undefined }>;
}

export async function msgs(a: LabActions, steps: Steps): Promise<MsgsResult> {
  await fullStrength(a, steps);
  const tag = runTag();
  const sent: Array<{ msg: string; id: string }> = [];
  await steps.run('send msg1..msg10 through the facade', async () => {
    for (let i = 1; i <= 10; i++) {
      const r = await a.send(`msg${i}`);
      if (!r.id) throw new Error(`msg${i}: the facade answered ${r.status}`);
      sent.push({ msg: `msg${i}`, id: r.id });
    }
    return `10 accepted (this run: ${tag})`;
  });
  const ids = sent.map((s) => s.id);
  const t0 = Date.now();
  const seen = await steps.run('wait until each is logged and consumed', () =>
    until('msg1..msg10 logged and consumed', async () => {
      const [logged, stores] = await Promise.all([a.loggedBy(), a.stores()]);
      const d = delivery(stores, ids);
      return d.missing.length === 0 && ids.every((id) => logged.has(id)) ? { logged, d } : undefined;
    }, 30_000, 200),
  () => `all 10 after ${secs(Date.now() - t0)}`);
  const rows = sent.map((s) => ({ ...s, loggedBy: seen.logged.get(s.id), consumedBy: seen.d.holder.get(s.id) }));
  const count = (key: 'loggedBy' | 'consumedBy') => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(r[key] ?? '?', (m.get(r[key] ?? '?') ?? 0) + 1);
    return [...m].map(([n, c]) => `${n} ${c}`).join(', ');
  };
  const once = seen.d.inTwo.length === 0 && seen.d.twiceInOne.length === 0;
  return {
    rows,
    verdict: {
      ok: once,
      summary: `10/10 logged and consumed${once ? ', each once' : `, ${seen.d.inTwo.length + seen.d.twiceInOne.length} more than once`}; logged: ${count('loggedBy')}; consumed: ${count('consumedBy')}`,
      lines: rows.map((r) => `${r.msg.padEnd(5)} logged by ${r.loggedBy ?? '?'}, consumed by ${r.consumedBy ?? '?'}`),
    },
  };
}
