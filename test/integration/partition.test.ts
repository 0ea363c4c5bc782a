import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeBed, HostBed, readState } from '../../src/hosts/host-bed.js';
import { HazelcastEngine } from '../../src/engine/hazelcast/hazelcast-engine.js';
import { netnsMissing } from '../../src/hosts/netns.js';
import { MAIN_JS } from '../../src/topology/topology.js';
import { gate } from '../helpers/gate.js';
import { hazelcastMissing } from '../helpers/hazelcast-gate.js';
import { http, postJson, until } from '../helpers/cluster-env.js';

/**
 * Network faults on the multi-host bed (src/hosts/host-bed.ts): four hosts
 * made of network namespaces, steady load through the facade, then two
 * faults one after the other, each healed and waited out until the cluster
 * is whole again:
 * 1. the host of member 3 and logging 3 (the queue's owner) cut off from
 *    hosts 1 and 2 for FAULT_MS (the facade's host still reaches it);
 * 2. the host of member 2, logging 2 and messages 2 isolated (its link down:
 *    nobody reaches it) for FAULT_MS.
 * Members run config/hazelcast-hosts.yaml (split-brain protection, merge
 * policies); services run with `--profile lan`, as the bed starts them.
 *
 * It prints, like the bench, the POSTs answered per second before, during and
 * after each fault (a regression shows there; nothing is asserted on timing),
 * what the dashboard said the cluster was waiting for, and `hosts status`
 * during each fault and once whole again. Nothing acknowledged may be lost
 * across both faults.
 *
 * Needs root, iproute2, nftables, java and the member jar; skips with one
 * line naming what is missing, or fails when REQUIRE_HOSTS=1 (CI).
 */
/** How long each fault lasts. */
const FAULT_MS = 20_000;
const WARMUP_MS = 10_000;
/** Load goes on this long after the cluster is whole again, so the healed host's logging instance is used under load. */
const AFTER_HEAL_MS = 10_000;
const CLIENTS = 4;
/** Pause between one client's POSTs: a steady load the shared 2-core machine carries. */
const CLIENT_PAUSE_MS = 25;
const CUT = 3;
/** The host isolated second: it runs a member, a logging and a messages instance. */
const ISOLATED = 2;

/** POSTs answered (acknowledged) per second, by when the answer came, in [from, to). */
function answeredPerSecond(posts: ReadonlyArray<{ at: number; ms: number; ok: boolean }>, from: number, to: number): { rate: number; worstSecond: number; bestSecond: number } {
  const secs = Math.max(1, Math.floor((to - from) / 1000));
  const per = new Array<number>(secs).fill(0);
  let n = 0;
  for (const p of posts) {
    const done = p.at + p.ms;
    if (!p.ok || done < from || done >= to) continue;
    n++;
    const i = Math.floor((done - from) / 1000);
    if (i < secs) per[i]!++;
  }
  return { rate: n / Math.max(0.001, (to - from) / 1000), worstSecond: Math.min(...per), bestSecond: Math.max(...per) };
}

function missing(): string | undefined {
  const why = netnsMissing() ?? hazelcastMissing();
  if (why) return why;
  if (!existsSync(MAIN_JS)) return `${MAIN_JS} is missing (run \`npm run -s build\`)`;
  return undefined;
}

interface Post {
  at: number;
  ms: number;
  ok: boolean;
  id?: string;
  /** Why it failed: status and message. */
  why?: string;
}

interface LogEntry {
  id: string;
  msg: string;
  loggedBy: string;
  loggedAt: string;
}

/** Picks a queue name whose partition the member on host h owns (asked of the cluster from this machine). */
function queueOn(h: number) {
  return async (bed: HostBed): Promise<string> => {
    const engine = new HazelcastEngine({ members: bed.memberAddresses, clusterName: bed.clusterName, connectTimeoutMs: 20_000 });
    try {
      const target = bed.byName(`member-${h}`).address;
      // A first call makes the members assign partitions; the client then gets the table.
      await engine.ping();
      await until('the partition table', async () => (await engine.queueOwner('probe')) !== undefined, 30_000, 200);
      for (let k = 0; k < 500; k++) {
        const name = `partition-queue-${k}`;
        if ((await engine.queueOwner(name)) === target) return name;
      }
      throw new Error(`no queue name of 500 tried lives on ${target}`);
    } finally {
      await engine.close();
    }
  };
}

const skip = gate({ name: 'Multi-host (network namespaces)', missing, requireEnv: 'REQUIRE_HOSTS' });

describe('a network partition across hosts', { skip, timeout: 900_000 }, () => {
  let bed: HostBed | undefined;
  let stateDir: string | undefined;
  let redeliveries = 0;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'hazel-lab-partition-'));
    bed = await HostBed.up({
      stateDir,
      prefix: 'hlt',
      subnet: '10.203.1',
      hosts: 4,
      clusterName: 'partition-test',
      // The hardest case: the queue lives on the member that is cut off, so
      // the facade (which still reaches it) offers items there in the first
      // seconds, and the merge drops them.
      queueName: queueOn(CUT),
      onLine: (_name, line) => {
        if (line.includes('redelivered an unacknowledged message')) redeliveries++;
      },
    });
  });

  after(async () => {
    await bed?.down();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('loses nothing acknowledged through a partition and an isolated host, fails over, and is whole again within 60 s of each heal', async () => {
    const b = bed!;
    const facade = b.facadeUrl;
    const cutLogging = `logging-${CUT}`;
    const posts: Post[] = [];
    let loadDone = false;
    let n = 0;
    const client = async () => {
      while (!loadDone) {
        const at = Date.now();
        try {
          const r = await postJson(`${facade}/messages`, { msg: `partition-${n++}` });
          const ms = Date.now() - at;
          posts.push(r.status === 201 ? { at, ms, ok: true, id: r.body.id } : { at, ms, ok: false, why: `${r.status} ${String(r.body.message ?? '').slice(0, 120)}` });
        } catch (e) {
          posts.push({ at, ms: Date.now() - at, ok: false, why: (e as Error).message });
        }
        await new Promise((r) => setTimeout(r, CLIENT_PAUSE_MS));
      }
    };
    const loadFrom = Date.now();
    let loadEnd = 0;
    const load = Promise.all(Array.from({ length: CLIENTS }, client));
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

    let cutAt = 0;
    let healedAt = 0;
    let wholeAt = 0;
    let notReadyAt = 0;
    let leftDirectoryAt = 0;
    let isolatedAt = 0;
    let rejoinedAt = 0;
    let wholeAgainAt = 0;
    /** What the dashboard said the cluster was waiting for, with when (ms after the fault began). */
    const waited: Array<{ after: number; lines: string[] }> = [];
    const waitedIsolated: Array<{ after: number; lines: string[] }> = [];
    /** Reads the dashboard's waiting lines once a second in [from, to). */
    const watchDashboard = async (from: number, to: number, into: Array<{ after: number; lines: string[] }>) => {
      while (Date.now() < to) {
        const at = Date.now() - from;
        void http<{ cluster?: { waiting?: string[] } }>(`${facade}/dashboard/state`, { signal: AbortSignal.timeout(3000) }).then(
          (r) => {
            const lines = r.body.cluster?.waiting ?? [];
            if (lines.length) into.push({ after: at, lines });
          },
          () => undefined,
        );
        await pause(Math.max(0, Math.min(1000, to - Date.now())));
      }
    };
    /** Whole again: 3 members, safe, on every member; every instance registered and ready. */
    const wholeAgain = (after: string) =>
      until(
        `one safe cluster of 3 members and every instance registered and ready ${after}`,
        async () => {
          const health = await b.memberHealth();
          if (health.length !== 3 || !health.every((h) => h && h.clusterSize === 3 && h.clusterSafe && h.migrationQueueSize === 0)) return false;
          const list = (await http<Array<{ instance: string; status: string }>>(`${facade}/instances`, { signal: AbortSignal.timeout(2000) })).body;
          const up = new Set(list.filter((r) => r.status === 'up').map((r) => r.instance));
          const instances = ['logging-1', 'logging-2', 'logging-3', 'messages-1', 'messages-2'];
          if (!instances.every((x) => up.has(x))) return false;
          const ready = await Promise.all(instances.map((x) => http(`${b.url(x)}/health/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)));
          return ready.every((r) => r?.status === 200);
        },
        60_000,
        250,
      );
    const statusAt = async (label: string) => {
      const st = readState(stateDir!);
      if (!st) return `hosts status ${label}: no state file`;
      return describeBed(st, stateDir!).then(
        (lines) => `hosts status ${label}:\n    ${lines.join('\n    ')}`,
        (e: unknown) => `hosts status ${label}: failed (${(e as Error).message})`,
      );
    };
    const statuses: Array<Promise<string>> = [];
    try {
      await pause(WARMUP_MS);
      cutAt = Date.now();
      b.partition(CUT);
      const statusTimer = setTimeout(() => statuses.push(statusAt(`6 s into the partition`)), 6000);
      let lastDashboard = 0;
      // While cut off: when does the cut-off logging instance say it is not ready, and when does the facade drop it?
      while (Date.now() < cutAt + FAULT_MS) {
        const [ready, instances] = await Promise.all([
          http(`${b.url(cutLogging)}/health/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined),
          http<Array<{ instance: string; status: string }>>(`${facade}/instances`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined),
        ]);
        if (!notReadyAt && ready?.status === 503) notReadyAt = Date.now();
        if (!leftDirectoryAt && instances?.status === 200 && !instances.body.some((r) => r.instance === cutLogging && r.status === 'up')) leftDirectoryAt = Date.now();
        if (Date.now() - lastDashboard >= 1000) {
          lastDashboard = Date.now();
          const at = lastDashboard - cutAt;
          void http<{ cluster?: { waiting?: string[] } }>(`${facade}/dashboard/state`, { signal: AbortSignal.timeout(3000) }).then(
            (r) => {
              const lines = r.body.cluster?.waiting ?? [];
              if (lines.length) waited.push({ after: at, lines });
            },
            () => undefined,
          );
        }
        await pause(250);
      }
      clearTimeout(statusTimer);
      healedAt = Date.now();
      b.heal(CUT);

      await wholeAgain(`after the partition of host ${CUT}`);
      wholeAt = Date.now();
      statuses.push(statusAt('once whole again after the partition'));
      await pause(AFTER_HEAL_MS);

      // The second fault: a host running a member, a logging and a messages instance, reached by nobody.
      isolatedAt = Date.now();
      b.isolate(ISOLATED);
      const isolatedStatusTimer = setTimeout(() => statuses.push(statusAt('6 s into the isolation')), 6000);
      await watchDashboard(isolatedAt, isolatedAt + FAULT_MS, waitedIsolated);
      clearTimeout(isolatedStatusTimer);
      rejoinedAt = Date.now();
      b.heal(ISOLATED);
      await wholeAgain(`after the isolation of host ${ISOLATED}`);
      wholeAgainAt = Date.now();
      statuses.push(statusAt('once whole again after the isolation'));
      await pause(AFTER_HEAL_MS);
    } finally {
      loadDone = true;
      await load;
      loadEnd = Date.now();
      // Whatever happened, no host is left cut off for the next steps.
      if (!healedAt) b.heal(CUT);
      if (isolatedAt && !rejoinedAt) b.heal(ISOLATED);
    }

    const acked = new Set(posts.filter((p) => p.ok).map((p) => p.id!));
    const during = posts.filter((p) => p.at >= cutAt && p.at < healedAt);
    const failedDuring = during.filter((p) => !p.ok).length;
    const duringIsolation = posts.filter((p) => p.at >= isolatedAt && p.at < rejoinedAt);
    const failedDuringIsolation = duringIsolation.filter((p) => !p.ok).length;
    const slowestIsolated = Math.max(0, ...duringIsolation.filter((p) => p.ok).map((p) => p.ms));
    const reasons = new Map<string, number>();
    for (const p of posts) if (!p.ok) reasons.set(p.why!, (reasons.get(p.why!) ?? 0) + 1);
    const slowest = Math.max(0, ...during.filter((p) => p.ok).map((p) => p.ms));

    // Everything acknowledged consumed: items the merge dropped come back through the delivery ledger after its lease.
    const stores = async () => {
      const out = new Map<string, Array<{ id: string }>>();
      for (const name of ['messages-1', 'messages-2']) out.set(name, (await http<Array<{ id: string }>>(`${b.url(name)}/messages`, { headers: b.internalHeaders })).body);
      return out;
    };
    let neverConsumed = [...acked];
    await until(
      'every acknowledged message consumed',
      async () => {
        const seen = new Set([...(await stores()).values()].flat().map((e) => e.id));
        neverConsumed = [...acked].filter((id) => !seen.has(id));
        return neverConsumed.length === 0;
      },
      180_000,
      1000,
    ).catch(() => undefined);

    const log = (await http<LogEntry[]>(`${b.url('logging-1')}/log`, { headers: b.internalHeaders })).body;
    const logIds = new Set(log.map((e) => e.id));
    const missingFromLog = [...acked].filter((id) => !logIds.has(id)).length;
    const duplicatesInLog = log.length - logIds.size;
    let duplicatesInStores = 0;
    let consumedTwice = 0;
    const consumedBy = new Map<string, number>();
    for (const entries of (await stores()).values()) {
      const ids = entries.map((e) => e.id);
      duplicatesInStores += ids.length - new Set(ids).size;
      for (const id of new Set(ids)) consumedBy.set(id, (consumedBy.get(id) ?? 0) + 1);
    }
    for (const id of acked) if ((consumedBy.get(id) ?? 0) > 1) consumedTwice++;
    const byCutWhileProtected = log.filter((e) => e.loggedBy === cutLogging && notReadyAt > 0 && Date.parse(e.loggedAt) >= notReadyAt && Date.parse(e.loggedAt) < healedAt).length;
    const byCutBeforeNoticed = log.filter((e) => e.loggedBy === cutLogging && Date.parse(e.loggedAt) >= cutAt && (notReadyAt === 0 || Date.parse(e.loggedAt) < notReadyAt)).length;
    const byCutAfterHeal = log.filter((e) => e.loggedBy === cutLogging && Date.parse(e.loggedAt) >= healedAt).length;
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    // Like the bench: answered per second in each phase (the first 2 s of load are the clients starting).
    const rates = (phases: Array<[string, number, number]>) =>
      phases.map(([name, from, to]) => {
        const r = answeredPerSecond(posts, from, to);
        return `${name} ${r.rate.toFixed(1)}/s (${s(to - from)}; seconds from ${r.worstSecond} to ${r.bestSecond})`;
      });
    const partitionRates = rates([
      ['before', loadFrom + 2000, cutAt],
      ['during the partition', cutAt, healedAt],
      ['heal → whole again', healedAt, wholeAt],
      ['after, whole', wholeAt, isolatedAt],
    ]);
    const isolationRates = rates([
      ['before', wholeAt, isolatedAt],
      ['during the isolation', isolatedAt, rejoinedAt],
      ['heal → whole again', rejoinedAt, wholeAgainAt],
      ['after, whole', wholeAgainAt, loadEnd],
    ]);
    const waitSeen = (w: Array<{ after: number; lines: string[] }>, fault: string) =>
      w.length
        ? `the dashboard said the cluster waited from ${s(w[0]!.after)} to ${s(w.at(-1)!.after)} after the ${fault} (${w.length} of its snapshots), e.g. "${w[Math.floor(w.length / 2)]!.lines.join(' · ')}"`
        : `the dashboard never said the cluster was waiting during the ${fault}`;

    console.log(
      [
        `partition report: ${CLIENTS} clients through the facade on host 4; the queue (${b.queueName}) lives on member-${CUT}; POSTs: ${posts.length} sent, ${acked.size} acknowledged, ${posts.length - acked.size} failed`,
        ...[...reasons].sort((x, y) => y[1] - x[1]).slice(0, 4).map(([why, k]) => `    ${k} × ${why}`),
        `  fault 1: host ${CUT} (member-${CUT}, ${cutLogging}) cut off from hosts 1-2 for ${s(healedAt - cutAt)}`,
        `  POSTs answered per second: ${partitionRates.join('; ')}`,
        `  ${waitSeen(waited, 'cut')}`,
        `  during the partition ${during.length} sent, ${failedDuring} failed (${((failedDuring / Math.max(1, during.length)) * 100).toFixed(2)}%); slowest acknowledged then ${s(slowest)}`,
        `  ${cutLogging}: not ready ${notReadyAt ? `${s(notReadyAt - cutAt)} after the cut` : 'never seen'}; marked down or gone in the facade's /instances ${leftDirectoryAt ? `${s(leftDirectoryAt - cutAt)} after the cut` : 'never seen'}`,
        `  entries ${cutLogging} wrote: ${byCutBeforeNoticed} in the partition's first seconds (before it noticed), ${byCutWhileProtected} once protected, ${byCutAfterHeal} after the heal`,
        `  whole again (3 members, safe, every instance registered and ready) ${s(wholeAt - healedAt)} after the heal`,
        `  fault 2: host ${ISOLATED} (member-${ISOLATED}, logging-${ISOLATED}, messages-${ISOLATED}) isolated, its link down, for ${s(rejoinedAt - isolatedAt)}`,
        `  POSTs answered per second: ${isolationRates.join('; ')}`,
        `  ${waitSeen(waitedIsolated, 'isolation')}`,
        `  during the isolation ${duringIsolation.length} sent, ${failedDuringIsolation} failed (${((failedDuringIsolation / Math.max(1, duringIsolation.length)) * 100).toFixed(2)}%); slowest acknowledged then ${s(slowestIsolated)}`,
        `  whole again (3 members, safe, every instance registered and ready) ${s(wholeAgainAt - rejoinedAt)} after the heal`,
        `  across both faults:`,
        `  acknowledged missing from the log: ${missingFromLog}; duplicates in the log: ${duplicatesInLog}`,
        `  acknowledged never consumed: ${neverConsumed.length}; a store holding one twice: ${duplicatesInStores}; consumed by both stores (at-least-once allows it): ${consumedTwice}`,
        `  redeliveries by the delivery ledger: ${redeliveries}`,
        ...(await Promise.all(statuses)).map((x) => `  ${x}`),
      ].join('\n'),
    );

    assert.ok(acked.size > 200, `too little load got through (${acked.size})`);
    assert.equal(missingFromLog, 0, 'acknowledged messages missing from the log');
    assert.equal(duplicatesInLog, 0, 'duplicates in the log');
    assert.equal(neverConsumed.length, 0, `acknowledged messages never consumed (e.g. ${neverConsumed.slice(0, 3).join(', ')})`);
    assert.equal(duplicatesInStores, 0, 'a store holding a message twice');
    assert.ok(during.length > 0 && failedDuring / during.length < 0.05, `failed POSTs during the partition: ${failedDuring} of ${during.length}`);
    assert.ok(duringIsolation.length > 0 && failedDuringIsolation / duringIsolation.length < 0.05, `failed POSTs during the isolation: ${failedDuringIsolation} of ${duringIsolation.length}`);
    assert.ok(notReadyAt > 0, `${cutLogging} never reported not ready while cut off`);
    assert.equal(byCutWhileProtected, 0, `${cutLogging} stored entries while its side was too small`);
    assert.ok(byCutAfterHeal > 0, `the facade did not use ${cutLogging} again after the heal`);
    assert.ok(wholeAt - healedAt <= 60_000, 'whole again within 60 s of the heal');
    assert.ok(wholeAgainAt - rejoinedAt <= 60_000, 'whole again within 60 s of the isolated host coming back');
  });
});
