/**
 * Runs a scenario's steps one after the other, reporting each as it starts
 * and ends with its time, so the page and the terminal can show them live.
 */
import type { ScenarioStep } from '../contracts/console.js';

export interface ScenarioReport {
  step(s: ScenarioStep): void;
  line(text: string): void;
}

export const silentReport: ScenarioReport = { step: () => undefined, line: () => undefined };

/** A report that prints each finished step (`3. kill -9 member-2: done in 0.4 s — 2 members left`) and each line. */
export function linesReport(print: (line: string) => void, indent = '  '): ScenarioReport {
  return {
    step: (s) => {
      if (s.state !== 'running') print(`${indent}${s.n}. ${s.title}: ${s.state === 'done' ? 'done' : 'FAILED'} in ${secs(s.ms ?? 0)}${s.detail ? ` — ${s.detail}` : ''}`);
    },
    line: (text) => print(`${indent}${text}`),
  };
}

export class Steps {
  private n = 0;
  constructor(private readonly report: ScenarioReport) {}

  /** Runs fn as the next step; its answer's `detail` (a string, or what detail() makes of the value) is shown beside it. */
  async run<T>(title: string, fn: () => Promise<T>, detail?: (v: T) => string): Promise<T> {
    const n = ++this.n;
    const t0 = Date.now();
    this.report.step({ n, title, state: 'running' });
    try {
      const v = await fn();
      const d = detail ? detail(v) : typeof v === 'string' ? v : undefined;
      this.report.step({ n, title, state: 'done', ms: Date.now() - t0, ...(d ? { detail: d } : {}) });
      return v;
    } catch (err) {
      this.report.step({ n, title, state: 'failed', ms: Date.now() - t0, detail: (err as Error).message });
      throw err;
    }
  }

  line(text: string): void {
    this.report.line(text);
  }
}

export { pool } from '../lib/pool.js';
export { until } from '../lib/wait.js';

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A short tag of this run: scenarios count only messages carrying it. */
export const runTag = () => Math.random().toString(36).slice(2, 8);
