import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedEngine } from '../../src/engine/embedded/embedded-engine.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { engineContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

engineContract('embedded (SQLite)', async () => new EmbeddedEngine({ dataDir: dir, queueCapacity: 50 }), { queueCapacity: 50 });

const shared = new MemoryEngine(50);
engineContract('memory (test fake)', async () => shared, { queueCapacity: 50 });

describe('embedded engine specifics', () => {
  it('a queue row that is not JSON is skipped, the rest of the batch is delivered', async () => {
    const engine = new EmbeddedEngine({ dataDir: dir });
    const q = engine.queue('with-a-bad-row');
    await q.offer({ id: 'good-1', msg: 'a', enqueuedAt: '' }, 100);
    const raw = new Database(engine.file);
    raw.prepare('INSERT INTO queue (name, body) VALUES (?, ?)').run('with-a-bad-row', '{not json');
    raw.close();
    await q.offer({ id: 'good-2', msg: 'b', enqueuedAt: '' }, 100);
    const got = await q.pollMany(10, 500);
    assert.deepEqual(got.map((i) => i.id), ['good-1', 'good-2']);
    assert.equal(await q.depth(), 0);
    await engine.close();
  });
});
