/** Resident memory of processes, read from /proc/<pid>/status (Linux). */
import { readFileSync } from 'node:fs';

export interface Tracked {
  name: string;
  kind: 'node' | 'java';
  pid: number | undefined;
}

export interface MemReading {
  rssMb: number;
  /** Peak RSS the kernel saw since the process started. */
  hwmMb: number;
}

export function readMem(pid: number | undefined): MemReading | undefined {
  if (pid === undefined) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** Samples VmRSS of every tracked process every `everyMs` and keeps each one's peak. */
export class MemorySampler {
  private readonly peaks = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  samples = 0;

  constructor(
    private readonly procs: Tracked[],
    private readonly everyMs = 200,
  ) {}

  private sample(): void {
    this.samples++;
    for (const p of this.procs) {
      const m = readMem(p.pid);
      if (m && Number.isFinite(m.rssMb)) this.peaks.set(p.name, Math.max(this.peaks.get(p.name) ?? 0, m.rssMb));
    }
  }

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    return this;
  }

  /** Stops and returns the peak RSS (MB) of each process. */
  stop(): Map<string, number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return new Map(this.peaks);
  }
}

/** One reading of every tracked process now. */
export function snapshot(procs: Tracked[]): Map<string, MemReading> {
  const out = new Map<string, MemReading>();
  for (const p of procs) {
    const m = readMem(p.pid);
    if (m) out.set(p.name, m);
  }
  return out;
}

/**
 * The program a tied wrapper runs (src/lib/exit-with-parent.ts): members and
 * brokers are started through a small Node wrapper whose only child is the
 * JVM, and it is the JVM whose memory and CPU the bench reports.
 */
export function programPid(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'java') return pid;
    const child = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    return child ? Number(child) : pid;
  } catch {
    return pid;
  }
}
