import { findHazelcastJar, javaAvailable } from '../../src/engine/hazelcast/jar.js';

/**
 * Whether Hazelcast tests can run here. Without java or the member jar they
 * are skipped with a message that says so — unless REQUIRE_HAZELCAST=1 (set
 * by CI), which turns the same condition into a failure.
 */
export const hazelcastMissing: string | undefined = !javaAvailable()
  ? 'java is not on PATH (install a Java 17+ runtime)'
  : !findHazelcastJar()
    ? 'the Hazelcast member jar is missing (run `npm run hazelcast:fetch`)'
    : undefined;

export const hazelcastRequired = process.env.REQUIRE_HAZELCAST === '1';

/** `skip` value for describe(): false when the tests must run. */
export function hazelcastSkip(): string | false {
  if (!hazelcastMissing) return false;
  if (hazelcastRequired) throw new Error(`REQUIRE_HAZELCAST=1 but ${hazelcastMissing}`);
  const why = `Hazelcast tests skipped: ${hazelcastMissing}`;
  console.log(`# ${why}`);
  return why;
}
