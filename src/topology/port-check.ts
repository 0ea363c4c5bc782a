/**
 * Checks every port a topology will listen on before anything starts, and
 * names who holds a taken one: a start that began and then failed halfway
 * would leave half a system, or have its readiness checks answered by the
 * system that already holds the ports.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { SERVICE_NAMES, SETTINGS_TABLES } from '../services/config.js';
import { redactCommandLine } from '../shared/settings.js';
import { commandLine, type PidFileContent } from './pid-file.js';

export interface PlannedPort {
  port: number;
  /** Who will listen there, e.g. 'logging-7001', 'member-1'. */
  name: string;
  /** The option that moves it, e.g. '--logging-port P'. */
  option: string;
}

export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The first planned port that cannot be bound, if any. */
export async function firstTakenPort(host: string, ports: readonly PlannedPort[]): Promise<PlannedPort | undefined> {
  for (const p of ports) if (!(await portFree(host, p.port))) return p;
  return undefined;
}

/** Pid listening on the TCP port, from `ss` (Linux) or `lsof`; undefined when neither says. */
export function listenerPid(port: number): number | undefined {
  const ss = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8', timeout: 5000 });
  const fromSs = ss.status === 0 ? /pid=(\d+)/.exec(ss.stdout) : null;
  if (fromSs) return Number(fromSs[1]);
  const lsof = spawnSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-t'], { encoding: 'utf8', timeout: 5000 });
  const fromLsof = lsof.status === 0 ? /^(\d+)/m.exec(lsof.stdout) : null;
  return fromLsof ? Number(fromLsof[1]) : undefined;
}

/**
 * A command line in at most `n` characters that still says what runs: an
 * absolute path (the node binary, the script, a data dir) is shown by its last
 * two parts, so the arguments that name the process (`--name facade-7000`)
 * fit whatever the length of the paths where node and the project live.
 */
export function shortCommandLine(cmd: string, n = 90): string {
  const s = cmd.replace(/(^|\s)\/(?:[^\s/]*\/)+([^\s/]+\/[^\s/]+)(?=\s|$)/g, '$1…/$2');
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * One line: the taken port, what this start wanted it for, who holds it as far
 * as can be told, and how to move on.
 */
export function describeTakenPort(taken: PlannedPort, running: PidFileContent | undefined): string {
  const pid = listenerPid(taken.port);
  const cmd = pid === undefined ? undefined : commandLine(pid);
  // The holder may be a child of a launcher still running (its record names it), a member's JVM included (its command line carries the marker).
  const ours = running?.children.find((r) => r.pid === pid || (cmd !== undefined && cmd.includes(r.marker)));
  let owner: string;
  if (ours && running) {
    owner = `${ours.name} of another npm start still running (launcher pid ${running.launcher.pid}, data dir ${running.dataDir}): stop that one first (Ctrl-C in its terminal), or`;
  } else if (pid !== undefined && cmd?.includes('HazelcastMemberStarter')) {
    const cluster = /-Dhazel-lab\.cluster-name=(\S+)/.exec(cmd)?.[1];
    owner = `a Hazelcast member (pid ${pid}${cluster ? `, cluster ${cluster}` : ''}; \`kill ${pid}\` stops it): stop it, or`;
  } else if (pid !== undefined && cmd?.includes('kafka.Kafka')) {
    const dir = /(\S+)\/server\.properties/.exec(cmd)?.[1];
    owner = `a Kafka broker (pid ${pid}${dir ? `, data in ${dir}` : ''}; \`kill ${pid}\` stops it): stop it, or`;
  } else if (pid !== undefined) {
    // A service started by hand may carry a secret on its command line: never shown.
    owner = `pid ${pid}${cmd ? ` (${shortCommandLine(redactCommandLine(cmd, SERVICE_NAMES.map((n) => SETTINGS_TABLES[n])))})` : ''}: stop it, or`;
  } else if (running) {
    owner = `probably another npm start still running (launcher pid ${running.launcher.pid}, data dir ${running.dataDir}): stop that one first, or`;
  } else {
    owner = 'another process (`ss -ltnp` or `lsof -i` names it): stop it, or';
  }
  return `port ${taken.port} (for ${taken.name}) is already in use by ${owner} move this start with ${taken.option}`;
}
