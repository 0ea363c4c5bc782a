import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Engine, KvMap, LogEntry, LogPage, MessageLog, MessageQueue, QueueItem } from '../ports.js';
import { waitFor } from '../wait.js';

export interface EmbeddedEngineOptions {
  /** Folder holding the shared database file (engine.db). */
  dataDir: string;
  /** Most items a queue holds; offer waits then fails beyond it. Default 100000. */
  queueCapacity?: number;
  /** SQLite busy timeout in ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * One SQLite file shared by every process on the machine. WAL lets readers
 * run beside one writer; the busy timeout makes concurrent writers queue up
 * instead of failing. Each queue take is one DELETE … RETURNING statement,
 * so two consumers can never receive the same item.
 */
export class EmbeddedEngine implements Engine {
  readonly kind = 'embedded';
  readonly file: string;
  private readonly db: Database.Database;
  private readonly capacity: number;
  private closed = false;

  constructor(opts: EmbeddedEngineOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.file = join(opts.dataDir, 'engine.db');
    this.capacity = opts.queueCapacity ?? 100_000;
    this.db = new Database(this.file, { timeout: opts.busyTimeoutMs ?? 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
        UNIQUE (name, id));
      CREATE INDEX IF NOT EXISTS log_name_seq ON log (name, seq);
      CREATE TABLE IF NOT EXISTS queue (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL, body TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS queue_name_seq ON queue (name, seq);
      CREATE TABLE IF NOT EXISTS kv (
        name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER,
        PRIMARY KEY (name, key));
    `);
  }

  log(name: string): MessageLog {
    const db = this.db;
    const insert = db.prepare('INSERT INTO log (name, id, body) VALUES (?, ?, ?) ON CONFLICT (name, id) DO NOTHING');
    const getOne = db.prepare<[string, string], { body: string }>('SELECT body FROM log WHERE name = ? AND id = ?');
    const all = db.prepare<[string], { body: string }>('SELECT body FROM log WHERE name = ? ORDER BY seq');
    const pageQ = db.prepare<[string, number, number], { seq: number; body: string }>(
      'SELECT seq, body FROM log WHERE name = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    const count = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM log WHERE name = ?');
    const putTx = db.transaction((entry: LogEntry) => {
      const r = insert.run(name, entry.id, JSON.stringify(entry));
      if (r.changes === 1) return { created: true, entry };
      const row = getOne.get(name, entry.id);
      return { created: false, entry: row ? (JSON.parse(row.body) as LogEntry) : entry };
    });
    return {
      put: async (entry) => putTx(entry),
      get: async (id) => {
        const row = getOne.get(name, id);
        return row ? (JSON.parse(row.body) as LogEntry) : undefined;
      },
      list: async () => parseBodies(all.all(name)),
      page: async (limit, after): Promise<LogPage> => {
        const from = after === undefined ? 0 : Number(after);
        if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`bad cursor: ${after}`);
        const rows = pageQ.all(name, from, limit + 1);
        const more = rows.length > limit;
        const kept = more ? rows.slice(0, limit) : rows;
        const page: LogPage = { entries: kept.map((r) => JSON.parse(r.body) as LogEntry) };
        if (more) page.next = String(kept[kept.length - 1]!.seq);
        return page;
      },
      size: async () => count.get(name)!.n,
    };
  }

  queue(name: string): MessageQueue {
    const db = this.db;
    const count = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM queue WHERE name = ?');
    const insert = db.prepare('INSERT INTO queue (name, body) VALUES (?, ?)');
    const take = db.prepare<[string, string], { body: string }>(
      'DELETE FROM queue WHERE seq = (SELECT seq FROM queue WHERE name = ? ORDER BY seq LIMIT 1) AND name = ? RETURNING body',
    );
    const head = db.prepare<[string], { body: string }>('SELECT body FROM queue WHERE name = ? ORDER BY seq LIMIT 1');
    const capacity = this.capacity;
    // Count and insert in one IMMEDIATE transaction so the bound holds across processes.
    const tryOffer = db.transaction((body: string) => {
      if (count.get(name)!.n >= capacity) return false;
      insert.run(name, body);
      return true;
    });
    return {
      offer: async (item: QueueItem, timeoutMs: number) => {
        const body = JSON.stringify(item);
        return waitFor(() => (tryOffer.immediate(body) ? true : undefined), timeoutMs).then((r) => r === true);
      },
      poll: async (timeoutMs: number, signal?: AbortSignal) => {
        const got = await waitFor(
          () => {
            const row = take.get(name, name);
            return row ? (JSON.parse(row.body) as QueueItem) : undefined;
          },
          timeoutMs,
          signal,
        );
        return got ?? null;
      },
      peek: async () => {
        const row = head.get(name);
        return row ? (JSON.parse(row.body) as QueueItem) : null;
      },
      depth: async () => count.get(name)!.n,
    };
  }

  kv<V>(name: string): KvMap<V> {
    const db = this.db;
    const upsert = db.prepare(
      'INSERT INTO kv (name, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
    );
    const getOne = db.prepare<[string, string, number], { value: string }>(
      'SELECT value FROM kv WHERE name = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)',
    );
    const del = db.prepare('DELETE FROM kv WHERE name = ? AND key = ?');
    const all = db.prepare<[string, number], { key: string; value: string }>(
      'SELECT key, value FROM kv WHERE name = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY key',
    );
    const insertNew = db.prepare(
      'INSERT INTO kv (name, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?',
    );
    const setIfAbsentTx = db.transaction((key: string, value: string, expiresAt: number | null) => {
      const now = Date.now();
      const had = getOne.get(name, key, now);
      if (had) return JSON.parse(had.value) as V;
      insertNew.run(name, key, value, expiresAt, now);
      return undefined;
    });
    const purge = db.prepare('DELETE FROM kv WHERE name = ? AND expires_at IS NOT NULL AND expires_at <= ?');
    return {
      set: async (key, value, ttlMs) => {
        upsert.run(name, key, JSON.stringify(value), ttlMs ? Date.now() + ttlMs : null);
      },
      get: async (key) => {
        const row = getOne.get(name, key, Date.now());
        return row ? (JSON.parse(row.value) as V) : undefined;
      },
      setIfAbsent: async (key, value, ttlMs) => setIfAbsentTx.immediate(key, JSON.stringify(value), ttlMs ? Date.now() + ttlMs : null),
      delete: async (key) => {
        del.run(name, key);
      },
      entries: async () => {
        const now = Date.now();
        purge.run(name, now);
        return all.all(name, now).map((r) => [r.key, JSON.parse(r.value) as V] as [string, V]);
      },
    };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('engine closed');
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function parseBodies(rows: Array<{ body: string }>): LogEntry[] {
  const out = new Array<LogEntry>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = JSON.parse(rows[i]!.body) as LogEntry;
  return out;
}
