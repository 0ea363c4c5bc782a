import { ensureKafkaJars, findKafkaClasspath, isKafkaSetupError, javaAvailable } from '../../src/engine/kafka/jars.js';

/**
 * Whether Kafka tests can run here: java, and the broker jars (fetched now
 * when mvn is there). Without them the suite is skipped with one line saying
 * what is missing, unless REQUIRE_KAFKA=1 (CI), which makes that a failure.
 */
export async function kafkaSkip(): Promise<string | false> {
  let missing: string | undefined;
  if (!javaAvailable()) missing = 'java is not on PATH (install a Java 17+ runtime)';
  else if (!findKafkaClasspath()) {
    try {
      await ensureKafkaJars({ log: (line) => console.log(`# ${line}`) });
    } catch (e) {
      missing = isKafkaSetupError(e) && e.missing === 'mvn' ? 'the Kafka broker jars are missing and mvn is not on PATH to fetch them (`npm run kafka:fetch`)' : `the Kafka broker jars could not be fetched: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (!missing) return false;
  if (process.env.REQUIRE_KAFKA === '1') throw new Error(`REQUIRE_KAFKA=1 but ${missing}`);
  const why = `Kafka tests skipped: ${missing}`;
  console.log(`# ${why}`);
  return why;
}
