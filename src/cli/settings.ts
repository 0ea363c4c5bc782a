#!/usr/bin/env node
/**
 * `npm run settings -- list | get NAME | set NAME VALUE | unset NAME [--engine ... --data-dir ... --hz-members ...]`
 * Reads and writes the settings kept in the engine. Services read them at
 * start where no flag or env var sets the same name; names are the env names.
 * A value is checked as the services would check it before it is stored.
 */
import { createEngine } from '../engine/factory.js';
import { ConfigError, isConfigError } from '../lib/errors.js';
import { SERVICE_NAMES, SETTINGS_TABLES } from '../services/config.js';
import { commonFrom, commonSettings, SETTINGS_MAP } from '../shared/common-config.js';
import { createLogger } from '../shared/logger.js';
import { checkSetting, formatHelp, processSource, readSettings, secretSettings, shownValue } from '../shared/settings.js';

const USAGE = 'usage: npm run settings -- list | get NAME | set NAME VALUE | unset NAME   (NAME is an env name, e.g. ATTEMPT_TIMEOUT_MS)';
const c = commonSettings('settings', 0);
/** Where the settings live: the engine a service would use. */
const connection = { engine: c.engine, dataDir: c.dataDir, queueCapacity: c.queueCapacity, hzMembers: c.hzMembers, hzMember: c.hzMember, hzClusterName: c.hzClusterName, hzConnectTimeoutMs: c.hzConnectTimeoutMs };

async function main(): Promise<void> {
  const src = processSource();
  if (src.flags.has('help')) {
    console.log(formatHelp(USAGE, connection));
    return;
  }
  const v = readSettings(connection, src);
  const [cmd, name, value] = src.positional;
  if (!cmd || !['list', 'get', 'set', 'unset'].includes(cmd) || (cmd !== 'list' && !name) || (cmd === 'set' && value === undefined)) {
    console.error(USAGE);
    process.exit(2);
  }
  const tables = SERVICE_NAMES.map((s) => SETTINGS_TABLES[s]);
  if (name && !/^[A-Z][A-Z0-9_]*$/.test(name)) throw new ConfigError(`setting names are env names (A-Z, 0-9, _), got ${JSON.stringify(name)}`);
  // A secret is not kept where anyone who reaches the engine could read it (Hazelcast's open-source
  // members have no authentication), and its value is never printed, even to say it is wrong.
  if (cmd === 'set' && secretSettings(tables).some((s) => s.env === name)) {
    throw new ConfigError(`${name} is a secret: it is not kept in the engine, where anyone who reaches the engine could read it; give it to each service by its file setting (e.g. --internal-token-file) or environment variable`);
  }
  // The same check a service makes at start: an unknown name or a bad value is refused, nothing stored.
  if (cmd === 'set') checkSetting(tables, name!, value!);
  const defaults = readSettings(c, { flags: new Map(), env: {} });
  const engineConfig = commonFrom({ ...defaults, ...v }, false).engine;
  const engine = await createEngine(engineConfig, createLogger('settings', 'warn', false), 'settings-cli');
  try {
    const kv = engine.kv<string>(SETTINGS_MAP);
    if (cmd === 'list') for (const [k, val] of await kv.entries()) console.log(`${k}=${shownValue(tables, k, String(val))}`);
    if (cmd === 'get') {
      const val = await kv.get(name!);
      console.log(val === undefined ? '(not set)' : shownValue(tables, name!, String(val)));
    }
    if (cmd === 'set') await kv.set(name!, value!);
    if (cmd === 'unset') await kv.delete(name!);
  } finally {
    await engine.close();
  }
}

main().catch((err) => {
  console.error(`settings: ${(err as Error).message}`);
  process.exit(isConfigError(err) ? 2 : 1);
});
