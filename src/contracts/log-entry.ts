/**
 * One message as held in the shared log: what the engines store, the
 * logging instances answer over HTTP and the dashboard shows.
 */
export interface LogEntry {
  id: string;
  msg: string;
  /** Instance name of the logging service that stored it. */
  loggedBy: string;
  /** ISO time it was stored. */
  loggedAt: string;
  /** Ordering key: epoch milliseconds with sub-millisecond fraction. */
  ts: number;
  correlationId?: string;
}
