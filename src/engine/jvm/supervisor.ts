/**
 * The process supervisor under every local JVM cluster (Hazelcast members,
 * Kafka brokers): one slot per process, each spawned in a process group of
 * its own (a Ctrl-C in the terminal reaches only us), optionally tied to this
 * process (see lib/exit-with-parent.ts); its output kept as a short tail and
 * appended to a log file; waits that fail as soon as a watched process exits;
 * a graceful stop that turns into SIGKILL after a grace period; and a last
 * SIGKILL to every process if we exit without stopping them.
 *
 * A runner adds only what is its own: the JVM's arguments and configuration,
 * and reading its log for readiness (`onLine`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { spawnTiedToParent } from '../../lib/exit-with-parent.js';
import { slotWaiter } from '../../lib/slot-wait.js';

/** One supervised process; a runner extends it with what its log says (cluster size, raft state…). */
export interface ProcessSlot {
  readonly index: number;
  /** How errors name it, e.g. 'Hazelcast member 0 (127.0.0.1:5701)'. */
  readonly label: string;
  /** Set while the process runs; cleared when it exits. */
  child?: ChildProcess;
  /** Resolves when the current process has exited. */
  exited?: Promise<void>;
  /** Its log announced it ready since its last launch (set by the runner's onLine). */
  started: boolean;
  /** Its last lines (each cut to 400 characters), with a note of how it ended. */
  tail: string[];
}

export interface LaunchSpec {
  command: string;
  args: readonly string[];
  cwd?: string;
  /** Spawn through the exit-with-parent wrapper, so the process stops when we die, even by SIGKILL. */
  tieToParent: boolean;
  /** Tied: how long the process may take on SIGTERM once we are gone. Default 5000. */
  graceMs?: number;
  /** Every line it prints is appended there (the directory is created). */
  logFile?: string;
  /** A string its command line contains, passed to onSpawn so a launcher can recognise it later. */
  marker: string;
}

export interface SupervisorOptions<S extends ProcessSlot> {
  /** The error every failed wait throws, e.g. ClusterStartError. */
  error: (message: string) => Error;
  /** Reads one line of slot s's output, updating s (started…). Returns the line to pass to onLog, or undefined to pass none. */
  onLine?: (s: S, line: string) => string | undefined;
  /** Resets what the runner keeps on s when its process is launched or exits. */
  reset?: (s: S) => void;
  /** Each line passed on, with the slot's index. */
  onLog?: (index: number, line: string) => void;
  /** Each spawn, with the pid (the process group) and the launch's marker. */
  onSpawn?: (index: number, pid: number, marker: string) => void;
  /** How long a SIGTERM may take before SIGKILL, unless terminate() is given another grace. */
  stopTimeoutMs: number;
}

const TAIL_LINES = 30;
const TAIL_LINE_CHARS = 400;

export class JvmSupervisor<S extends ProcessSlot> {
  private readonly waiter = slotWaiter<S>();
  private readonly logFiles = new Map<S, WriteStream>();
  // Last resort if we exit without stop(): do not leave JVMs holding ports.
  private readonly onExit = () => this.slots.forEach((s) => signalGroup(s.child, 'SIGKILL'));
  private closed: Promise<void> | undefined;

  constructor(
    readonly slots: readonly S[],
    private readonly o: SupervisorOptions<S>,
  ) {
    process.once('exit', this.onExit);
  }

  /** Slot i, or a RangeError naming the valid indexes. */
  slotAt(i: number): S {
    const s = this.slots[i];
    if (!s) throw new RangeError(`no process index ${i}; indexes run 0..${this.slots.length - 1}`);
    return s;
  }

  running(): S[] {
    return this.slots.filter((s) => s.child !== undefined);
  }

  /** Wakes every wait to check its condition again. */
  notify(): void {
    this.waiter.notify();
  }

  /** Spawns slot s's process (the caller checked it is not running) and follows its output and exit. */
  launch(s: S, spec: LaunchSpec): void {
    const child = spec.tieToParent
      ? spawnTiedToParent(spec.command, spec.args, { cwd: spec.cwd, graceMs: spec.graceMs })
      : spawn(spec.command, spec.args, { cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    s.child = child;
    s.started = false;
    s.tail = [];
    this.o.reset?.(s);
    if (child.pid !== undefined) this.o.onSpawn?.(s.index, child.pid, spec.marker);
    let file = this.logFiles.get(s);
    if (spec.logFile && !file) {
      mkdirSync(dirname(spec.logFile), { recursive: true });
      file = createWriteStream(spec.logFile, { flags: 'a' });
      // A full disk must not take the cluster down with it.
      file.on('error', () => {});
      this.logFiles.set(s, file);
    }
    const onLine = (line: string) => {
      file?.write(line + '\n');
      pushTail(s, line);
      const out = this.o.onLine ? this.o.onLine(s, line) : line;
      if (out !== undefined) this.o.onLog?.(s.index, out);
      this.notify();
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    s.exited = new Promise<void>((resolve) => {
      const ended = (note: string) => {
        // Only clear the slot if it still holds this process (not a restart).
        if (s.child === child) {
          s.child = undefined;
          s.started = false;
          this.o.reset?.(s);
        }
        pushTail(s, note);
        resolve();
        this.notify();
      };
      child.once('exit', (code, signal) => ended(`[exited with ${signal ?? `code ${code}`}]`));
      child.once('error', (err) => ended(`[spawn failed: ${err.message}]`));
    });
  }

  /**
   * Resolves when `ready()` holds (checked on every line and exit); rejects
   * when a watched process exits first, or after timeoutMs.
   */
  until(ready: () => boolean, timeoutMs: number, what: () => string, watch: S[]): Promise<void> {
    return this.waiter.until(ready, timeoutMs, watch, (s, timedOut) =>
      timedOut === undefined
        ? this.o.error(`${s!.label} exited while ${what()}.${this.lastLines(s!)}`)
        : this.o.error(`timed out after ${timedOut} ms ${what()}.${s ? this.lastLines(s) : ''}`),
    );
  }

  /**
   * Like until(), for a condition only a question over the network answers:
   * asks every intervalMs; an answer that throws counts as not yet (the last
   * error is named on timeout).
   */
  async poll(ready: () => Promise<boolean>, timeoutMs: number, what: string, watch: S[], intervalMs = 300): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastErr = '';
    for (;;) {
      const dead = watch.find((s) => s.child === undefined);
      if (dead) throw this.o.error(`${dead.label} exited while ${what}.${this.lastLines(dead)}`);
      try {
        if (await ready()) return;
      } catch (e) {
        lastErr = ` (last error: ${(e as Error).message})`;
      }
      if (Date.now() >= deadline) throw this.o.error(`timed out after ${timeoutMs} ms ${what}${lastErr}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Signals slot s's process group; SIGTERM turns into SIGKILL after graceMs. Resolves when it has exited; no-op when not running. */
  async terminate(s: S, signal: 'SIGKILL' | 'SIGTERM', graceMs = this.o.stopTimeoutMs): Promise<void> {
    const child = s.child;
    if (!child) return;
    const exited = s.exited!;
    signalGroup(child, signal);
    if (signal === 'SIGKILL') return exited;
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** The tail of s's output, for an error message. */
  lastLines(s: S): string {
    return s.tail.length ? `\nlast output of ${s.label}:\n  ${s.tail.slice(-12).join('\n  ')}` : '';
  }

  /** After every process was stopped: drops the exit hook and closes the log files. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      process.removeListener('exit', this.onExit);
      await Promise.all([...this.logFiles.values()].map((f) => new Promise<void>((r) => f.end(r))));
    })();
    return this.closed;
  }
}

function pushTail(s: ProcessSlot, line: string): void {
  s.tail.push(line.length > TAIL_LINE_CHARS ? line.slice(0, TAIL_LINE_CHARS) + '…' : line);
  if (s.tail.length > TAIL_LINES) s.tail.shift();
}

/** Signals the process group (it was spawned detached), falling back to the process. */
function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
