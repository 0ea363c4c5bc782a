import { ensureKafkaJars, findKafkaClasspath, isKafkaSetupError, javaAvailable } from '../../src/engine/kafka/jars.js';
import { gate, notSelected } from './gate.js';

/** Why Kafka tests cannot run here, or undefined: java, and the broker jars (fetched now when mvn is there). */
async function kafkaMissing(): Promise<string | undefined> {
  if (!javaAvailable()) return 'java is not on PATH (install a Java 17+ runtime)';
  if (findKafkaClasspath()) return undefined;
  try {
    await ensureKafkaJars({ log: (line) => console.log(`# ${line}`) });
    return undefined;
  } catch (e) {
    return isKafkaSetupError(e) && e.missing === 'mvn'
      ? 'the Kafka broker jars are missing and mvn is not on PATH to fetch them (`npm run kafka:fetch`)'
      : `the Kafka broker jars could not be fetched: ${(e as Error).message.split('\n')[0]}`;
  }
}

/**
 * `skip` value for describe()/it(): false when Kafka tests can run. Without
 * java or the jars they are skipped with one line saying what is missing,
 * unless REQUIRE_KAFKA=1 (CI), which makes that a failure.
 */
export async function kafkaSkip(): Promise<string | false> {
  // Not selected: skipped without looking for (or fetching) the jars.
  const missing = notSelected('Kafka') ? undefined : await kafkaMissing();
  return gate({ name: 'Kafka', missing: () => missing, requireEnv: 'REQUIRE_KAFKA' });
}
