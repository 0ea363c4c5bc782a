/**
 * The Kafka broker's jars, fetched from Maven Central on first use into a
 * git-ignored cache. No tarball and no Docker: `kafka_2.13` with its runtime
 * dependencies is the whole broker (its `kafka.Kafka` main class and the
 * `kafka.tools.StorageTool` that formats a KRaft log dir).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { javaHint, looksLikeJar, mvnAvailable, mvnHint, runCommand } from '../../lib/maven.js';
export { javaAvailable } from '../../lib/maven.js';

export const KAFKA_VERSION = '4.4.0';
/** Without an SLF4J binding the broker logs nothing at all. */
const LOG4J_SLF4J = 'org.apache.logging.log4j:log4j-slf4j-impl:2.25.5';

/** Repository root: this file sits at src/engine/kafka/. */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where `npm run kafka:fetch` puts the broker jars (git-ignored). */
export const defaultKafkaLibDir = join(repoRoot, '.cache', 'kafka', `kafka-${KAFKA_VERSION}`);

/** Written last by a fetch: its presence says the folder holds the whole set. */
const COMPLETE = 'jars.txt';

export const KAFKA_JAVA_HINT = javaHint('Kafka brokers');
export const KAFKA_MVN_HINT = mvnHint(`the Kafka ${KAFKA_VERSION} broker jars (about 45 MB)`);

/** Thrown when a tool needed to run or fetch Kafka brokers is absent. */
export class KafkaSetupError extends Error {
  readonly isKafkaSetupError = true;
  constructor(
    message: string,
    /** Which tool is missing, when that is the cause. */
    readonly missing?: 'java' | 'mvn' | 'jars',
  ) {
    super(message);
    this.name = 'KafkaSetupError';
  }
}

export function isKafkaSetupError(e: unknown): e is KafkaSetupError {
  return typeof e === 'object' && e !== null && (e as { isKafkaSetupError?: unknown }).isKafkaSetupError === true;
}

/** The broker's class path if the jars are in place, else undefined. Never downloads. */
export function findKafkaClasspath(libDir = defaultKafkaLibDir): string | undefined {
  const list = join(libDir, COMPLETE);
  if (!existsSync(list)) return undefined;
  const jars = readFileSync(list, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((name) => join(libDir, name));
  if (jars.length === 0 || !jars.every(looksLikeJar)) return undefined;
  return jars.join(delimiter);
}

export interface EnsureKafkaOptions {
  /** Target folder. Default `.cache/kafka/kafka-<version>/` under the repo root. */
  libDir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

function pom(): string {
  const [g, a, v] = LOG4J_SLF4J.split(':');
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.hazel-lab</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>
  </dependencies>
</project>
`;
}

/**
 * Returns the broker class path, fetching the jars with Maven first if they
 * are absent. A throw-away POM names the broker and a logging binding;
 * `dependency:copy-dependencies` copies them with their runtime dependencies
 * into a temp folder that is renamed into place, so an interrupted fetch
 * leaves no half set behind.
 */
export async function ensureKafkaJars(opts: EnsureKafkaOptions = {}): Promise<string> {
  const libDir = opts.libDir ?? defaultKafkaLibDir;
  const log = opts.log ?? (() => {});
  const found = findKafkaClasspath(libDir);
  if (found) return found;
  if (!mvnAvailable()) throw new KafkaSetupError(KAFKA_MVN_HINT, 'mvn');

  const parent = dirname(libDir);
  mkdirSync(parent, { recursive: true });
  const tmp = mkdtempSync(join(parent, '.fetch-'));
  try {
    log(`fetching org.apache.kafka:kafka_2.13:${KAFKA_VERSION} and its runtime dependencies from Maven Central into ${libDir} …`);
    writeFileSync(join(tmp, 'pom.xml'), pom());
    const out = join(tmp, 'lib');
    const { code, output } = await runCommand(
      'mvn',
      ['-B', '-q', 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${out}`],
      tmp,
    );
    const jars = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.jar')) : [];
    if (code !== 0 || !jars.some((j) => j.startsWith('kafka_2.13-')) || !jars.every((j) => looksLikeJar(join(out, j)))) {
      throw new KafkaSetupError(`mvn could not fetch the Kafka broker jars (exit ${code}).` + (output.trim() ? `\n${output.trim().slice(-4000)}` : ''));
    }
    writeFileSync(join(out, COMPLETE), jars.sort().join('\n') + '\n');
    rmSync(libDir, { recursive: true, force: true });
    renameSync(out, libDir);
    log(`saved ${jars.length} jars in ${libDir}`);
    return findKafkaClasspath(libDir)!;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
