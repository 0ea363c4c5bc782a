#!/usr/bin/env node
/**
 * `npm run settings -- list | get NAME | set NAME VALUE | unset NAME [--engine ... --data-dir ... --hz-members ...]`
 * Reads and writes the settings kept in the engine. Services read them at
 * start where no flag or env var sets the same name; names are the env names.
 */
import { createEngine } from '../engine/factory.js';
import { readCommon, SETTINGS_MAP } from '../shared/common-config.js';
import { createLogger } from '../shared/logger.js';
import { ConfigError } from '../lib/errors.js';
import { parseArgv, SettingsReader } from '../shared/settings.js';

async function main(): Promise<void> {
  const { flags, positional } = parseArgv(process.argv.slice(2));
  const r = new SettingsReader({ flags, env: process.env });
  const common = readCommon(r, 'settings', 0);
  r.rejectUnknown();
  const [cmd, name, value] = positional;
  if (!cmd || !['list', 'get', 'set', 'unset'].includes(cmd) || (cmd !== 'list' && !name) || (cmd === 'set' && value === undefined)) {
    console.error('usage: settings list | get NAME | set NAME VALUE | unset NAME   (NAME is an env name, e.g. ATTEMPT_TIMEOUT_MS)');
    process.exit(2);
  }
  if (name && !/^[A-Z][A-Z0-9_]*$/.test(name)) throw new ConfigError(`setting names are env names (A-Z, 0-9, _), got ${JSON.stringify(name)}`);
  const engine = await createEngine(common.engine, createLogger('settings', 'warn', false), 'settings-cli');
  try {
    const kv = engine.kv<string>(SETTINGS_MAP);
    if (cmd === 'list') for (const [k, v] of await kv.entries()) console.log(`${k}=${v}`);
    if (cmd === 'get') console.log((await kv.get(name!)) ?? '(not set)');
    if (cmd === 'set') await kv.set(name!, value!);
    if (cmd === 'unset') await kv.delete(name!);
  } finally {
    await engine.close();
  }
}

main().catch((err) => {
  console.error(`settings: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
