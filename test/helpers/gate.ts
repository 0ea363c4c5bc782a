/**
 * One shape for every test that needs something the machine may not have
 * (Hazelcast's java and jar, a Kafka jar, root for network namespaces, …).
 *
 * The returned value goes straight into describe()/it() as `skip`. The skip
 * reason is what `npm test` (scripts/test.ts) lists in its closing summary, so
 * it must say what is missing and how to get it.
 */
export interface GateOptions {
  /** What the gated tests exercise, as the reason names it: 'Hazelcast', 'Kafka', … */
  name: string;
  /** Why the tests cannot run here (what is missing and how to get it), or undefined when they can. */
  missing: () => string | undefined;
  /** Variable that, set to 1 (CI does), turns a missing prerequisite into a failure instead of a skip. */
  requireEnv: string;
}

/**
 * Set to 1 (by `scripts/test.ts --embedded`), every gated suite is skipped as
 * not selected, whatever the machine has: the run covers the embedded engine.
 */
export const EMBEDDED_ONLY_ENV = 'TEST_EMBEDDED_ONLY';

/** The skip reason when the run covers the embedded engine only, else undefined. */
export function notSelected(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[EMBEDDED_ONLY_ENV] === '1' ? skipReason(name, 'not selected (--embedded runs the embedded engine only)') : undefined;
}

/** Gated tests' skip reasons start with this; scripts/test.ts does not depend on it, people reading logs do. */
export function skipReason(name: string, why: string): string {
  return `${name} tests skipped: ${why}`;
}

/** `skip` value for describe()/it(): false when the tests can run, else the reason; throws when required. */
export function gate(opts: GateOptions, env: NodeJS.ProcessEnv = process.env): string | false {
  const unselected = notSelected(opts.name, env);
  if (unselected) return unselected;
  const why = opts.missing();
  if (why === undefined) return false;
  if (env[opts.requireEnv] === '1') throw new Error(`${opts.requireEnv}=1 but ${why}`);
  const reason = skipReason(opts.name, why);
  // Also in the log where the file runs, next to the tests it concerns.
  console.log(`# ${reason}`);
  return reason;
}
