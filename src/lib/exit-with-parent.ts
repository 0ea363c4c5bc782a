/**
 * Starts a program that must not outlive the process starting it (a Java
 * member or broker the launcher runs). The program itself cannot be told to
 * watch its parent, so a small Node wrapper runs it: the wrapper reads a pipe
 * from us on its stdin, and when that pipe closes (we exited, by any signal,
 * even SIGKILL) it sends the program SIGTERM, then SIGKILL after graceMs.
 *
 * The wrapper is spawned detached, so it leads its own process group with the
 * program in it: a Ctrl-C in the terminal reaches only us, and signalling the
 * group (-pid) reaches both. A signal sent to the wrapper alone is passed on;
 * when the program exits, the wrapper exits the same way (same code, or the
 * same signal), so whoever watches the wrapper sees the program's end.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface TiedChildOptions {
  /** After the parent is gone, how long the program may take to stop on SIGTERM before SIGKILL. Default 5000. */
  graceMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

// CommonJS run with `node -e`, so it needs no build step and works from src/ (tsx) and dist/ alike.
const WRAPPER = `
const { spawn } = require('node:child_process');
const [cmd, ...args] = process.argv.slice(1);
const graceMs = Number(process.env.TIED_CHILD_GRACE_MS) || 5000;
const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let parentGone = false;
const onParentGone = () => {
  if (parentGone) return;
  parentGone = true;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
};
process.stdin.on('end', onParentGone);
process.stdin.on('error', onParentGone);
process.stdin.resume();
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => child.kill(s));
// Our stdout is the parent's pipe: once it is gone, writes fail; that must not kill us before the program.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
child.on('error', (err) => {
  try { process.stderr.write('cannot start ' + cmd + ': ' + err.message + '\\n'); } catch {}
  process.exit(127);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});
`;

/**
 * Spawns `command args` through the wrapper. stdout and stderr are pipes
 * (the program's output); stdin is the pipe the wrapper watches — leave it
 * open. The returned process is the wrapper: its pid is the process group.
 */
export function spawnTiedToParent(command: string, args: readonly string[], opts: TiedChildOptions = {}): ChildProcess {
  return spawn(process.execPath, ['--input-type=commonjs', '-e', WRAPPER, '--', command, ...args], {
    cwd: opts.cwd,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...(opts.env ?? process.env), TIED_CHILD_GRACE_MS: String(opts.graceMs ?? 5000) },
  });
}
