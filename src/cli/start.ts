#!/usr/bin/env node
/**
 * `npm start [-- --engine embedded|hazelcast --logging N --messages N --data-dir DIR ...]`
 * Runs the whole topology as separate processes, prefixes each log line with
 * its instance name, and on Ctrl-C/SIGTERM stops services then members.
 * While running, type `help` for commands that stop/start instances by hand.
 */
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { isSafe, type MemberHealth } from '../engine/hazelcast/cluster.js';
import { ENGINE_KINDS, type EngineKind } from '../shared/common-config.js';
import { readOrExit, HOST_PORT, parseArgv, SettingsReader } from '../shared/settings.js';
import { formatLine } from './format.js';
import { Topology } from './topology.js';

function options() {
  const { flags } = parseArgv(process.argv.slice(2));
  const r = new SettingsReader({ flags, env: process.env });
  const o = {
    engine: r.oneOf<EngineKind>('engine', 'ENGINE', 'embedded', ENGINE_KINDS),
    logging: r.int('logging', 'LOGGING_INSTANCES', 3, 0, 20),
    messages: r.int('messages', 'MESSAGES_INSTANCES', 2, 0, 20),
    dataDir: resolve(r.string('data-dir', 'DATA_DIR', './data')),
    facadePort: r.int('port', 'FACADE_PORT', 8000, 1, 65535),
    members: r.int('members', 'HZ_LOCAL_MEMBERS', 3, 0, 9),
    clusterName: r.string('hz-cluster-name', 'HZ_CLUSTER_NAME', 'hazel-lab', /^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash or underscore'),
    hzMembers: r.list('hz-members', 'HZ_MEMBERS', ['127.0.0.1:5701', '127.0.0.1:5702', '127.0.0.1:5703'], HOST_PORT, 'comma-separated host:port'),
    raw: r.oneOf('raw-logs', 'RAW_LOGS', 'false', ['true', 'false']) === 'true',
  };
  r.rejectUnknown();
  return o;
}

async function main(): Promise<void> {
  const o = readOrExit('start', options);
  const color = process.stdout.isTTY === true;
  const topo = new Topology({
    engine: o.engine,
    logging: o.logging,
    messages: o.messages,
    dataDir: o.dataDir,
    facadePort: o.facadePort,
    members: o.engine === 'hazelcast' ? o.members : 0,
    clusterName: o.clusterName,
    hzMembers: o.hzMembers,
    onLine: (name, line) => console.log(formatLine(name, line, color, o.raw)),
  });

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping services${topo.cluster ? ', then Hazelcast members' : ''}…`);
    await topo.stop();
    console.log('all stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  console.log(`starting: engine=${o.engine} logging=${o.logging} messages=${o.messages} data-dir=${o.dataDir}`);
  try {
    await topo.start();
  } catch (err) {
    console.error(`start failed: ${(err as Error).message}`);
    await topo.stop();
    process.exit(1);
  }
  console.log('\nrunning:');
  if (topo.cluster) topo.cluster.addresses.forEach((a, i) => console.log(`  member-${i + 1}`.padEnd(20) + `hazelcast ${a}`));
  for (const p of topo.procs.values()) console.log(`  ${p.name}`.padEnd(20) + `${p.service.padEnd(9)} ${p.url}`);
  console.log(`\nopen ${topo.facadeUrl}/ — try: curl -d 'hello' -H 'content-type: text/plain' ${topo.facadeUrl}/messages`);
  if (process.stdin.isTTY) {
    console.log(`type "help" for commands; Ctrl-C stops everything.\n`);
    commands(topo);
  } else {
    console.log('Ctrl-C (SIGINT) or SIGTERM stops everything.\n');
  }
}

/** Stop/start instances by hand, as the lab's demonstrations do. */
function commands(topo: Topology): void {
  const rl = createInterface({ input: process.stdin });
  const help = () =>
    console.log(
      'commands: ps | stop NAME | kill NAME | start NAME' +
        (topo.cluster ? ' | stop-member I | kill-member I | start-member I | stop-pair I | start-pair I  (pair I = logging instance I with member I)' : ''),
    );
  rl.on('line', (input) => {
    const [cmd, arg] = input.trim().split(/\s+/);
    void (async () => {
      try {
        const loggingByIndex = (i: string) => topo.byService('logging')[Number(i) - 1]?.name ?? '';
        // Members are numbered from 1 here, as in their names (member-1 …).
        const member = (i: string | undefined) => {
          const n = topo.cluster?.addresses.length ?? 0;
          if (!/^\d+$/.test(i ?? '') || Number(i) < 1 || Number(i) > n) throw new Error(n ? `no member-${i ?? ''}; members are 1..${n}` : 'no Hazelcast members in this topology');
          return Number(i) - 1;
        };
        switch (cmd) {
          case '':
          case undefined:
            return;
          case 'help':
            return help();
          case 'ps':
            if (topo.cluster) {
              const c = topo.cluster;
              const h = await clusterHealth(topo);
              c.addresses.forEach((a, i) => console.log(`  member-${i + 1} ${a} ${c.member(i).running ? 'running' : 'stopped'}`));
              if (h) console.log(`  cluster: ${h.clusterSize} member(s), ${isSafe(h) ? 'safe (backups in sync)' : `NOT safe yet (${h.migrationQueueSize} migration(s) queued): a crash now can lose data`}`);
            }
            for (const p of topo.procs.values()) console.log(`  ${p.name} ${p.url} ${topo.isRunning(p.name) ? 'running' : 'stopped'}`);
            return;
          case 'stop':
            return await topo.signal(arg ?? '', 'SIGTERM');
          case 'kill':
            return await topo.signal(arg ?? '', 'SIGKILL');
          case 'start':
            return await topo.startProc(arg ?? '');
          case 'stop-member':
            return await topo.cluster?.killMember(member(arg), 'SIGTERM');
          case 'kill-member':
            await warnIfUnsafe(topo);
            return await topo.cluster?.killMember(member(arg), 'SIGKILL');
          case 'start-member':
            await topo.cluster?.startMember(member(arg));
            return await reportSafe(topo);
          case 'stop-pair':
            await topo.signal(loggingByIndex(arg ?? ''), 'SIGTERM');
            return await topo.cluster?.killMember(member(arg), 'SIGTERM');
          case 'start-pair':
            await topo.cluster?.startMember(member(arg));
            await reportSafe(topo);
            return await topo.startProc(loggingByIndex(arg ?? ''));
          default:
            return help();
        }
      } catch (err) {
        console.log(`error: ${(err as Error).message}`);
      }
    })();
  });
}

/** Backup-count 1 covers one crash once backups are in sync; say when that is after a member (re)joined. */
async function reportSafe(topo: Topology): Promise<void> {
  if (!topo.cluster) return;
  const t0 = Date.now();
  try {
    await topo.cluster.waitForSafe(60_000);
    console.log(`cluster safe (backups in sync) after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    console.log(`warning: ${(err as Error).message}`);
  }
}

/** What the first member that answers says of the cluster. */
async function clusterHealth(topo: Topology): Promise<MemberHealth | undefined> {
  const c = topo.cluster;
  if (!c) return undefined;
  return (await Promise.all(c.addresses.map((_, i) => c.health(i)))).find((r) => r !== undefined);
}

async function warnIfUnsafe(topo: Topology): Promise<void> {
  const h = await clusterHealth(topo);
  if (h && !isSafe(h)) {
    console.log('warning: the cluster is not safe yet (partitions still moving after a member joined or left); a crash now can lose what is being moved');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
