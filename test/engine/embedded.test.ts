import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { EmbeddedEngine } from '../../src/engine/embedded/embedded-engine.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { engineContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

engineContract('embedded (SQLite)', async () => new EmbeddedEngine({ dataDir: dir, queueCapacity: 50 }), { queueCapacity: 50 });

const shared = new MemoryEngine(50);
engineContract('memory (test fake)', async () => shared, { queueCapacity: 50 });
