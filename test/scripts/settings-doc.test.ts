import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { README, renderReadme } from '../../scripts/settings-doc.js';
import { SERVICE_NAMES, SETTINGS_TABLES } from '../../src/services/config.js';

describe("the README's configuration tables", () => {
  test('are what the settings tables say now (run `npm run settings:doc` after changing a setting)', () => {
    const text = readFileSync(README, 'utf8');
    assert.equal(renderReadme(text), text, 'README.md is stale: run `npm run settings:doc`');
  });

  test('name every flag of every service', () => {
    const text = readFileSync(README, 'utf8');
    for (const s of SERVICE_NAMES) for (const x of Object.values(SETTINGS_TABLES[s])) assert.ok(text.includes(`| \`--${x.flag}\` | \`${x.env}\` |`), `--${x.flag} of ${s} is missing`);
  });

  test('a stale table is noticed', () => {
    const text = readFileSync(README, 'utf8').replace('| `--body-limit` | `BODY_LIMIT` | 65536 |', '| `--body-limit` | `BODY_LIMIT` | 1 |');
    assert.notEqual(renderReadme(text), text);
  });
});
