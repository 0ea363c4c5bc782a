import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { joinJsonTexts } from '../../lib/json-text.js';

import type { ConsumedEntry } from '../../contracts/http.js';

export type { ConsumedEntry };

/**
 * This instance's own durable store: a SQLite file (or ':memory:' in tests).
 * Deduplicated on id, kept in consumption order; survives restarts.
 */
export class ConsumedStore {
  private readonly db: Database.Database;
  private readonly insertQ: Database.Statement;
  private readonly allQ: Database.Statement<[], { body: string }>;
  private readonly countQ: Database.Statement<[], { n: number }>;
  private readonly pageQ: Database.Statement<[number, number], { seq: number; body: string }>;
  private readonly newestQ: Database.Statement<[number], { body: string }>;
  /** Rows stored: counted once at open, then kept by add() (this instance is the store's only writer). */
  private stored: number;
  private readonly addManyTx: Database.Transaction<(entries: ConsumedEntry[]) => boolean[]>;
  private closed = false;

  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS consumed (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)');
    this.insertQ = this.db.prepare('INSERT INTO consumed (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
    this.allQ = this.db.prepare('SELECT body FROM consumed ORDER BY seq');
    this.countQ = this.db.prepare('SELECT count(*) AS n FROM consumed');
    this.pageQ = this.db.prepare('SELECT seq, body FROM consumed WHERE seq > ? ORDER BY seq LIMIT ?');
    this.newestQ = this.db.prepare('SELECT body FROM consumed ORDER BY seq DESC LIMIT ?');
    this.stored = this.countQ.get()!.n;
    this.addManyTx = this.db.transaction((entries: ConsumedEntry[]) => entries.map((e) => this.insert(e)));
  }

  /** True when new; false when this id was already stored. */
  add(entry: ConsumedEntry): boolean {
    const added = this.insert(entry);
    if (added) this.stored++;
    return added;
  }

  private insert(entry: ConsumedEntry): boolean {
    return this.insertQ.run(entry.id, JSON.stringify(entry)).changes === 1;
  }

  /** add() for many entries in one transaction; one flag per entry. */
  addMany(entries: ConsumedEntry[]): boolean[] {
    // Counted once the transaction committed: a rolled-back one stored nothing.
    const added = this.addManyTx(entries);
    for (const a of added) if (a) this.stored++;
    return added;
  }

  list(): ConsumedEntry[] {
    return this.allQ.all().map((r) => JSON.parse(r.body) as ConsumedEntry);
  }

  /** One page in consumption order after the cursor, as JSON text, and the next cursor if more follow. */
  pageJson(limit: number, after?: string): { json: string; next?: string } {
    const from = after === undefined ? 0 : Number(after);
    if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`bad cursor: ${after}`);
    const rows = this.pageQ.all(from, limit + 1);
    const more = rows.length > limit;
    const kept = more ? rows.slice(0, limit) : rows;
    return more ? { json: joinJsonTexts(kept), next: String(kept[kept.length - 1]!.seq) } : { json: joinJsonTexts(kept) };
  }

  /** list() as JSON text, joined from the stored texts without parsing them. */
  listJson(): string {
    return joinJsonTexts(this.allQ.all());
  }

  /** The newest `limit` entries, newest first, as JSON text: reads only those rows. */
  newestJson(limit: number): string {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`bad limit: ${limit}`);
    return joinJsonTexts(this.newestQ.all(limit));
  }

  /** Entries stored, without counting the table. */
  count(): number {
    return this.stored;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
