/**
 * Parsing of flags and environment variables into typed settings. Each
 * service's config module lists its settings once; a bad value becomes a
 * ConfigError whose one-line message names the flag, the variable and the
 * expected form.
 */

import { ConfigError, isConfigError } from '../lib/errors.js';

/** `--name value`, `--name=value` and bare `--flag` (value "true"); positional words kept in order. */
export function parseArgv(argv: readonly string[]): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') continue;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      flags.set(a.slice(2, eq), a.slice(eq + 1));
    } else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        flags.set(a.slice(2), next);
        i++;
      } else {
        flags.set(a.slice(2), 'true');
      }
    }
  }
  return { flags, positional };
}

type Env = Readonly<Record<string, string | undefined>>;

export interface Source {
  flags: Map<string, string>;
  env: Env;
}

/** Reads settings from flags first, then env, then the default; remembers which flags it used. */
export class SettingsReader {
  private readonly used = new Set<string>();
  private readonly secrets = new Set<string>();
  constructor(private readonly src: Source) {}

  /** The value of this flag is secret: an error about it says what is wrong, never what was given. */
  secret(flag: string): this {
    this.secrets.add(flag);
    return this;
  }

  private raw(flag: string, envName: string): { value: string; from: string } | undefined {
    this.used.add(flag);
    const f = this.src.flags.get(flag);
    if (f !== undefined) return { value: f, from: `--${flag}` };
    const e = this.src.env[envName];
    if (e !== undefined && e !== '') return { value: e, from: envName };
    return undefined;
  }

  private fail(flag: string, envName: string, expected: string, got: string): never {
    const shown = this.secrets.has(flag) ? describeSecret(got) : JSON.stringify(got);
    throw new ConfigError(`invalid setting --${flag} / ${envName}: expected ${expected}, got ${shown}`);
  }

  string(flag: string, envName: string, def: string, pattern?: RegExp, expected = 'a non-empty string'): string {
    const r = this.raw(flag, envName);
    if (!r) return def;
    if (r.value.trim() === '' || (pattern && !pattern.test(r.value)) || (pattern === HOST_PORT && !validPort(r.value))) this.fail(flag, envName, expected, r.value);
    return r.value;
  }

  int(flag: string, envName: string, def: number, min: number, max: number): number {
    const r = this.raw(flag, envName);
    if (!r) return def;
    if (!/^-?\d+$/.test(r.value.trim())) this.fail(flag, envName, `an integer from ${min} to ${max}`, r.value);
    const n = Number(r.value);
    if (!Number.isSafeInteger(n) || n < min || n > max) this.fail(flag, envName, `an integer from ${min} to ${max}`, r.value);
    return n;
  }

  oneOf<T extends string>(flag: string, envName: string, def: T, allowed: readonly T[]): T {
    const r = this.raw(flag, envName);
    if (!r) return def;
    if (!(allowed as readonly string[]).includes(r.value)) this.fail(flag, envName, `one of ${allowed.join(', ')}`, r.value);
    return r.value as T;
  }

  list(flag: string, envName: string, def: string[], itemPattern: RegExp, expected: string): string[] {
    const r = this.raw(flag, envName);
    if (!r) return def;
    const items = r.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (items.length === 0 || items.some((s) => !itemPattern.test(s) || (itemPattern === HOST_PORT && !validPort(s)))) this.fail(flag, envName, expected, r.value);
    return items;
  }

  /** Fails on any flag nobody asked for, so a typo never passes silently. */
  rejectUnknown(): void {
    for (const k of this.src.flags.keys()) {
      if (!this.used.has(k)) throw new ConfigError(`unknown option --${k}`);
    }
  }
}

/** What an error may say of a secret value: its shape, never a character of it. */
export function describeSecret(value: string): string {
  const traits = [`${value.length} character${value.length === 1 ? '' : 's'}`];
  if (/\s/.test(value)) traits.push('with white space');
  return `a value of ${traits.join(', ')} (not shown: it is secret)`;
}

export const HOST_PORT = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;

function validPort(hostPort: string): boolean {
  const port = Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
  return port >= 1 && port <= 65535;
}
export const HOSTNAME = /^[A-Za-z0-9.\-_[\]:]+$/;

/** Runs a settings reader; on a ConfigError prints one line naming the program and exits 2. */
export function readOrExit<T>(program: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (isConfigError(err)) {
      console.error(`${program}: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

// --- Settings declared once, as a table ---

/**
 * One setting: its flag, its environment variable, its default, the values it
 * takes and one line of help. From a table of these come the validation at
 * start, `--help`, the README's configuration table and the checks of
 * `npm run settings -- set`.
 */
export interface Setting<T> {
  flag: string;
  env: string;
  help: string;
  /** The default; a function of the settings read before it when it depends on them. */
  default: T | ((got: Readonly<Record<string, unknown>>) => T);
  /** How a computed default reads in help and docs. */
  defaultText?: string;
  /** The values it takes, in words (e.g. "10–600000", "embedded | hazelcast"). */
  range: string;
  /**
   * A secret (a token): its value is never printed — not in an error about
   * it, `--help`, `npm run settings -- list`, a log line or a command line
   * shown by the launcher — and it is not kept in the engine's settings map.
   */
  secret?: boolean;
  /**
   * Defaults under a named profile (see PROFILE_KEY): e.g. `{ lan: 10000 }`.
   * A flag or variable still wins; without a profile `default` applies.
   */
  profiles?: Readonly<Record<string, T>>;
  /** Reads the value (from the flag, else the env variable, else `def`), validating it. */
  read(r: SettingsReader, def: T): T;
}

/**
 * The key of a table's profile setting. Read before the settings that have
 * `profiles`, its value picks their defaults: a named preset (e.g. `lan`) that
 * changes several defaults at once while explicit flags and variables win.
 */
export const PROFILE_KEY = 'profile';

export type SettingsTable = Readonly<Record<string, Setting<unknown>>>;
export type ValuesOf<T extends SettingsTable> = { -readonly [K in keyof T]: T[K] extends Setting<infer V> ? V : never };

const NAME_CHARS = /^[A-Za-z0-9._-]+$/;
const NAME_WORDS = 'letters, digits, dot, dash or underscore';

export const setting = {
  int: (flag: string, env: string, def: number | ((got: Readonly<Record<string, unknown>>) => number), min: number, max: number, help: string): Setting<number> => ({
    flag, env, help, default: def, range: `${min}–${max}`,
    read: (r, d) => r.int(flag, env, d, min, max),
  }),
  text: (flag: string, env: string, def: string | ((got: Readonly<Record<string, unknown>>) => string), help: string, form?: { pattern: RegExp; expected: string; range?: string }): Setting<string> => ({
    flag, env, help, default: def, range: form?.range ?? form?.expected ?? 'text',
    read: (r, d) => r.string(flag, env, d, form?.pattern, form?.expected),
  }),
  name: (flag: string, env: string, def: string | ((got: Readonly<Record<string, unknown>>) => string), help: string): Setting<string> => ({
    flag, env, help, default: def, range: NAME_WORDS,
    read: (r, d) => r.string(flag, env, d, NAME_CHARS, NAME_WORDS),
  }),
  host: (flag: string, env: string, def: string | ((got: Readonly<Record<string, unknown>>) => string), help: string): Setting<string> => ({
    flag, env, help, default: def, range: 'host name or IP address',
    read: (r, d) => r.string(flag, env, d, HOSTNAME, 'a host name or IP address'),
  }),
  choice: <C extends string>(flag: string, env: string, def: C, choices: readonly C[], help: string): Setting<C> => ({
    flag, env, help, default: def, range: choices.join(' | '),
    read: (r, d) => r.oneOf(flag, env, d, choices),
  }),
  bool: (flag: string, env: string, def: boolean, help: string): Setting<boolean> => ({
    flag, env, help, default: def, range: 'true | false (or 1 | 0)',
    read: (r, d) => ['true', '1'].includes(r.oneOf(flag, env, d ? 'true' : 'false', ['true', 'false', '1', '0'])),
  }),
  addresses: (flag: string, env: string, def: string[], help: string): Setting<string[]> => ({
    flag, env, help, default: def, range: 'host:port,…',
    read: (r, d) => r.list(flag, env, d, HOST_PORT, 'comma-separated host:port addresses'),
  }),
  address: (flag: string, env: string, help: string): Setting<string> => ({
    flag, env, help, default: '', range: 'host:port',
    read: (r, d) => r.string(flag, env, d, HOST_PORT, 'a host:port address'),
  }),
  /** A secret token (none by default): at least `min` characters without white space; its value is never printed. */
  secret: (flag: string, env: string, help: string, min = 16): Setting<string> => ({
    flag, env, help, default: '', defaultText: '(none)', range: `${min}+ characters`, secret: true,
    read: (r, d) => r.secret(flag).string(flag, env, d, new RegExp(`^\\S{${min},}$`), `at least ${min} characters without spaces`),
  }),
} as const;

/** Reads every setting of the table in order, then refuses any flag the table does not name. */
export function readSettings<T extends SettingsTable>(table: T, src: Source): ValuesOf<T> {
  const r = new SettingsReader(src);
  const got: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    const def = defaultOf(s, got);
    if (s.secret) r.secret(s.flag);
    got[key] = s.read(r, def);
  }
  r.rejectUnknown();
  return got as ValuesOf<T>;
}

/** A setting's default given the settings read before it: the profile's value when the chosen profile names one. */
function defaultOf(s: Setting<unknown>, got: Readonly<Record<string, unknown>>): unknown {
  const profile = got[PROFILE_KEY];
  if (typeof profile === 'string' && s.profiles && Object.hasOwn(s.profiles, profile)) return s.profiles[profile];
  return typeof s.default === 'function' ? (s.default as (g: Readonly<Record<string, unknown>>) => unknown)(got) : s.default;
}

/** What each profile sets, from a table: `{ lan: [['attempt-timeout-ms', '10000'], …] }`. */
export function profilesOf(table: SettingsTable): Map<string, Array<[flag: string, value: string]>> {
  const out = new Map<string, Array<[string, string]>>();
  for (const s of Object.values(table)) {
    for (const [name, v] of Object.entries(s.profiles ?? {})) {
      const list = out.get(name) ?? [];
      list.push([s.flag, Array.isArray(v) ? v.join(',') : String(v)]);
      out.set(name, list);
    }
  }
  return out;
}

/** Checks one value given by env name (as `settings set` and the engine's settings map use them), with the message a service would give. */
export function checkSetting(tables: readonly SettingsTable[], envName: string, value: string): Setting<unknown> {
  const s = tables.flatMap((t) => Object.values(t)).find((x) => x.env === envName);
  if (!s) {
    const known = [...new Set(tables.flatMap((t) => Object.values(t).map((x) => x.env)))].sort();
    throw new ConfigError(`unknown setting ${envName}; known: ${known.join(', ')}`);
  }
  const r = new SettingsReader({ flags: new Map(), env: { [envName]: value } });
  if (s.secret) r.secret(s.flag);
  s.read(r, undefined as never);
  return s;
}

/** The settings of these tables marked secret. */
export function secretSettings(tables: readonly SettingsTable[]): Array<Setting<unknown>> {
  return tables.flatMap((t) => Object.values(t)).filter((s) => s.secret === true);
}

/** How a value is shown (`settings list`, `get`): a secret's never is. */
export function shownValue(tables: readonly SettingsTable[], envName: string, value: string): string {
  return secretSettings(tables).some((s) => s.env === envName) ? `(secret: ${value.length} characters, not shown)` : value;
}

/**
 * A command line (as /proc or `ps` shows it, words joined by spaces) with the
 * values of secret flags (`--internal-token X`, `--internal-token=X`) replaced
 * by `***`, for the launcher's messages about other processes. The value is
 * taken to run to the next flag: a bad one may hold spaces.
 */
export function redactCommandLine(cmd: string, tables: readonly SettingsTable[]): string {
  let out = cmd;
  for (const s of secretSettings(tables)) {
    const flag = s.flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(--${flag})(=|\\s+)(?!--).*?(?=\\s--|$)`, 'g'), '$1$2***');
  }
  return out;
}

export function defaultText(s: Setting<unknown>): string {
  // A secret has no default worth showing; were one set, it would not be shown.
  if (s.secret) return s.default === '' ? '(none)' : '(secret)';
  const shown = (d: unknown) => (Array.isArray(d) ? d.join(',') : d === '' ? '(none)' : String(d));
  const base = s.defaultText ?? shown(s.default);
  const byProfile = Object.entries(s.profiles ?? {}).map(([name, v]) => `${name}: ${shown(v)}`);
  return byProfile.length ? `${base} (${byProfile.join(', ')})` : base;
}

/** `--help` text: one line per setting. */
export function formatHelp(usage: string, table: SettingsTable): string {
  const rows = Object.values(table).map((s) => [`--${s.flag}`, s.env, defaultText(s), s.range, s.help]);
  const w = [0, 1, 2].map((i) => Math.min(24, Math.max(...rows.map((r) => r[i]!.length))));
  const lines = rows.map((r) => `  ${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]!.padEnd(w[2]!)}  ${r[4]} (${r[3]})`);
  const profiles = [...profilesOf(table)].map(([name, set]) => `  ${name}: ${set.map(([f, v]) => `--${f} ${v}`).join(', ')}`);
  const profileText = profiles.length ? `\nprofiles (--${PROFILE_KEY} NAME sets these defaults; a flag or variable given explicitly still wins):\n${profiles.join('\n')}\n` : '';
  return `${usage}\n\nsettings (flag, environment variable, default, what it does and takes); a flag wins over the variable:\n${lines.join('\n')}\n${profileText}`;
}

/**
 * The README's table: one row per setting (flag and variable), naming which
 * programs take it; a default that differs between them is given per program.
 */
export function markdownTable(groups: ReadonlyArray<{ who: string; table: SettingsTable }>): string {
  const rows = new Map<string, { s: Setting<unknown>; who: string[]; defaults: Array<[string, string]> }>();
  for (const g of groups) {
    for (const s of Object.values(g.table)) {
      const key = `${s.flag} ${s.env}`;
      const row = rows.get(key) ?? { s, who: [], defaults: [] };
      row.who.push(g.who);
      row.defaults.push([g.who, defaultText(s)]);
      rows.set(key, row);
    }
  }
  const esc = (x: string) => x.replace(/\|/g, '\\|');
  const out = ['| flag | variable | default | takes | used by | what it does |', '|---|---|---|---|---|---|'];
  for (const { s, who, defaults } of rows.values()) {
    const same = defaults.every(([, d]) => d === defaults[0]![1]);
    const def = same ? defaults[0]![1] : defaults.map(([w, d]) => `${d} (${w})`).join(', ');
    out.push(`| \`--${s.flag}\` | \`${s.env}\` | ${esc(def)} | ${esc(s.range)} | ${who.join(', ')} | ${esc(s.help)} |`);
  }
  return out.join('\n');
}

/** Flags and environment of this process: the one place services read `process.env`. */
export function processSource(argv: readonly string[] = process.argv.slice(2)): Source & { positional: string[] } {
  const { flags, positional } = parseArgv(argv);
  return { flags, env: process.env, positional };
}
