import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { javaHint, looksLikeJar, mvnAvailable, mvnHint, runCommand } from '../../lib/maven.js';
export { javaAvailable, mvnAvailable } from '../../lib/maven.js';

/** Member version the lab runs. The Node client (5.6.x) speaks the same 5.x client protocol. */
export const HAZELCAST_VERSION = '5.7.0';
export const HAZELCAST_ARTIFACT = `com.hazelcast:hazelcast:${HAZELCAST_VERSION}:jar`;

/** Repository root: this file sits at src/engine/hazelcast/. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where `npm run hazelcast:fetch` puts the member jar (git-ignored). */
export const defaultJarPath = join(repoRoot, '.cache', 'hazelcast', `hazelcast-${HAZELCAST_VERSION}.jar`);

/** Thrown when a tool needed to run or fetch Hazelcast members is absent. */
export class HazelcastSetupError extends Error {
  readonly isHazelcastSetupError = true;
  constructor(
    message: string,
    /** Which tool is missing, when that is the cause. */
    readonly missing?: 'java' | 'mvn' | 'jar',
  ) {
    super(message);
    this.name = 'HazelcastSetupError';
  }
}

export function isHazelcastSetupError(e: unknown): e is HazelcastSetupError {
  return typeof e === 'object' && e !== null && (e as { isHazelcastSetupError?: unknown }).isHazelcastSetupError === true;
}

export const JAVA_HINT = javaHint('Hazelcast members');

export const MVN_HINT =
  mvnHint('the member jar') +
  ` Alternatively download https://repo1.maven.org/maven2/com/hazelcast/hazelcast/${HAZELCAST_VERSION}/hazelcast-${HAZELCAST_VERSION}.jar ` +
  `by hand to ${defaultJarPath}.`;

/** The jar path if the jar is already in place, else undefined. Never downloads. */
export function findHazelcastJar(jarPath = defaultJarPath): string | undefined {
  return existsSync(jarPath) && looksLikeJar(jarPath) ? jarPath : undefined;
}

export interface EnsureJarOptions {
  /** Target file. Default `.cache/hazelcast/hazelcast-<version>.jar` under the repo root. */
  jarPath?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/**
 * Returns the member jar path, fetching it with Maven first if it is absent.
 * `dependency:get` is not used: it resolves through the repositories named in
 * Hazelcast's POM, some of which are unreachable; `dependency:copy` of the one
 * artifact only needs Maven Central. The copy lands in a temp folder next to
 * the target and is renamed into place, so an interrupted fetch leaves no
 * half-written jar behind.
 */
export async function ensureHazelcastJar(opts: EnsureJarOptions = {}): Promise<string> {
  const jarPath = opts.jarPath ?? defaultJarPath;
  const log = opts.log ?? (() => {});
  if (findHazelcastJar(jarPath)) return jarPath;
  if (!mvnAvailable()) throw new HazelcastSetupError(MVN_HINT, 'mvn');

  const dir = dirname(jarPath);
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(join(dir, '.fetch-'));
  try {
    log(`fetching ${HAZELCAST_ARTIFACT} from Maven Central into ${dir} …`);
    const args = [
      '-q',
      '-B',
      'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy',
      `-Dartifact=${HAZELCAST_ARTIFACT}`,
      `-DoutputDirectory=${tmp}`,
    ];
    // Run inside the temp folder so no pom.xml around us is picked up.
    const { code, output } = await runCommand('mvn', args, tmp);
    const got = readdirSync(tmp).find((f) => f.endsWith('.jar'));
    if (code !== 0 || !got || !looksLikeJar(join(tmp, got))) {
      throw new HazelcastSetupError(
        `mvn could not fetch ${HAZELCAST_ARTIFACT} (exit ${code}).` + (output.trim() ? `\n${output.trim().slice(-4000)}` : ''),
      );
    }
    renameSync(join(tmp, got), jarPath);
    log(`saved ${jarPath}`);
    return jarPath;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
