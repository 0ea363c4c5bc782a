#!/usr/bin/env node
/**
 * `npm run hazelcast -- --members N [--base-port P] [--cluster-name X] [--host H]`
 * Runs only a local Hazelcast cluster (members on ports P..P+N-1) until Ctrl-C,
 * with each member's output prefixed by its name. Fetches the member jar first
 * if it is missing. A second Ctrl-C kills the members without waiting; if this
 * process dies any other way (even kill -9), the members stop by themselves.
 */
import { startCluster, type LocalCluster } from '../engine/hazelcast/cluster.js';
import { ensureHazelcastJar, isHazelcastSetupError, javaAvailable, JAVA_HINT } from '../engine/hazelcast/jar.js';
import { readOrExit, HOSTNAME, processSource, SettingsReader } from '../shared/settings.js';
import { formatLine } from './format.js';
import { DEFAULT_CLUSTER_NAME, DEFAULT_MEMBER_COUNT, DEFAULT_MEMBER_PORT } from '../engine/defaults.js';

function options() {
  const r = new SettingsReader(processSource());
  const o = {
    members: r.int('members', 'HZ_LOCAL_MEMBERS', DEFAULT_MEMBER_COUNT, 1, 9),
    basePort: r.int('base-port', 'HZ_BASE_PORT', DEFAULT_MEMBER_PORT, 1024, 65535 - 9),
    clusterName: r.string('cluster-name', 'HZ_CLUSTER_NAME', DEFAULT_CLUSTER_NAME, /^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash or underscore'),
    host: r.string('host', 'HZ_HOST', '127.0.0.1', HOSTNAME, 'a host name or IP address'),
    heapMb: r.int('heap-mb', 'HZ_HEAP_MB', 320, 64, 8192),
  };
  r.rejectUnknown();
  return o;
}

async function main(): Promise<void> {
  const o = readOrExit('hazelcast', options);
  if (!javaAvailable()) {
    console.error(`hazelcast: missing java\n${JAVA_HINT}`);
    process.exit(1);
  }
  let jarPath: string;
  try {
    jarPath = await ensureHazelcastJar({ log: (line) => console.log(`hazelcast: ${line}`) });
  } catch (err) {
    console.error(`hazelcast: ${isHazelcastSetupError(err) && err.missing ? `missing ${err.missing}\n` : ''}${(err as Error).message}`);
    process.exit(1);
  }

  const color = process.stdout.isTTY === true;
  let cluster: LocalCluster | undefined;
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) {
      // Second signal: do not wait for graceful shutdown.
      console.log('hazelcast: killing members');
      if (cluster) await Promise.all(cluster.addresses.map((_, i) => cluster!.killMember(i, 'SIGKILL')));
      process.exit(130);
    }
    stopping = true;
    console.log(`hazelcast: ${why}, stopping members (again to kill)…`);
    await cluster?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const t0 = Date.now();
  console.log(`hazelcast: starting ${o.members} member(s) of cluster '${o.clusterName}' on ${o.host}:${o.basePort}…`);
  try {
    cluster = await startCluster({
      members: o.members,
      basePort: o.basePort,
      clusterName: o.clusterName,
      host: o.host,
      jarPath,
      heapMb: o.heapMb,
      onLog: (i, line) => console.log(formatLine(`member-${i + 1}`, line, color, true)),
    });
  } catch (err) {
    console.error(`hazelcast: ${(err as Error).message}`);
    process.exit(1);
  }
  if (stopping) return;
  console.log(`hazelcast: cluster '${o.clusterName}' up in ${Date.now() - t0} ms: ${cluster.addresses.join(', ')}`);
  console.log(`hazelcast: connect with --engine hazelcast --hz-members ${cluster.addresses.join(',')} --hz-cluster-name ${o.clusterName}`);
  console.log(`hazelcast: before killing a member, check the backups are in sync: curl http://${cluster.addresses[0]}/hazelcast/health ("clusterSafe":true)`);
  console.log('hazelcast: Ctrl-C to stop');
}

void main();
