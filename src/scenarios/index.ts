/**
 * The lab's demonstrations, written once: the launcher's shell runs them for
 * the dashboard and the terminal, `npm run lab` runs them from the command
 * line, and the integration tests call them.
 */
import type { ScenarioName, ScenarioVerdict } from '../contracts/console.js';
import type { LabActions } from './actions.js';
import { failOver } from './fail-over.js';
import { lab4 } from './lab4.js';
import { mapDurability } from './map-durability.js';
import { msgs } from './msgs.js';
import { Steps, type ScenarioReport } from './runner.js';

export type { LabActions } from './actions.js';
export type { ScenarioReport } from './runner.js';

export const SCENARIO_TITLES: Record<ScenarioName, string> = {
  msgs: 'msg1..msg10: who got what',
  lab4: 'lab 4: consumers down, 100 sent, the queue owner killed, consumers back',
  'map-durability': 'map durability: members killed one by one, every entry read back',
  'fail-over': 'fail-over: a logging instance killed during a run of sends',
};

/** Which scenarios this lab can run (lab 4 needs members or brokers, map durability members). */
export function scenariosFor(a: Pick<LabActions, 'members' | 'brokers'>): ScenarioName[] {
  const out: ScenarioName[] = ['msgs'];
  if (a.members || a.brokers) out.push('lab4');
  if (a.members) out.push('map-durability');
  out.push('fail-over');
  return out;
}

/** Runs one scenario, reporting its steps; resolves with its verdict. */
export async function runScenario(name: ScenarioName, a: LabActions, report: ScenarioReport): Promise<ScenarioVerdict> {
  const steps = new Steps(report);
  switch (name) {
    case 'msgs':
      return (await msgs(a, steps)).verdict;
    case 'lab4':
      return (await lab4(a, steps)).verdict;
    case 'map-durability':
      return (await mapDurability(a, steps)).verdict;
    case 'fail-over':
      return (await failOver(a, steps)).verdict;
  }
}
