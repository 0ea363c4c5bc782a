/**
 * The launcher's record of what it started, kept in <data-dir>/launcher-pids.json,
 * so that a later start with the same data dir can find what an earlier run
 * left behind (a launcher killed before its children noticed, or one from a
 * version that did not tie its children to it) and stop it.
 *
 * A pid alone is not proof: pids are reused. Each record carries a marker, a
 * string the process's command line contains (`--name logging-7001`,
 * `-Dhazel-lab.port=5701`); a pid whose command line lacks it is left alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const PID_FILE_NAME = 'launcher-pids.json';

export interface PidRecord {
  name: string;
  pid: number;
  /** A string this process's command line contains. */
  marker: string;
}

export interface PidFileContent {
  launcher: PidRecord;
  dataDir: string;
  children: PidRecord[];
}

export const pidFileIn = (dataDir: string): string => join(dataDir, PID_FILE_NAME);

/** Writes the whole record at once (a reader never sees half a file). */
export function writePidFile(file: string, content: PidFileContent): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n');
  renameSync(tmp, file);
}

export function readPidFile(file: string): PidFileContent | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const c = JSON.parse(text) as PidFileContent;
    const ok = (r: unknown): r is PidRecord =>
      typeof r === 'object' && r !== null && Number.isInteger((r as PidRecord).pid) && typeof (r as PidRecord).marker === 'string' && typeof (r as PidRecord).name === 'string';
    if (!ok(c.launcher) || !Array.isArray(c.children) || !c.children.every(ok)) return undefined;
    return c;
  } catch {
    return undefined;
  }
}

export function removePidFile(file: string): void {
  rmSync(file, { force: true });
}

/** The full command line of a running process, or undefined when there is none with that pid. */
export function commandLine(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // /proc first (Linux); `ps -ww` elsewhere (macOS, BSD).
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (raw) return raw.replace(/\0+$/, '').split('\0').join(' ');
  } catch {
    // no /proc, or no such process
  }
  const r = spawnSync('ps', ['-ww', '-o', 'args=', '-p', String(pid)], { encoding: 'utf8', timeout: 5000 });
  const out = r.status === 0 ? r.stdout.trim() : '';
  return out || undefined;
}

/** True when the pid runs a process whose command line still carries the record's marker. */
export function isAlive(r: PidRecord): boolean {
  return commandLine(r.pid)?.includes(r.marker) ?? false;
}

function signalTree(pid: number, signal: NodeJS.Signals): void {
  // Members run in their own process group (wrapper + JVM): signal the group, then the pid itself.
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // not a group leader, or already gone
    }
  }
}

/**
 * Stops each recorded child that still runs: SIGTERM, then SIGKILL after
 * graceMs. Returns the records it stopped. Only for a run whose launcher is
 * gone; the caller checks that first.
 */
export async function stopLeftovers(content: PidFileContent, graceMs = 10_000): Promise<PidRecord[]> {
  const alive = content.children.filter(isAlive);
  for (const r of alive) signalTree(r.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const r of alive.filter(isAlive)) signalTree(r.pid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (alive.some(isAlive) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 100));
  return alive;
}
