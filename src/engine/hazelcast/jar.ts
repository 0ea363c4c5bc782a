import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

export const JAVA_HINT =
  'java was not found on PATH. Hazelcast members need a Java 17+ runtime: ' +
  '`sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), `brew install openjdk@17` (macOS), ' +
  'or a build from https://adoptium.net; then check `java -version`.';

export const MVN_HINT =
  'mvn (Apache Maven) was not found on PATH; it is used to fetch the member jar from Maven Central: ' +
  '`sudo apt-get install maven` (Debian/Ubuntu), `brew install maven` (macOS), or https://maven.apache.org/download.cgi. ' +
  `Alternatively download https://repo1.maven.org/maven2/com/hazelcast/hazelcast/${HAZELCAST_VERSION}/hazelcast-${HAZELCAST_VERSION}.jar ` +
  `by hand to ${defaultJarPath}.`;

function runs(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
  return r.error === undefined && r.status === 0;
}

let javaChecked: boolean | undefined;
/** True when `java -version` runs. Cached after the first call. */
export function javaAvailable(): boolean {
  javaChecked ??= runs('java', ['-version']);
  return javaChecked;
}

/** True when `mvn -v` runs. */
export function mvnAvailable(): boolean {
  return runs('mvn', ['-v']);
}

/** A jar is a zip: check the magic bytes so a truncated/HTML download is not taken for the jar. */
function looksLikeJar(file: string): boolean {
  try {
    if (statSync(file).size < 1024) return false;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(2);
      readSync(fd, buf, 0, 2, 0);
      return buf.toString('latin1') === 'PK';
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

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
    const { code, output } = await run('mvn', args, tmp);
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

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
  });
}
