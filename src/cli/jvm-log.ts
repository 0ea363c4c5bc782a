/**
 * What of the members' and brokers' output reaches the launcher's terminal.
 * The terminal is for the lab: every line a JVM prints goes to its log file
 * under the data dir (and `logs NAME` shows the tail); here only warnings and
 * errors, one line each (no stack traces), and a warning that repeats (a
 * broker retrying a dead peer logs one every few milliseconds) once per
 * window, with how many like it were left out since.
 */

/** A log record's first line: a time, then its level (JUL's SEVERE/WARNING as the members print them, log4j's WARN/ERROR/FATAL). */
const RECORD = /^\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\s+(TRACE|DEBUG|FINEST|FINER|FINE|CONFIG|INFO|WARNING|WARN|SEVERE|ERROR|FATAL)\b/;
const SHOWN = new Set(['WARNING', 'WARN', 'SEVERE', 'ERROR', 'FATAL']);

export interface JvmLogFilterOptions {
  /** A line like one shown less than this long ago (same process, same text but for numbers) is left out. Default 30000. */
  windowMs?: number;
  /** Longer lines are cut to this many characters. Default 300. */
  maxChars?: number;
  now?: () => number;
}

export class JvmLogFilter {
  private readonly windowMs: number;
  private readonly maxChars: number;
  private readonly now: () => number;
  /** Per process and line shape: when one was last shown, and how many were left out since. */
  private readonly seen = new Map<string, { at: number; left: number }>();

  constructor(o: JvmLogFilterOptions = {}) {
    this.windowMs = o.windowMs ?? 30_000;
    this.maxChars = o.maxChars ?? 300;
    this.now = o.now ?? Date.now;
  }

  /** The line to print for process `name`, or undefined to print nothing. */
  pass(name: string, line: string): string | undefined {
    const m = RECORD.exec(line);
    if (!m || !SHOWN.has(m[1]!)) return undefined;
    const rest = line.slice(m[0].length);
    // Addresses, ports, node ids and times vary between repeats of one message.
    const key = `${name}\u0000${m[1]}${rest.replace(/\d+/g, '#')}`;
    const now = this.now();
    const prev = this.seen.get(key);
    if (prev && now - prev.at < this.windowMs) {
      prev.left++;
      return undefined;
    }
    if (this.seen.size >= 10_000) this.seen.clear();
    this.seen.set(key, { at: now, left: 0 });
    const cut = line.length > this.maxChars ? `${line.slice(0, this.maxChars)}…` : line;
    return prev && prev.left > 0 ? `${cut} (and ${prev.left} more like it since the last shown: logs ${name})` : cut;
  }
}

/** Names the launcher gives its JVMs: member-N (Hazelcast), broker-N (Kafka). */
export const isJvmName = (name: string): boolean => /^(member|broker)-\d+$/.test(name);
