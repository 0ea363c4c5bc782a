import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findFreeBasePort, hostsConfigFile, startCluster, type LocalCluster } from '../../../src/engine/hazelcast/cluster.js';
import { HazelcastEngine } from '../../../src/engine/hazelcast/hazelcast-engine.js';
import { isEngineUnavailable, isProtectionError } from '../../../src/engine/ports.js';
import { hazelcastSkip } from '../../helpers/hazelcast-gate.js';

/**
 * The member config for hosts (config/hazelcast-hosts.yaml) asks for a
 * majority of the members (2 of 3) on every map and queue. One member alone is what the
 * cut-off side of a partition looks like once it knows: every call must
 * fail at once with ProtectionError (an engine-unavailable error, so
 * services answer 503 and report not ready), and nothing is written.
 */
describe('split-brain protection (hazelcast-hosts.yaml)', { skip: hazelcastSkip(), timeout: 180_000 }, () => {
  let cluster: LocalCluster | undefined;
  let engine: HazelcastEngine | undefined;

  before(async () => {
    cluster = await startCluster({
      members: 1,
      basePort: await findFreeBasePort(1, 5950),
      clusterName: `protection-${process.pid}`,
      configFile: hostsConfigFile,
      // What a cut-off member of three is told: two are needed.
      jvmArgs: ['-Dhazel-lab.min-cluster-size=2'],
    });
    engine = new HazelcastEngine({ members: cluster.addresses, clusterName: cluster.clusterName, connectTimeoutMs: 20_000 });
  });

  after(async () => {
    await engine?.close();
    await cluster?.stop();
  });

  it('a lone member refuses maps, the log and the queue with ProtectionError', async () => {
    const e = engine!;
    const expectProtection = async (what: string, call: () => Promise<unknown>) => {
      const t0 = Date.now();
      await assert.rejects(call, (err: unknown) => {
        assert.ok(isProtectionError(err), `${what}: expected ProtectionError, got ${(err as Error).name}: ${(err as Error).message}`);
        assert.ok(isEngineUnavailable(err), `${what}: a ProtectionError is an engine-unavailable error`);
        return true;
      });
      // Refused by the member, not timed out by the client.
      assert.ok(Date.now() - t0 < 5000, `${what} took ${Date.now() - t0} ms to be refused`);
    };
    await expectProtection('ping', () => e.ping());
    await expectProtection('kv set', () => e.kv<string>('registry').set('logging/x', 'v', 3000));
    await expectProtection('log put', () => e.log('messages-log').put({ id: 'a', msg: 'm', loggedBy: 't', loggedAt: new Date().toISOString(), ts: Date.now() }));
    await expectProtection('queue offer', () => e.queue('messages-queue').offer({ id: 'a', msg: 'm', enqueuedAt: new Date().toISOString() }, 100));
  });
});
