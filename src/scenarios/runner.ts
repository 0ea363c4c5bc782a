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

/** Retries fn until it yields a value; throws naming `what` after timeoutMs. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs fn over 0..n-1 with at most `width` calls in flight. */
export async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A short tag of this run: scenarios count only messages carrying it. */
export const runTag = () => Math.random().toString(36).slice(2, 8);
