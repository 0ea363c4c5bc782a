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
  constructor(private readonly src: Source) {}

  private raw(flag: string, envName: string): { value: string; from: string } | undefined {
    this.used.add(flag);
    const f = this.src.flags.get(flag);
    if (f !== undefined) return { value: f, from: `--${flag}` };
    const e = this.src.env[envName];
    if (e !== undefined && e !== '') return { value: e, from: envName };
    return undefined;
  }

  private fail(flag: string, envName: string, expected: string, got: string): never {
    throw new ConfigError(`invalid setting --${flag} / ${envName}: expected ${expected}, got ${JSON.stringify(got)}`);
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
