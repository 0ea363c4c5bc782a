/**
 * The lab console: the launcher's commands pressed on the dashboard. The page
 * POSTs an action to the facade (`POST /console/actions`), the facade checks
 * who sent it and forwards it to the launcher over the channel between them,
 * and the launcher (which owns the processes) runs it in its one command shell.
 * What the shell prints comes back over the channel and reaches the page as
 * `console` events on /dashboard/events. These shapes are shared by the
 * launcher, the facade and the page (type-checked by tsconfig.web.json).
 */

/** Commands the page may send, each with its target: an instance name, a member or broker number, or a scenario name. */
export const CONSOLE_COMMANDS = [
  'stop',
  'kill',
  'start',
  'stop-member',
  'kill-member',
  'start-member',
  'stop-pair',
  'start-pair',
  'stop-broker',
  'kill-broker',
  'start-broker',
  'scenario',
] as const;
export type ConsoleCommand = (typeof CONSOLE_COMMANDS)[number];

/** The lab's demonstrations, each run as one action (see src/scenarios/). */
export const SCENARIO_NAMES = ['msgs', 'lab4', 'map-durability', 'fail-over'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** The body of `POST /console/actions`. */
export interface ConsoleAction {
  command: ConsoleCommand;
  /** An instance name (`messages-5001`), a member/broker number (`2`), or a scenario name (`lab4`). */
  target: string;
}

/** The request header the page sends with every action: a cross-site form cannot set it. */
export const CONSOLE_HEADER = 'x-lab-console';
/** The header carrying `--console-token` when the facade listens beyond loopback. */
export const CONSOLE_TOKEN_HEADER = 'x-console-token';

/** The answer to `POST /console/actions`: 202 accepted, or refused (403 not allowed, 409 another action runs, 503 no launcher). */
export interface ConsoleAnswer {
  accepted: boolean;
  /** The action as the terminal would type it (`kill messages-5001`). */
  action: string;
  message: string;
}

/** One step of a scenario, with its timing. */
export interface ScenarioStep {
  /** 1-based, in the order the scenario runs them. */
  n: number;
  title: string;
  state: 'running' | 'done' | 'failed';
  /** Set when done or failed. */
  ms?: number;
  /** What the step found (`100 accepted`, `member-2 owns the queue`). */
  detail?: string;
}

/** How a scenario ended. */
export interface ScenarioVerdict {
  ok: boolean;
  /** One line: `100/100 received, duplicates: messages-5001 0, messages-5002 0, drained in 3.2 s`. */
  summary: string;
  /** Further lines (who got what). */
  lines: string[];
}

/**
 * What the launcher's shell reports, pushed to the page as it happens:
 * an action began, printed a line, ran a scenario step, or ended.
 */
export type ConsoleEvent =
  | { kind: 'begin'; action: string; source: 'terminal' | 'page'; at: string }
  | { kind: 'line'; action: string | null; text: string; at: string }
  | { kind: 'step'; action: string; scenario: ScenarioName; step: ScenarioStep; at: string }
  | { kind: 'verdict'; action: string; scenario: ScenarioName; verdict: ScenarioVerdict; at: string }
  | { kind: 'end'; action: string; ok: boolean; ms: number; at: string };

/**
 * A Hazelcast member or a Kafka broker as a card. A simple shape on purpose:
 * the launcher fills it from what it knows of its processes, and richer
 * cluster data (partitions, in-sync replicas, lag) can fill `roles` and
 * `facts` later without changing the page.
 */
export interface ClusterNodeCard {
  kind: 'member' | 'broker';
  /** 1-based, as in member-N / broker-N and in the commands. */
  number: number;
  name: string;
  address: string;
  up: boolean;
  /** Marks worth seeing before a kill: `owns the queue`, `active controller`, `leads 4 of 6 partitions`. */
  roles: string[];
  /** Further facts, one short line each. */
  facts: string[];
}

/** A process of the launcher's topology, as the console knows it. */
export interface ConsoleProcess {
  name: string;
  service: 'facade' | 'logging' | 'messages';
  running: boolean;
}

/** What the launcher tells the facade of its topology: pushed when it changes. */
export interface LauncherView {
  engine: string;
  queue: string;
  processes: ConsoleProcess[];
  nodes: ClusterNodeCard[];
  /** Cluster safety as one line (`safe (backups in sync)`), when there is a Hazelcast cluster. */
  cluster?: { safe: boolean; text: string };
  /** The action running now, if any. */
  busy: string | null;
  scenarios: ScenarioName[];
}

/** The console part of the dashboard's state. */
export interface ConsoleState {
  /** Whether this page may press anything. */
  enabled: boolean;
  /** Why not (`started alone: no launcher owns the processes`), or how (`token required`). */
  reason: string;
  /** The actions need the `x-console-token` header (the facade listens beyond loopback). */
  tokenRequired: boolean;
  view: LauncherView | null;
}

/** Messages over the channel between the launcher and the facade (Node IPC on the facade's process). */
export type FacadeToLauncher = { type: 'console-action'; requestId: number; action: ConsoleAction };
export type LauncherToFacade =
  | { type: 'console-view'; view: LauncherView }
  | { type: 'console-event'; event: ConsoleEvent }
  | { type: 'console-answer'; requestId: number; answer: ConsoleAnswer };

/** Checks a body against the allow-list; answers the action or why it is refused. */
export function parseConsoleAction(body: unknown): ConsoleAction | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object {command, target}';
  const o = body as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== 'command' && k !== 'target');
  if (extra.length) return `unknown field(s): ${extra.join(', ')}`;
  const { command, target } = o;
  if (typeof command !== 'string' || !(CONSOLE_COMMANDS as readonly string[]).includes(command)) {
    return `command must be one of ${CONSOLE_COMMANDS.join(', ')}`;
  }
  if (typeof target !== 'string') return 'target must be a string';
  const c = command as ConsoleCommand;
  if (c === 'scenario') {
    if (!(SCENARIO_NAMES as readonly string[]).includes(target)) return `scenario must be one of ${SCENARIO_NAMES.join(', ')}`;
  } else if (c === 'stop' || c === 'kill' || c === 'start') {
    if (!/^(logging|messages)-\d{1,5}$/.test(target)) return 'target must name a logging or messages instance (logging-7001, messages-5001); the facade cannot be stopped from the page';
  } else if (!/^[1-9]\d{0,2}$/.test(target)) return `${c} takes a number (1, 2, …)`;
  return { command: c, target };
}

/** The action as typed in the launcher's terminal. */
export const actionText = (a: ConsoleAction): string => `${a.command} ${a.target}`;
