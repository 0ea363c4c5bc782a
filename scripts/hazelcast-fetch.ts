/**
 * `npm run hazelcast:fetch`: puts the Hazelcast member jar into .cache/hazelcast/
 * (no-op when it is already there) and checks that java can run it.
 */
import { ensureHazelcastJar, isHazelcastSetupError, javaAvailable, JAVA_HINT } from '../src/engine/hazelcast/jar.js';

try {
  const jar = await ensureHazelcastJar({ log: (line) => console.log(line) });
  console.log(`hazelcast jar: ${jar}`);
  if (!javaAvailable()) {
    console.error(`missing: java\n${JAVA_HINT}`);
    process.exitCode = 1;
  }
} catch (e) {
  if (isHazelcastSetupError(e) && e.missing) console.error(`missing: ${e.missing}\n${e.message}`);
  else console.error(e instanceof Error ? e.message : String(e));
  if (!javaAvailable()) console.error(`missing: java\n${JAVA_HINT}`);
  process.exitCode = 1;
}
