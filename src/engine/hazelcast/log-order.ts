/**
 * Ordering of log entries held as their stored JSON text (values in the
 * Hazelcast map are opaque JSON to the members, so ordering happens here).
 * Entry order is (ts, id); sorting reads only each entry's ts from its text.
 */
import type { LogEntry, LogPage } from '../ports.js';

export interface Cursor {
  ts: number;
  id: string;
}

/** One stored entry's text with its sort key. */
export interface Keyed {
  ts: number;
  text: string;
  /** Parsed only when two entries share a ts. */
  id?: string;
}

const idOfKeyed = (k: Keyed) => (k.id ??= (JSON.parse(k.text) as LogEntry).id);

export function compareKeyed(a: Keyed, b: Keyed | Cursor): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  const x = idOfKeyed(a);
  const y = 'text' in b ? idOfKeyed(b) : b.id;
  return x < y ? -1 : x > y ? 1 : 0;
}

export function keyedOf(text: string): Keyed {
  return { ts: tsOf(text), text };
}

/** Stored texts in entry order (ts, then id). */
export function sortedTexts(values: Iterable<string>): Keyed[] {
  const keyed: Keyed[] = [];
  for (const text of values) keyed.push(keyedOf(text));
  return keyed.sort(compareKeyed);
}

/** Sorted texts joined into one JSON array, without re-serialising them. */
export function joinJson(sorted: readonly Keyed[]): string {
  return `[${sorted.map((k) => k.text).join(',')}]`;
}

/**
 * The `ts` of a stored entry. In JSON text an unescaped `"ts":` can only be
 * that key (a quote inside a string value is written \"), so the number after
 * it is the entry's; anything unexpected falls back to a full parse.
 */
export function tsOf(text: string): number {
  const at = text.indexOf('"ts":');
  if (at >= 0) {
    let end = at + 5;
    for (let c = text.charCodeAt(end); end < text.length && c !== 44 && c !== 125; c = text.charCodeAt(++end));
    const n = Number(text.slice(at + 5, end));
    if (end > at + 5 && Number.isFinite(n)) return n;
  }
  return (JSON.parse(text) as LogEntry).ts;
}

/** Cursor `${ts}:${id}`: ts never contains ':', so the first ':' splits it. */
function cursorOf(e: LogEntry): string {
  return `${e.ts}:${e.id}`;
}

function parseCursor(after: string): Cursor {
  const i = after.indexOf(':');
  const ts = i > 0 ? Number(after.slice(0, i)) : NaN;
  if (!Number.isFinite(ts)) throw new RangeError(`bad cursor: ${after}`);
  return { ts, id: after.slice(i + 1) };
}

/** Index of the first entry ordered after the cursor (binary search). */
function firstAfter(sorted: readonly Keyed[], c: Cursor): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeyed(sorted[mid]!, c) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Checks the page arguments before any read; throws RangeError on bad ones. */
export function pageStart(limit: number, after: string | undefined): Cursor | undefined {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`bad page limit: ${limit}`);
  return after === undefined ? undefined : parseCursor(after);
}

/** One page of sorted texts; only the page's entries are parsed. */
export function pageOf(sorted: readonly Keyed[], limit: number, from: Cursor | undefined): LogPage {
  const start = from === undefined ? 0 : firstAfter(sorted, from);
  const kept = sorted.slice(start, start + limit).map((k) => JSON.parse(k.text) as LogEntry);
  const page: LogPage = { entries: kept };
  if (start + limit < sorted.length) page.next = cursorOf(kept[kept.length - 1]!);
  return page;
}
