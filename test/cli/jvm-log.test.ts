import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isJvmName, JvmLogFilter } from '../../src/cli/jvm-log.js';

// Lines as the members (JUL, one line per record) and brokers (log4j2) print them.
const HZ_INFO = '08:10:01.123 INFO com.hazelcast.client.impl.protocol.task.AuthenticationMessageTask: [127.0.0.1]:5701 [hazel-lab] [5.7.0] Received auth from Connection[id=7, /127.0.0.1:5701->/127.0.0.1:40122], successfully authenticated';
const HZ_WARNING = '08:10:02.000 WARNING com.hazelcast.internal.cluster.impl.ClusterHeartbeatManager: [127.0.0.1]:5701 [hazel-lab] [5.7.0] Suspecting Member [127.0.0.1]:5703 because it has not sent any heartbeats';
const HZ_SEVERE = '08:10:03.000 SEVERE com.hazelcast.instance.impl.Node: [127.0.0.1]:5701 [hazel-lab] [5.7.0] Could not join cluster';
const KAFKA_WARN = (ms: number, port: number) => `08:09:55.${String(ms).padStart(3, '0')} WARN  [NetworkClient] [RaftManager id=1] Connection to node 3 (/127.0.0.1:${port}) could not be established. Node may not be available.`;
const KAFKA_INFO = '08:09:55.700 INFO  [KafkaRaftServer] Kafka Server started';
const KAFKA_ERROR = '08:09:56.000 ERROR [ReplicaFetcherThread] Error for partition messages-queue-2 at offset 17';

describe('JvmLogFilter: the JVM lines the launcher shows', () => {
  it('shows warnings and errors, not INFO, stack traces or other output', () => {
    const f = new JvmLogFilter();
    assert.equal(f.pass('member-1', HZ_INFO), undefined);
    assert.equal(f.pass('member-1', HZ_WARNING), HZ_WARNING);
    assert.equal(f.pass('member-1', HZ_SEVERE), HZ_SEVERE);
    assert.equal(f.pass('broker-2', KAFKA_INFO), undefined);
    assert.equal(f.pass('broker-2', KAFKA_ERROR), KAFKA_ERROR);
    for (const l of ['java.io.IOException: Connection to 2 was disconnected before the response was read', '\tat kafka.server.RemoteLeaderEndPoint.fetch(RemoteLeaderEndPoint.scala:78)', 'Caused by: java.net.ConnectException', '', 'WARN without a time']) {
      assert.equal(f.pass('broker-2', l), undefined, l);
    }
  });

  it('cuts a long line to one', () => {
    const f = new JvmLogFilter({ maxChars: 60 });
    const out = f.pass('broker-1', KAFKA_ERROR + ' x'.repeat(200))!;
    assert.equal(out.length, 61);
    assert.ok(out.endsWith('…'));
  });

  it('a warning repeated with other numbers is shown once per window, then with how many were left out', () => {
    let now = 0;
    const f = new JvmLogFilter({ windowMs: 30_000, now: () => now });
    const shown: string[] = [];
    // A broker retrying a dead peer: ~600 lines in 9 s, as seen after kill-broker.
    for (let i = 0; i < 600; i++) {
      now = i * 15;
      const out = f.pass('broker-1', KAFKA_WARN(i % 1000, 48_000 + (i % 3)));
      if (out) shown.push(out);
    }
    assert.equal(shown.length, 1, shown.join('\n'));
    now = 40_000;
    const later = f.pass('broker-1', KAFKA_WARN(1, 48_001));
    assert.match(later!, /could not be established\. Node may not be available\. \(and 599 more like it since the last shown: logs broker-1\)$/);
    // Another process's same warning, and another warning of the same process, are their own.
    assert.ok(f.pass('broker-2', KAFKA_WARN(2, 48_000)));
    assert.ok(f.pass('broker-1', KAFKA_ERROR));
  });

  it('knows the launcher names of members and brokers', () => {
    assert.ok(isJvmName('member-1'));
    assert.ok(isJvmName('broker-12'));
    assert.ok(!isJvmName('messages-5001'));
    assert.ok(!isJvmName('kafka'));
  });
});
