/** Settings sources and the check of a ConfigError, shared by the settings and config loader tests. */
import assert from 'node:assert/strict';
import { ConfigError, isConfigError } from '../../src/lib/errors.js';
import { parseArgv, type Source } from '../../src/shared/settings.js';

export const src = (argv: string[] = [], env: Record<string, string | undefined> = {}): Source => ({ flags: parseArgv(argv).flags, env });

/** Runs fn, expects a ConfigError, returns its message after checking it is one line. */
export function configError(fn: () => unknown): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, 'expected a ConfigError, nothing was thrown');
  assert.ok(isConfigError(caught), `expected a ConfigError, got ${String(caught)}`);
  assert.ok(caught instanceof ConfigError);
  assert.equal(caught.name, 'ConfigError');
  assert.doesNotMatch(caught.message, /[\r\n]/, 'the message is one line');
  return caught.message;
}
