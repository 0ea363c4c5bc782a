/**
 * CPU accounting from /proc (Linux): how much CPU each tracked process used
 * over a window, and how much the rest of the machine used meanwhile, so a
 * run disturbed by other work on the machine says so.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Tracked } from './memory.js';

const HZ = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

interface MachineTicks {
  busy: number;
  steal: number;
}

function machineTicks(): MachineTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return { busy: user + nice + system + irq + softirq, steal };
  } catch {
    return undefined;
  }
}

/** utime + stime of a process (all its threads), in ticks. */
function procTicks(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ')'; utime and stime are fields 14 and 15.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

export interface CpuUse {
  seconds: number;
  /** Cores each tracked process kept busy on average. */
  byProcess: Record<string, number>;
  /** The bench process itself (load generator thread included). */
  bench: number;
  /** Everything else on the machine: other people's work. */
  foreign: number;
  /** Time the hypervisor gave to other guests, in cores. */
  steal: number;
  /** The 1-minute load average at the end. */
  loadAvg: number;
}

export class CpuMeter {
  private readonly t0 = performance.now();
  private readonly m0 = machineTicks();
  private readonly p0: Map<string, number | undefined>;
  private readonly self0 = procTicks(process.pid);

  constructor(private readonly procs: Tracked[]) {
    this.p0 = new Map(procs.map((p) => [p.name, procTicks(p.pid)]));
  }

  stop(): CpuUse | null {
    const seconds = (performance.now() - this.t0) / 1000;
    const m1 = machineTicks();
    if (!this.m0 || !m1 || seconds <= 0) return null;
    const cores = (ticks: number) => ticks / HZ / seconds;
    const byProcess: Record<string, number> = {};
    let ours = 0;
    for (const p of this.procs) {
      const a = this.p0.get(p.name);
      const b = procTicks(p.pid);
      if (a === undefined || b === undefined) continue;
      byProcess[p.name] = cores(b - a);
      ours += b - a;
    }
    const selfNow = procTicks(process.pid);
    const self = this.self0 !== undefined && selfNow !== undefined ? selfNow - this.self0 : 0;
    const total = m1.busy - this.m0.busy;
    let loadAvg = NaN;
    try {
      loadAvg = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    } catch {
      // not Linux
    }
    return {
      seconds,
      byProcess,
      bench: cores(self),
      foreign: Math.max(0, cores(total - ours - self)),
      steal: cores(m1.steal - this.m0.steal),
      loadAvg,
    };
  }
}
