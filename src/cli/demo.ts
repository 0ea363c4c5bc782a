#!/usr/bin/env node
/**
 * `npm run demo [-- --url http://127.0.0.1:8000 --count 10 --reads 4]`
 * The lab's experiment against a running system: sends msg1..msgN, shows
 * which logging instance logged and which messages instance consumed each,
 * then reads through the facade a few times.
 */
import { ConfigError } from '../lib/errors.js';
import { processSource, SettingsReader } from '../shared/settings.js';

interface Entry {
  id: string;
  msg: string;
  loggedBy?: string;
  consumedBy?: string;
}

export interface DemoRow {
  msg: string;
  id: string;
  loggedBy: string;
  consumedBy: string;
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} → ${res.status} ${body}`);
  return JSON.parse(body) as T;
}

/** Sends the messages and waits until each is logged and consumed; returns one row per message. */
export async function runExperiment(base: string, count: number, prefix = 'msg', waitMs = 15_000): Promise<DemoRow[]> {
  const sent: Array<{ msg: string; id: string }> = [];
  for (let i = 1; i <= count; i++) {
    const msg = `${prefix}${i}`;
    const { id } = await json<{ id: string }>(`${base}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ msg }),
    });
    sent.push({ msg, id });
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { logging } = await json<{ logging: Entry[] }>(`${base}/messages`);
    const instances = await json<Array<{ service: string; url: string; instance: string }>>(`${base}/instances`);
    const consumed = new Map<string, string>();
    for (const inst of instances.filter((x) => x.service === 'messages')) {
      try {
        for (const e of await json<Entry[]>(`${inst.url}/messages`)) consumed.set(e.id, e.consumedBy ?? inst.instance);
      } catch {
        // An instance that is down shows as not consumed yet.
      }
    }
    const logged = new Map(logging.map((e) => [e.id, e.loggedBy ?? '?']));
    const rows = sent.map((s) => ({ msg: s.msg, id: s.id, loggedBy: logged.get(s.id) ?? '(missing)', consumedBy: consumed.get(s.id) ?? '(not yet)' }));
    if (rows.every((r) => r.consumedBy !== '(not yet)' && r.loggedBy !== '(missing)') || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function table(headers: string[], rows: string[][]): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i]!)).join('  ');
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const r = new SettingsReader(processSource());
  const base = r.string('url', 'FACADE_URL', 'http://127.0.0.1:8000', /^https?:\/\/[^\s]+$/, 'an http(s) URL').replace(/\/$/, '');
  const count = r.int('count', 'DEMO_COUNT', 10, 1, 10_000);
  const reads = r.int('reads', 'DEMO_READS', 4, 0, 100);
  r.rejectUnknown();

  console.log(`sending msg1..msg${count} to ${base}/messages …\n`);
  const rows = await runExperiment(base, count);
  console.log(table(['message', 'id', 'logged by', 'consumed by'], rows.map((x) => [x.msg, x.id.slice(0, 8), x.loggedBy, x.consumedBy])));
  const tally = (key: 'loggedBy' | 'consumedBy') =>
    [...rows.reduce((m, x) => m.set(x[key], (m.get(x[key]) ?? 0) + 1), new Map<string, number>())].map(([k, n]) => `${k}: ${n}`).join(', ');
  console.log(`\nlogged:   ${tally('loggedBy')}\nconsumed: ${tally('consumedBy')}\n`);
  const sentIds = new Set(rows.map((x) => x.id));

  for (let i = 1; i <= reads; i++) {
    const res = await json<{ logging: Entry[]; messages: Entry[]; messagesInstance: string | null; note?: string }>(`${base}/messages`);
    // Only this run's messages: a system that ran before holds many more.
    const ours = res.messages.filter((e) => sentIds.has(e.id));
    const others = res.messages.length - ours.length;
    const texts = ours.map((e) => e.msg).join(', ');
    console.log(
      `GET /messages #${i}: logging part ${res.logging.length} messages; messages part from ${res.messagesInstance ?? 'none'}: [${texts}]` +
        `${others > 0 ? ` (+${others} from earlier runs)` : ''}${res.note ? ` (${res.note})` : ''}`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err instanceof ConfigError ? `demo: ${err.message}` : `demo failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
