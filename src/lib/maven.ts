/**
 * Java and Maven helpers shared by the engines that run JVM processes from
 * Maven Central artifacts (Hazelcast members, Kafka brokers). Imports nothing of ours.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

const JAVA_INSTALL =
  '`sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), `brew install openjdk@17` (macOS), ' +
  'or a build from https://adoptium.net; then check `java -version`.';

const MVN_INSTALL =
  '`sudo apt-get install maven` (Debian/Ubuntu), `brew install maven` (macOS), or https://maven.apache.org/download.cgi.';

/** What to tell a user whose PATH has no java; `who` says what needs it ("Hazelcast members"). */
export function javaHint(who: string): string {
  return `java was not found on PATH. ${who} need a Java 17+ runtime: ${JAVA_INSTALL}`;
}

/** What to tell a user whose PATH has no mvn; `what` says what it would fetch ("the member jar"). */
export function mvnHint(what: string): string {
  return `mvn (Apache Maven) was not found on PATH; it is used to fetch ${what} from Maven Central: ${MVN_INSTALL}`;
}

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
export function looksLikeJar(file: string): boolean {
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

/** Runs a command to its end; resolves with its exit code and the last 20 000 characters of its output. */
export function runCommand(cmd: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
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
