/**
 * Aggregates a V8 .cpuprofile (from `node --cpu-prof`): self time by
 * function (name + file:line), self time by package/file, and inclusive
 * time by package (time with any frame of that package on the stack).
 *
 *   node --import tsx bench/cpuprofile-summary.ts FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  key: string;
  ms: number;
  pct: number;
}

export interface Summary {
  totalMs: number;
  /** Samples in (idle): the process waited for I/O or timers. */
  idleMs: number;
  busyMs: number;
  byFunction: Row[];
  byModule: Row[];
  inclusiveByPackage: Row[];
}

/** Package for node_modules files, "node:…" for core, the repo-relative path for our files. */
export function moduleOf(url: string): string {
  if (!url) return '(native/vm)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const m = /\/(dist|src|bench)\/(.+)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url.replace(/^file:\/\//, '');
}

/** Coarse owner of a frame for the inclusive view: a package, "node core" or one of our files. */
function packageOf(url: string): string | undefined {
  if (!url) return undefined;
  const m = moduleOf(url);
  if (m.startsWith('node:')) return 'node core';
  return m;
}

export function summarize(p: CpuProfile): Summary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // timeDeltas[i] is the time before sample i; charge it to sample i-1's node (what ran during it).
  const selfUs = new Map<number, number>();
  for (let i = 1; i < p.samples.length; i++) selfUs.set(p.samples[i - 1]!, (selfUs.get(p.samples[i - 1]!) ?? 0) + p.timeDeltas[i]!);

  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  const incl = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  const pkgsOnStack = new Map<number, Set<string>>();
  const stackPkgs = (id: number): Set<string> => {
    let s = pkgsOnStack.get(id);
    if (s) return s;
    const up = parent.get(id);
    s = new Set(up === undefined ? [] : stackPkgs(up));
    const pkg = packageOf(byId.get(id)!.callFrame.url);
    if (pkg) s.add(pkg);
    pkgsOnStack.set(id, s);
    return s;
  };
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    totalUs += us;
    if (cf.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const where = cf.url ? `${moduleOf(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}${where ? `  ${where}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const m = cf.url ? moduleOf(cf.url) : cf.functionName.startsWith('(') ? cf.functionName : '(native/vm)';
    mod.set(m, (mod.get(m) ?? 0) + us);
    for (const pkg of stackPkgs(id)) incl.set(pkg, (incl.get(pkg) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const rows = (m: Map<string, number>): Row[] =>
    [...m.entries()].map(([key, us]) => ({ key, ms: us / 1000, pct: busyUs ? (us / busyUs) * 100 : 0 })).sort((a, b) => b.ms - a.ms);
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, busyMs: busyUs / 1000, byFunction: rows(fn), byModule: rows(mod), inclusiveByPackage: rows(incl) };
}

export function summaryText(title: string, s: Summary, top = 25): string {
  const lines = [
    `### ${title}`,
    '',
    `profiled ${(s.totalMs / 1000).toFixed(1)} s; busy ${(s.busyMs / 1000).toFixed(1)} s (${((s.busyMs / s.totalMs) * 100).toFixed(0)}%), idle ${(s.idleMs / 1000).toFixed(1)} s. Percentages are of busy time.`,
    '',
    'Self time by function:',
    '',
    ...s.byFunction.slice(0, top).map((r) => `  ${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.key}`),
    '',
    'Self time by module:',
    '',
    ...s.byModule.slice(0, 15).map((r) => `  ${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.key}`),
    '',
    'Inclusive time by package (any frame of it on the stack):',
    '',
    ...s.inclusiveByPackage.slice(0, 20).map((r) => `  ${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.key}`),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 25;
  if (args.length === 0) {
    console.error('usage: cpuprofile-summary.ts FILE.cpuprofile [...] [--top N]');
    process.exit(2);
  }
  for (const f of args) console.log(summaryText(f, summarize(JSON.parse(readFileSync(f, 'utf8')) as CpuProfile), top));
}
