import { findHazelcastJar, javaAvailable } from '../../src/engine/hazelcast/jar.js';
import { gate } from './gate.js';

/**
 * Whether Hazelcast tests can run here. Without java or the member jar they
 * are skipped with a message that says so — unless REQUIRE_HAZELCAST=1 (set
 * by CI), which turns the same condition into a failure. `npm test` fetches
 * the jar first when java and mvn are there.
 */
export function hazelcastMissing(): string | undefined {
  if (!javaAvailable()) return 'java is not on PATH (install a Java 17+ runtime)';
  if (!findHazelcastJar()) return 'the Hazelcast member jar is missing (run `npm run hazelcast:fetch`; it needs mvn)';
  return undefined;
}

/** `skip` value for describe()/it(): false when the tests must run. */
export function hazelcastSkip(): string | false {
  return gate({ name: 'Hazelcast', missing: hazelcastMissing, requireEnv: 'REQUIRE_HAZELCAST' });
}
