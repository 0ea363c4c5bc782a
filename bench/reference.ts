/**
 * The reference pipeline: two plain Fastify processes (bench/reference-server.mjs),
 * front → keep-alive undici pool → store (a Map). Run with plain `node`, no loader.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/topology/topology.js';
import type { Tracked } from './memory.js';

const SERVER = fileURLToPath(new URL('./reference-server.mjs', import.meta.url));

export interface Reference {
  frontUrl: string;
  storeUrl: string;
  tracked: Tracked[];
  /** Entries the store holds. */
  count(): Promise<number>;
  stop(): Promise<void>;
}

interface Child {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  tail: string[];
}

function launch(name: string, args: string[]): Child {
  const child = spawn(process.execPath, [SERVER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    createInterface({ input: s }).on('line', (l) => {
      tail.push(l);
      if (tail.length > 20) tail.shift();
    });
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { name, child, exited, tail };
}

async function waitReady(url: string, c: Child, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) break;
    try {
      const r = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${c.name} did not become ready\n${c.tail.join('\n')}`);
}

async function stopChild(c: Child): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const t = setTimeout(() => c.child.kill('SIGKILL'), 5000);
  await c.exited;
  clearTimeout(t);
}

/** `track` receives stop() before anything starts, so an interrupt during start-up can stop what did start. */
export async function startReference(track?: (stop: () => Promise<void>) => void): Promise<Reference> {
  const storePort = await freePort();
  let frontPort = await freePort();
  while (frontPort === storePort) frontPort = await freePort();
  const storeUrl = `http://127.0.0.1:${storePort}`;
  const frontUrl = `http://127.0.0.1:${frontPort}`;
  const children: Child[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
  };
  track?.(stop);
  try {
    const store = launch('ref-store', ['store', String(storePort)]);
    children.push(store);
    await waitReady(storeUrl, store);
    const front = launch('ref-front', ['front', String(frontPort), storeUrl]);
    children.push(front);
    await waitReady(frontUrl, front);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    frontUrl,
    storeUrl,
    tracked: children.map((c) => ({ name: c.name, kind: 'node' as const, pid: c.child.pid })),
    count: async () => ((await (await fetch(`${storeUrl}/log/count`)).json()) as { count: number }).count,
    stop,
  };
}
