import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { staleSources } from '../../src/lib/build-state.js';

test('staleSources: a source without output, or newer than it, is stale; current output is not', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'build-state-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const src = join(root, 'src');
  const dist = join(root, 'dist');
  mkdirSync(join(src, 'cli'), { recursive: true });
  mkdirSync(join(dist, 'cli'), { recursive: true });
  const at = (p: string, s: number) => utimesSync(p, s, s);
  for (const f of ['main.ts', 'cli/a.ts', 'cli/b.ts', 'cli/c.ts', 'types.d.ts']) writeFileSync(join(src, f), '');
  for (const f of ['main.js', 'cli/a.js', 'cli/b.js']) writeFileSync(join(dist, f), '');
  at(join(src, 'main.ts'), 1000);
  at(join(dist, 'main.js'), 2000);
  at(join(src, 'cli/a.ts'), 1000);
  at(join(dist, 'cli/a.js'), 1000);
  at(join(src, 'cli/b.ts'), 3000);
  at(join(dist, 'cli/b.js'), 2000);
  assert.deepEqual(staleSources(src, dist), [join('cli', 'b.ts'), join('cli', 'c.ts')]);
  writeFileSync(join(dist, 'cli/c.js'), '');
  at(join(src, 'cli/b.ts'), 1500);
  assert.deepEqual(staleSources(src, dist), [], 'declaration files have no output; the rest is current');
});
