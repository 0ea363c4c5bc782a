/**
 * What the dashboard page (src/web/dashboard.js) reads from the facade: the
 * snapshot at `/dashboard/state`, the same snapshot pushed as `state` events
 * on `/dashboard/events`, and the answers of the facade's own POST and GET
 * /messages that the page calls. The facade's route builds these types and
 * the page is type-checked against them (JSDoc imports under `// @ts-check`),
 * so neither side can change a field alone.
 */
import type { LogEntry } from './log-entry.js';
import type { ConsoleState } from './console.js';
import type { ConsumedEntry, ServiceName } from './http.js';
import type { QueueDetails } from './queue-info.js';

/** One message as the page shows it. */
export interface DashboardEntry {
  id: string;
  msg: string;
  /** loggedAt / consumedAt. */
  at?: string;
  /** The text was cut to the dashboard's `maxText` characters. */
  truncated?: true;
}

/** The facade's circuit breaker for one instance. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface DashboardInstance {
  service: ServiceName;
  instance: string;
  url: string | null;
  /** False for a logging instance that left the registry but whose entries are in the log. */
  registered: boolean;
  heartbeatAt: string | null;
  heartbeatAgeMs: number | null;
  breaker: BreakerState | null;
  health: { status: 'up' | 'down'; reason?: string; ms?: number };
  /** Full count of what it logged / consumed; null when unknown. */
  count: number | null;
  /** The newest entries, newest first (a logging instance's: those among the log's newest `log.newestRead`). */
  messages: DashboardEntry[];
  messagesError?: string;
}

export interface DashboardState {
  at: string;
  tookMs: number;
  /**
   * Depth (items not yet acknowledged), and what the engine says of where the
   * queue lives: as data (`details`, drawn on the cards) and as lines (`about`,
   * the same data through queueInfoLines, for readers of text).
   */
  queue: { depth: number | null; error?: string; details?: QueueDetails; about?: string[] };
  registry: { ttlMs: number; refreshedAgoMs: number | null; error?: string };
  /**
   * The log's size, the logging instance it was read from, and how many of
   * its newest entries were read for the cards' recent messages (each card
   * shows its own among them).
   */
  log: { total: number | null; readFrom: string | null; newestRead?: number; error?: string };
  instances: DashboardInstance[];
  /** What the cluster is waiting for, one line each (e.g. a member not answering, not yet declared gone); present on a cluster engine. */
  cluster?: { waiting: string[] };
  /** The lab console: whether this page has controls, why (not), and the launcher's view of its processes and cluster nodes. */
  console: ConsoleState;
}

/** The data of one `state` event on /dashboard/events: the snapshot, or why there is none. */
export type DashboardEvent = DashboardState | { error: string };

/** The facade's POST /messages answer: 201 `{id}`, or 200 `{id, repeated}` for a repeated Idempotency-Key. */
export interface FacadePostResponse {
  id: string;
  repeated?: true;
}

/** The facade's GET /messages answer (JSON form). */
export interface FacadeReadResponse {
  logging: LogEntry[];
  loggingInstance: string;
  messages: ConsumedEntry[];
  messagesInstance: string | null;
  /** Why the messages part is empty (no messages instance answered). */
  note?: string;
  /** The logging part's next page (`?limit=N` reads). */
  next?: string;
  messagesNext?: string;
}

/** An error answer of any route: `{statusCode, error, message}`. */
export interface ErrorResponse {
  statusCode?: number;
  error?: string;
  message?: string;
}
