/**
 * `npm run kafka:fetch`: puts the Kafka broker jars into .cache/kafka/
 * (no-op when they are already there) and checks that java can run them.
 */
import { ensureKafkaJars, defaultKafkaLibDir, isKafkaSetupError, javaAvailable, KAFKA_JAVA_HINT } from '../src/engine/kafka/jars.js';

try {
  await ensureKafkaJars({ log: (line) => console.log(line) });
  console.log(`kafka jars: ${defaultKafkaLibDir}`);
  if (!javaAvailable()) {
    console.error(`missing: java\n${KAFKA_JAVA_HINT}`);
    process.exitCode = 1;
  }
} catch (e) {
  if (isKafkaSetupError(e) && e.missing) console.error(`missing: ${e.missing}\n${e.message}`);
  else console.error(e instanceof Error ? e.message : String(e));
  if (!javaAvailable()) console.error(`missing: java\n${KAFKA_JAVA_HINT}`);
  process.exitCode = 1;
}
