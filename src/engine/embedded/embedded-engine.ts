import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EngineUnavailableError, type Delivery, type Engine, type KvMap, type LogEntry, type LogPage, type MessageLog, type MessageQueue, type QueueItem } from '../ports.js';
import type { EmbeddedQueueDetails } from '../../contracts/queue-info.js';
import { joinJsonTexts } from '../../lib/json-text.js';
import { waitFor } from '../../lib/wait.js';

export interface EmbeddedEngineOptions {
  /** Folder holding the shared database file (engine.db). */
  dataDir: string;
  /** Most items a queue holds; offer waits then fails beyond it. Default 100000. */
  queueCapacity?: number;
  /** SQLite busy timeout in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** How long a received item stays leased to its consumer before it is delivered again. Default 20000. */
  leaseMs?: number;
}

/**
 * One SQLite file shared by every process on the machine. WAL lets readers
 * run beside one writer; the busy timeout makes concurrent writers queue up
 * instead of failing. A queue item is a row: a receive leases rows (one
 * UPDATE … RETURNING sets their lease end, so two consumers never hold the
 * same row), an ack deletes them, and a row whose lease ended is visible
 * again: delivery is at least once, exactly as the lease says.
 *
 * Writes are grouped: every write asked for in one turn of the event loop
 * runs in one IMMEDIATE transaction, and each caller's promise settles only
 * after that commit. Many processes share one write lock, and taking it once
 * per batch instead of once per call is what lets the file keep up under
 * load. When another process holds the lock, the batch is retried from the
 * event loop (SQLite's own busy wait would sleep and block this process),
 * and writes arriving meanwhile join it.
 */
export class EmbeddedEngine implements Engine {
  readonly kind = 'embedded';
  readonly file: string;
  private readonly db: Database.Database;
  private readonly capacity: number;
  private readonly leaseMs: number;
  private closed = false;
  private batch: Array<{ run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  private flushScheduled = false;
  private readonly runBatch: Database.Transaction<(ops: Array<() => unknown>) => Array<{ ok: boolean; value: unknown }>>;
  private readonly inSavepoint: Database.Transaction<(op: () => unknown) => unknown>;
  private readonly logs = new Map<string, MessageLog>();
  private readonly queues = new Map<string, MessageQueue>();
  /** Per queue: hands back the leases this process still holds (run at close). */
  private readonly releases: Array<() => void> = [];
  private readonly kvs = new Map<string, KvMap<unknown>>();
  private readonly busyTimeoutMs: number;
  /** When the current batch first met a busy lock (0: it has not). */
  private busySince = 0;
  private busyRetries = 0;

  constructor(opts: EmbeddedEngineOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.file = join(opts.dataDir, 'engine.db');
    this.capacity = opts.queueCapacity ?? 100_000;
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    this.leaseMs = opts.leaseMs ?? 20_000;
    if (!(this.leaseMs > 0)) throw new RangeError(`EmbeddedEngine: leaseMs must be > 0, got ${this.leaseMs}`);
    // SQLite's busy wait applies while the schema is set up, when processes start together.
    this.db = new Database(this.file, { timeout: this.busyTimeoutMs });
    // Processes opening a new file together can get SQLITE_BUSY at once, without the busy wait (SQLite skips
    // it where waiting could deadlock: turning the file to WAL, a read lock upgraded to write): the set-up is
    // idempotent, so it runs again after a short pause, within the busy timeout.
    whileBusy(() => {
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
          name TEXT NOT NULL, body TEXT NOT NULL,
          -- Epoch ms until which a consumer holds the row; NULL: never received.
          lease_until INTEGER,
          -- Times the row was handed out: more than 1 is a redelivery.
          deliveries INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS queue_name_seq ON queue (name, seq);
        -- Queue sizes kept by triggers, so depth and the bound cost O(1), not a count over the backlog.
        CREATE TABLE IF NOT EXISTS queue_size (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
        CREATE TRIGGER IF NOT EXISTS queue_size_ins AFTER INSERT ON queue BEGIN
          INSERT INTO queue_size (name, n) VALUES (new.name, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER IF NOT EXISTS queue_size_del AFTER DELETE ON queue BEGIN
          UPDATE queue_size SET n = n - 1 WHERE name = old.name;
        END;
        CREATE TABLE IF NOT EXISTS kv (
          name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER,
          PRIMARY KEY (name, key));
      `);
      // How many entries each logging instance stored, kept by a trigger as rows
      // are added (the log is insert-only), so counting costs a few rows, not a
      // scan of the log. A file made before the table existed is counted once,
      // in the same transaction that adds it (so two processes opening it
      // together cannot both count it).
      this.db
        .transaction(() => {
          if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_count'").get()) return;
          this.db.exec(`
            CREATE TABLE log_count (name TEXT NOT NULL, logged_by TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (name, logged_by));
            CREATE TRIGGER log_count_ins AFTER INSERT ON log BEGIN
              INSERT INTO log_count (name, logged_by, n) VALUES (new.name, coalesce(json_extract(new.body, '$.loggedBy'), '?'), 1)
                ON CONFLICT (name, logged_by) DO UPDATE SET n = n + 1;
            END;
            INSERT INTO log_count (name, logged_by, n)
              SELECT name, coalesce(json_extract(body, '$.loggedBy'), '?'), count(*) FROM log GROUP BY 1, 2;
          `);
        })
        .immediate();
      // A file made before leases existed gets the column (its rows count as never received).
      const cols = this.db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('queue')").all();
      // Another process opening the same older file may add a column first.
      const addColumn = (sql: string) => {
        try {
          this.db.exec(sql);
        } catch (err) {
          if (!/duplicate column/i.test((err as Error).message)) throw err;
        }
      };
      if (!cols.some((c) => c.name === 'lease_until')) addColumn('ALTER TABLE queue ADD COLUMN lease_until INTEGER');
      if (!cols.some((c) => c.name === 'deliveries')) addColumn('ALTER TABLE queue ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 0');
    }, this.busyTimeoutMs);
    // From here on a busy lock is reported at once and retried without blocking.
    this.db.pragma('busy_timeout = 0');
    // Inside runBatch this runs as a savepoint, so one failing op rolls back only itself.
    this.inSavepoint = this.db.transaction((op: () => unknown) => op());
    this.runBatch = this.db.transaction((ops: Array<() => unknown>) =>
      ops.map((op) => {
        try {
          return { ok: true, value: op() };
        } catch (err) {
          // Some errors (disk full, I/O) make SQLite roll back the whole
          // transaction: then no op of this batch may count as done.
          if (!this.db.inTransaction) throw err;
          return { ok: false, value: err };
        }
      }),
    );
  }

  /** Queues a write for the next batch; settles after the batch commits. */
  private write<T>(op: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new EngineUnavailableError('embedded engine closed'));
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ run: op, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    let results: Array<{ ok: boolean; value: unknown }>;
    try {
      results = this.runBatch.immediate(batch.map((b) => this.savepoint(b.run)));
    } catch (err) {
      if (isBusy(err) && (this.busySince === 0 || Date.now() - this.busySince < this.busyTimeoutMs)) {
        // Another process holds the write lock: try again soon, with whatever arrives meanwhile.
        if (this.busySince === 0) this.busySince = Date.now();
        this.batch = batch.concat(this.batch);
        this.flushScheduled = true;
        const n = this.busyRetries++;
        if (n < 3) setImmediate(() => this.flush());
        else setTimeout(() => this.flush(), Math.min(1 + (n >> 3), 4));
        return;
      }
      this.busySince = 0;
      this.busyRetries = 0;
      for (const b of batch) b.reject(sqliteUnavailable(err));
      return;
    }
    this.busySince = 0;
    this.busyRetries = 0;
    results.forEach((r, i) => (r.ok ? batch[i]!.resolve(r.value) : batch[i]!.reject(sqliteUnavailable(r.value))));
  }

  private savepoint(op: () => unknown): () => unknown {
    return () => this.inSavepoint(op);
  }

  log(name: string): MessageLog {
    const had = this.logs.get(name);
    if (had) return had;
    const db = this.db;
    const insert = db.prepare('INSERT INTO log (name, id, body) VALUES (?, ?, ?) ON CONFLICT (name, id) DO NOTHING');
    const getOne = db.prepare<[string, string], { body: string }>('SELECT body FROM log WHERE name = ? AND id = ?');
    const all = db.prepare<[string], { body: string }>('SELECT body FROM log WHERE name = ? ORDER BY seq');
    const pageQ = db.prepare<[string, number, number], { seq: number; body: string }>(
      'SELECT seq, body FROM log WHERE name = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    const newestQ = db.prepare<[string, number], { body: string }>('SELECT body FROM log WHERE name = ? ORDER BY seq DESC LIMIT ?');
    const countQ = db.prepare<[string], { n: number }>('SELECT coalesce(sum(n), 0) AS n FROM log_count WHERE name = ?');
    const countByQ = db.prepare<[string], { by: string; n: number }>('SELECT logged_by AS by, n FROM log_count WHERE name = ?');
    const put = (entry: LogEntry) => {
      const r = insert.run(name, entry.id, JSON.stringify(entry));
      if (r.changes === 1) return { created: true, entry };
      const row = getOne.get(name, entry.id);
      return { created: false, entry: row ? (JSON.parse(row.body) as LogEntry) : entry };
    };
    const log: MessageLog = {
      put: (entry) => this.write(() => put(entry)),
      get: async (id) => {
        const row = getOne.get(name, id);
        return row ? (JSON.parse(row.body) as LogEntry) : undefined;
      },
      list: async () => all.all(name).map((r) => JSON.parse(r.body) as LogEntry),
      listJson: async () => joinJsonTexts(all.all(name)),
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
      newest: async (limit) => {
        if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`bad limit: ${limit}`);
        return newestQ.all(name, limit).map((r) => JSON.parse(r.body) as LogEntry);
      },
      size: async () => countQ.get(name)!.n,
      countByLogger: async () => Object.fromEntries(countByQ.all(name).map((r) => [r.by, r.n])),
    };
    this.logs.set(name, log);
    return log;
  }

  queue(name: string): MessageQueue {
    const had = this.queues.get(name);
    if (had) return had;
    const db = this.db;
    const size = db.prepare<[string], { n: number }>('SELECT n FROM queue_size WHERE name = ?');
    const insert = db.prepare('INSERT INTO queue (name, body) VALUES (?, ?)');
    const visible = db.prepare<[string, number], { seq: number }>(
      'SELECT seq FROM queue WHERE name = ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY seq LIMIT 1',
    );
    const lease = db.prepare<[number, string, number, number], { seq: number; body: string; deliveries: number }>(
      `UPDATE queue SET lease_until = ?, deliveries = deliveries + 1 WHERE seq IN (
         SELECT seq FROM queue WHERE name = ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY seq LIMIT ?)
       RETURNING seq, body, deliveries`,
    );
    const remove = db.prepare<[number, string]>('DELETE FROM queue WHERE seq = ? AND name = ?');
    const release = db.prepare<[number, string]>('UPDATE queue SET lease_until = NULL WHERE seq = ? AND name = ?');
    // Leases this process holds: handed back on close, so a consumer that stops hands its items on at once.
    const held = new Set<number>();
    this.releases.push(() => {
      for (const seq of held) release.run(seq, name);
      held.clear();
    });
    const depth = () => size.get(name)?.n ?? 0;
    const leasedNow = db.prepare<[string, number], { n: number }>('SELECT COUNT(*) AS n FROM queue WHERE name = ? AND lease_until > ?');
    const capacity = this.capacity;
    // The bound is checked inside the write transaction, so it holds across processes.
    const tryOffer = (body: string) => {
      if (depth() >= capacity) return false;
      insert.run(name, body);
      return true;
    };
    const take = (max: number): Delivery[] | undefined => {
      const now = Date.now();
      // Look first: a read takes no lock in WAL mode, so idle consumers do
      // not contend with producers for the write lock.
      if (visible.get(name, now) === undefined) return undefined;
      let rows;
      try {
        rows = lease.all(now + this.leaseMs, name, now, max);
      } catch (err) {
        if (isBusy(err)) return undefined;
        throw err;
      }
      if (rows.length === 0) return undefined;
      // RETURNING gives no order: restore the queue's.
      rows.sort((a, b) => a.seq - b.seq);
      const out: Delivery[] = [];
      for (const r of rows) {
        const item = parseItem(r.body);
        // A body that does not parse (only a hand-made row could) would come back after every lease: drop it.
        if (item) {
          out.push(r.deliveries > 1 ? { item, tag: String(r.seq), redelivered: true } : { item, tag: String(r.seq) });
          held.add(r.seq);
        }
        else void this.write(() => remove.run(r.seq, name)).catch(() => undefined);
      }
      return out.length > 0 ? out : undefined;
    };
    const queue: MessageQueue = {
      offer: async (item: QueueItem, timeoutMs: number) => {
        const body = JSON.stringify(item);
        if (await this.write(() => tryOffer(body))) return true;
        if (timeoutMs <= 0) return false;
        // Full: wait for room, trying again as consumers acknowledge items.
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const left = deadline - Date.now();
          if (left <= 0) return false;
          await waitFor(() => (depth() < capacity ? true : undefined), left);
          if (await this.write(() => tryOffer(body))) return true;
        }
      },
      receive: async (max: number, timeoutMs: number, signal?: AbortSignal) => (await waitFor(() => take(max), timeoutMs, signal)) ?? [],
      ack: async (deliveries) => {
        const seqs = deliveries.map((d) => Number(d.tag)).filter((n) => Number.isSafeInteger(n));
        if (seqs.length === 0) return;
        for (const seq of seqs) held.delete(seq);
        await this.write(() => {
          for (const seq of seqs) remove.run(seq, name);
        });
      },
      depth: async () => depth(),
      describe: async () => {
        const details: EmbeddedQueueDetails = { kind: 'embedded', queue: name, file: this.file, depth: depth(), leased: leasedNow.get(name, Date.now())?.n ?? 0 };
        return { details };
      },
    };
    this.queues.set(name, queue);
    return queue;
  }

  kv<V>(name: string): KvMap<V> {
    const had = this.kvs.get(name);
    if (had) return had as KvMap<V>;
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
    // A key range on the primary key: keys starting with the prefix sort from it up to it followed by U+10FFFF.
    const withPrefix = db.prepare<[string, string, string, number], { key: string; value: string }>(
      'SELECT key, value FROM kv WHERE name = ? AND key >= ? AND key < ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY key',
    );
    const insertNew = db.prepare(
      'INSERT INTO kv (name, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?',
    );
    const setIfAbsent = (key: string, value: string, expiresAt: number | null) => {
      const now = Date.now();
      const had = getOne.get(name, key, now);
      if (had) return JSON.parse(had.value) as V;
      insertNew.run(name, key, value, expiresAt, now);
      return undefined;
    };
    const purge = db.prepare('DELETE FROM kv WHERE name = ? AND expires_at IS NOT NULL AND expires_at <= ?');
    const expiry = (ttlMs?: number) => (ttlMs ? Date.now() + ttlMs : null);
    const kv: KvMap<V> = {
      set: async (key, value, ttlMs) => {
        const text = JSON.stringify(value);
        await this.write(() => upsert.run(name, key, text, expiry(ttlMs)));
      },
      get: async (key) => {
        const row = getOne.get(name, key, Date.now());
        return row ? (JSON.parse(row.value) as V) : undefined;
      },
      setIfAbsent: (key, value, ttlMs) => {
        const text = JSON.stringify(value);
        return this.write(() => setIfAbsent(key, text, expiry(ttlMs)));
      },
      delete: async (key) => {
        await this.write(() => del.run(name, key));
      },
      entries: async (prefix) => {
        const now = Date.now();
        await this.write(() => purge.run(name, now));
        const rows = prefix ? withPrefix.all(name, prefix, `${prefix}\u{10FFFF}`, now) : all.all(name, now);
        return rows.map((r) => [r.key, JSON.parse(r.value) as V] as [string, V]);
      },
    };
    this.kvs.set(name, kv as KvMap<unknown>);
    return kv;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new EngineUnavailableError('embedded engine closed');
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Settle what is queued before closing, waiting out a busy lock within the bound.
    const deadline = Date.now() + this.busyTimeoutMs;
    while (this.batch.length > 0 && Date.now() < deadline) {
      this.flush();
      if (this.batch.length > 0) await new Promise((r) => setTimeout(r, 2));
    }
    this.closed = true;
    // Not acknowledged and no longer worked on: visible again now rather than after the lease.
    // Another process may hold the write lock for a moment; past the bound the leases end by themselves.
    const releaseAll = this.db.transaction(() => this.releases.forEach((r) => r()));
    for (const end = Date.now() + 1000; ; ) {
      try {
        releaseAll.immediate();
        break;
      } catch (err) {
        if (!isBusy(err) || Date.now() > end) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    for (const b of this.batch) b.reject(new EngineUnavailableError('embedded engine closed'));
    this.batch = [];
    this.db.close();
  }
}

/** An item from its stored JSON; undefined (with a warning) for a body that does not parse. */
function parseItem(body: string): QueueItem | undefined {
  try {
    return JSON.parse(body) as QueueItem;
  } catch {
    process.emitWarning(`dropped a queue item that is not JSON: ${body.slice(0, 80)}`);
    return undefined;
  }
}

/** A failed write (lock held too long, disk full, I/O): the engine could not serve it now. */
function sqliteUnavailable(err: unknown): EngineUnavailableError {
  const code = (err as { code?: unknown }).code;
  return new EngineUnavailableError(`SQLite ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}`, { cause: err });
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED';
}

/** Runs fn again while it fails with SQLITE_BUSY (pausing 5 ms, doubling up to 100 ms), for at most timeoutMs. */
export function whileBusy<T>(fn: () => T, timeoutMs: number): T {
  const deadline = Date.now() + timeoutMs;
  const pauser = new Int32Array(new SharedArrayBuffer(4));
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      return fn();
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() + pause > deadline) throw err;
      // A synchronous pause: the engine is being constructed, nothing else of it runs yet.
      Atomics.wait(pauser, 0, 0, pause);
    }
  }
}
