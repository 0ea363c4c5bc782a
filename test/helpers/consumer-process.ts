import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EngineConfig } from '../../src/engine/config.js';
import { loadLoggingConfig } from '../../src/services/logging/config.js';

const script = fileURLToPath(new URL('./receive-and-hold.ts', import.meta.url));

/** An engine config as a service would read it with no settings given, with these changed. */
export function engineConfigWith(changes: Partial<EngineConfig>): EngineConfig {
  return { ...loadLoggingConfig({ flags: new Map(), env: {} }).engine, ...changes };
}

/**
 * Runs a consumer in another process that receives `n` items of the queue,
 * and kills it (SIGKILL) as soon as it reports them: it never acknowledges.
 * Resolves with the ids it held.
 */
export function receiveAndDie(engine: EngineConfig) {
  return (queue: string, n: number): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify({ engine, queue, n })], { stdio: ['ignore', 'pipe', 'inherit'] });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('the consumer process reported nothing within 90 s'));
      }, 90_000);
      createInterface({ input: child.stdout }).once('line', (line) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        child.once('exit', () => resolve(JSON.parse(line) as string[]));
      });
      child.once('error', reject);
    });
}
