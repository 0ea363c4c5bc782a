#!/usr/bin/env node
/**
 * `npm run hosts -- <command>`: the system on several hosts made of network
 * namespaces (needs root, iproute2 and nftables; java and the member jar).
 *
 *   up [--hosts N]        build N hosts (default 4) on a bridge of their own and start
 *                         the system across them; runs until Ctrl-C, then removes it all
 *   down                  stop a running bed and remove every namespace, link and
 *                         process of this prefix (also after a crash)
 *   status                where everything runs, its health (fresh probes), the faults in
 *                         force, the queue's owner, the totals, the ports
 *   partition H           cut host H off from the other hosts (the facade's host still reaches it)
 *   isolate H             take host H's link down (nobody reaches it)
 *   delay H MS            add MS ms to everything host H sends (needs netem)
 *   heal H                undo every fault on host H
 *
 * Options: --state-dir DIR (default $TMPDIR/hazel-lab-hosts), --prefix P
 * (names of namespaces and links, default hlab), --subnet A.B.C (default 10.203.0).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { findHazelcastJar, javaAvailable } from '../engine/hazelcast/jar.js';
import { staleSources } from '../lib/build-state.js';
import { DEFAULT_PLAN, describeBed, HostBed, pidAlive, readState, stateFile, type BedState } from '../hosts/host-bed.js';
import { destroyNet, NetemUnavailableError, netnsMissing, ourNamespaces } from '../hosts/netns.js';
import { MAIN_JS } from '../topology/topology.js';

const USAGE = 'usage: npm run hosts -- up [--hosts N] | down | status | partition H | heal H | isolate H | delay H MS   [--state-dir DIR] [--prefix P] [--subnet A.B.C]';

function fail(msg: string, code = 1): never {
  console.error(`hosts: ${msg}`);
  process.exit(code);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        hosts: { type: 'string' },
        'state-dir': { type: 'string' },
        prefix: { type: 'string' },
        subnet: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    process.exit(command || values.help ? 0 : 2);
  }
  const stateDir = values['state-dir'] ?? join(tmpdir(), 'hazel-lab-hosts');
  const missing = netnsMissing();
  if (missing) fail(`cannot run the multi-host bed here: ${missing}`);

  const state = readState(stateDir);
  const prefix = values.prefix ?? state?.prefix ?? DEFAULT_PLAN.prefix;

  switch (command) {
    case 'up':
      return up(stateDir, values, state);
    case 'down':
      return down(stateDir, prefix, state);
    case 'status': {
      if (!state) {
        const left = ourNamespaces(prefix);
        console.log(`no bed up (no ${stateFile(stateDir)})${left.length ? `; namespaces left from an earlier run: ${left.join(', ')} (npm run hosts -- down)` : ''}`);
        return;
      }
      for (const l of await describeBed(state, stateDir)) console.log(l);
      return;
    }
    case 'partition':
    case 'heal':
    case 'isolate':
    case 'delay':
      return fault(command, rest, state);
    default:
      fail(`unknown command '${command}'\n${USAGE}`, 2);
  }
}

async function up(stateDir: string, values: { hosts?: string | undefined; prefix?: string | undefined; subnet?: string | undefined }, state: BedState | undefined): Promise<void> {
  if (state && pidAlive(state.pid)) fail(`a bed is already up (run by pid ${state.pid}); \`npm run hosts -- down\` first`);
  if (!javaAvailable()) fail('cannot start the Hazelcast members: java is not on PATH (install a Java 17+ runtime)');
  if (!findHazelcastJar()) fail('cannot start the Hazelcast members: the member jar is missing (run `npm run hazelcast:fetch`)');
  buildIfStale();
  const hosts = values.hosts === undefined ? DEFAULT_PLAN.hosts : Number(values.hosts);
  console.log(`hosts: building ${hosts} hosts and starting the system (members first; this takes a minute)…`);
  let bed: HostBed;
  try {
    bed = await HostBed.up({
      stateDir,
      hosts,
      ...(values.prefix ? { prefix: values.prefix } : {}),
      ...(values.subnet ? { subnet: values.subnet } : {}),
    });
  } catch (e) {
    fail(`up failed (everything it made is removed again): ${(e as Error).message}`);
  }
  const s = readState(stateDir);
  if (s) for (const l of await describeBed(s, stateDir)) console.log(l);
  console.log(`\nfacade: ${bed.facadeUrl}   logs: ${join(stateDir, 'logs')}   internal token: ${bed.tokenFile} (send it as x-internal-token to call logging or messages directly)`);
  console.log(`faults (another terminal): npm run hosts -- partition 3 | isolate 3 | delay 3 200 | heal 3 | status`);
  console.log('Ctrl-C stops everything and removes the hosts.');
  await new Promise<void>((resolve) => {
    let asked = false;
    const stop = () => {
      if (asked) return;
      asked = true;
      console.log('hosts: stopping…');
      void bed.down().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.log('hosts: down');
}

/** The services run from dist/: build it when a source is newer (only `up` needs it; `status` and the faults never build). */
function buildIfStale(): void {
  const dist = dirname(MAIN_JS);
  const root = dirname(dist);
  const stale = staleSources(join(root, 'src'), dist);
  if (stale.length === 0) return;
  console.log(`hosts: building dist/ (${stale.length} source file(s) newer than their build, e.g. src/${stale[0]})…`);
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail(`the build failed (exit ${r.status ?? r.signal}); fix it and run up again`);
}

async function down(stateDir: string, prefix: string, state: BedState | undefined): Promise<void> {
  if (state && pidAlive(state.pid) && state.pid !== process.pid) {
    // The running `up` stops its processes in order and removes the hosts itself.
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    while (pidAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    console.log(pidAlive(state.pid) ? `hosts: pid ${state.pid} did not stop within 60 s; removing what is left` : `hosts: stopped the bed run by pid ${state.pid}`);
  }
  const removed = await destroyNet(prefix);
  rmSync(stateFile(stateDir), { force: true });
  rmSync(join(stateDir, 'token'), { force: true });
  console.log(removed.length ? `hosts: removed ${removed.join(', ')}` : `hosts: nothing of prefix '${prefix}' was left`);
}

function fault(command: string, rest: string[], state: BedState | undefined): void {
  if (!state) fail('no bed up: `npm run hosts -- up` first');
  const h = Number(rest[0]);
  if (!Number.isInteger(h) || h < 1 || h > state.hosts) fail(`${command} needs a host number 1..${state.hosts}, got '${rest[0] ?? ''}'`, 2);
  const facadeHost = state.hosts;
  const bedPlan = { prefix: state.prefix, subnet: state.subnet, hosts: state.hosts };
  // A bed object only for its fault methods: they need the plan alone.
  const bed = HostBed.attach(bedPlan);
  try {
    if (command === 'partition') {
      if (h === facadeHost) fail(`host ${h} runs the facade, which keeps reaching every host; partition a member host (1..${facadeHost - 1})`, 2);
      bed.partition(h);
      console.log(`host ${h} cut off from hosts ${[...Array(state.hosts).keys()].map((i) => i + 1).filter((i) => i !== h && i !== facadeHost).join(', ')} (host ${facadeHost}, the facade's, still reaches it)`);
    } else if (command === 'isolate') {
      bed.isolate(h);
      console.log(`host ${h}: link down`);
    } else if (command === 'delay') {
      const ms = Number(rest[1]);
      if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) fail(`delay needs milliseconds 0..60000, got '${rest[1] ?? ''}'`, 2);
      bed.delay(h, ms);
      console.log(`host ${h}: ${ms} ms added to everything it sends`);
    } else {
      bed.heal(h);
      console.log(`host ${h}: healed (no rules, link up, no delay)`);
    }
  } catch (e) {
    if (e instanceof NetemUnavailableError) fail(e.message);
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => fail((err as Error).message));
}
