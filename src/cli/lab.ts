#!/usr/bin/env node
/**
 * `npm run lab -- <msgs|lab4|map-durability|fail-over> [--url http://127.0.0.1:8000]`
 * Runs one of the lab's scenarios on a running `npm start`, exactly as the
 * dashboard's button does: the action goes to the facade's console endpoint,
 * the launcher runs it in its shell (its terminal prints it too), and this
 * command follows its steps and verdict on the facade's event stream. Exits 0
 * when the verdict is OK, 1 when not, 2 when the scenario could not be run.
 */
import { CONSOLE_HEADER, SCENARIO_NAMES, type ConsoleAnswer, type ConsoleEvent, type ScenarioName } from '../contracts/console.js';
import { secs } from '../scenarios/runner.js';

const USAGE = `usage: npm run lab -- <${SCENARIO_NAMES.join('|')}> [--url http://127.0.0.1:8000]
Runs the scenario on a running npm start (same machine), through the facade's lab console.`;

function args(argv: string[]): { scenario: ScenarioName; url: string } {
  let url = 'http://127.0.0.1:8000';
  let scenario: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--url') url = argv[++i] ?? '';
    else if (a.startsWith('--url=')) url = a.slice(6);
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (!scenario) scenario = a;
    else throw new Error(`unexpected argument "${a}"`);
  }
  if (!scenario || !(SCENARIO_NAMES as readonly string[]).includes(scenario)) throw new Error(`name a scenario: ${SCENARIO_NAMES.join(', ')}`);
  if (!/^http:\/\/[^/]+$/.test(url.replace(/\/$/, ''))) throw new Error(`--url must be the facade's http://host:port, not "${url}"`);
  return { scenario: scenario as ScenarioName, url: url.replace(/\/$/, '') };
}

/** Server-sent `console` events, parsed, from the facade's /dashboard/events. */
async function* consoleEvents(res: Response): AsyncGenerator<ConsoleEvent> {
  if (!res.ok || !res.body) throw new Error(`GET /dashboard/events answered ${res.status}`);
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event === 'console' && data) yield JSON.parse(data) as ConsoleEvent;
    }
  }
}

async function main(): Promise<number> {
  let o: ReturnType<typeof args>;
  try {
    o = args(process.argv.slice(2));
  } catch (err) {
    console.error(`lab: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const action = `scenario ${o.scenario}`;
  const ac = new AbortController();
  // Listening before the action is sent: no step is missed.
  const stream = await fetch(`${o.url}/dashboard/events`, { signal: ac.signal, headers: { accept: 'text/event-stream' } }).catch((err: Error) => {
    throw new Error(`no facade at ${o.url} (${err.message}): start the lab with npm start first`);
  });
  const events = consoleEvents(stream);
  const res = await fetch(`${o.url}/console/actions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: o.url, 'sec-fetch-site': 'same-origin', [CONSOLE_HEADER]: '1' },
    body: JSON.stringify({ command: 'scenario', target: o.scenario }),
  });
  const answer = (await res.json()) as ConsoleAnswer & { message?: string };
  if (res.status !== 202) {
    console.error(`lab: ${o.scenario} refused (${res.status}): ${answer.message ?? JSON.stringify(answer)}`);
    ac.abort();
    return 2;
  }
  console.log(`${action}: running on ${o.url} (its launcher prints it too)`);
  let ok = false;
  try {
    for (let next = await events.next(); !next.done; next = await events.next()) {
      const e = next.value;
      if (!('action' in e) || e.action !== action) continue;
      if (e.kind === 'step' && e.step.state !== 'running') console.log(`  ${e.step.n}. ${e.step.title}: ${e.step.state} in ${secs(e.step.ms ?? 0)}${e.step.detail ? ` — ${e.step.detail}` : ''}`);
      else if (e.kind === 'step') console.log(`  ${e.step.n}. ${e.step.title} …`);
      else if (e.kind === 'verdict') {
        ok = e.verdict.ok;
        console.log([`verdict: ${e.verdict.ok ? 'OK' : 'NOT OK'} — ${e.verdict.summary}`, ...e.verdict.lines.map((l) => `  ${l}`)].join('\n'));
      } else if (e.kind === 'line' && /^error: /.test(e.text)) console.log(e.text);
      else if (e.kind === 'end') break;
    }
  } finally {
    ac.abort();
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`lab: ${(err as Error).message}`);
    process.exit(2);
  },
);
