import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { loadFacadeConfig } from '../../src/services/facade/config.js';
import { loadLoggingConfig } from '../../src/services/logging/config.js';
import { loadMessagesConfig } from '../../src/services/messages/config.js';
import type { Source } from '../../src/shared/settings.js';
import { configError, src } from '../helpers/settings.js';

describe('service config loaders', () => {
  test('logging defaults', () => {
    const c = loadLoggingConfig(src());
    assert.equal(c.port, 7001);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.advertiseHost, '127.0.0.1');
    assert.equal(c.name, 'logging-7001');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.mapName, 'messages-log');
    assert.equal(c.queueName, 'messages-queue');
    assert.equal(c.registryTtlMs, 3000);
    assert.equal(c.shutdownTimeoutMs, 10_000);
    assert.deepEqual(c.engine, {
      kind: 'embedded',
      dataDir: resolve('./data'),
      queueCapacity: 100_000,
      members: ['127.0.0.1:5701', '127.0.0.1:5702', '127.0.0.1:5703'],
      clusterName: 'hazel-lab',
      connectTimeoutMs: 5000,
      queueLeaseMs: 20_000,
      ledgerScanMs: 2000,
      queue: 'engine',
      kafka: { brokers: ['127.0.0.1:9092', '127.0.0.1:9093', '127.0.0.1:9094'], group: 'messages', partitions: 6 },
    });
    assert.ok(Object.isFrozen(c));
  });

  test('messages defaults: its own store file in the data dir, per engine', () => {
    const c = loadMessagesConfig(src());
    assert.equal(c.port, 5001);
    assert.equal(c.name, 'messages-5001');
    assert.equal(c.storeFile, join(resolve('./data'), 'store-embedded-messages-5001.db'));
    assert.equal(c.pollTimeoutMs, 1000);
    const named = loadMessagesConfig(src(['--name', 'messages-2', '--data-dir', '/tmp/lab']));
    assert.equal(named.storeFile, join('/tmp/lab', 'store-embedded-messages-2.db'));
    assert.equal(loadMessagesConfig(src(['--engine', 'hazelcast'])).storeFile, join(resolve('./data'), 'store-hazelcast-messages-5001.db'));
  });

  test('facade defaults', () => {
    const c = loadFacadeConfig(src());
    assert.equal(c.port, 8000);
    assert.equal(c.name, 'facade-8000');
    assert.equal(c.bodyLimit, 65_536);
    assert.equal(c.attemptTimeoutMs, 1000);
    assert.equal(c.requestDeadlineMs, 5000);
    assert.equal(c.offerTimeoutMs, 500);
    assert.equal(c.retryAfterSeconds, 1);
    assert.equal(c.breakerThreshold, 3);
    assert.equal(c.breakerHalfOpenMs, 5000);
    assert.equal(c.registryRefreshMs, 500);
    assert.equal(c.idempotencyTtlMs, 24 * 3600_000);
  });

  test('a flag beats its env var; env beats the default', () => {
    // A non-loopback host needs the internal token (see below).
    const env = { PORT: '7200', HOST: '10.0.0.1', ENGINE: 'hazelcast', BODY_LIMIT: '2048', LOG_LEVEL: 'debug', INTERNAL_TOKEN: '0123456789abcdef' };
    const c = loadFacadeConfig(src(['--port', '7100', '--body-limit=1024'], env));
    assert.equal(c.port, 7100);
    assert.equal(c.name, 'facade-7100', 'the default name follows the chosen port');
    assert.equal(c.bodyLimit, 1024);
    assert.equal(c.host, '10.0.0.1');
    assert.equal(c.advertiseHost, '10.0.0.1', 'advertise host defaults to the host');
    assert.equal(c.engine.kind, 'hazelcast');
    assert.equal(c.logLevel, 'debug');
    assert.equal(loadLoggingConfig(src([], env)).port, 7200);
  });

  test('a non-loopback host needs an internal token; loopback does not; never both a token and a token file', () => {
    const token = '0123456789abcdef0123';
    for (const load of [loadFacadeConfig, loadLoggingConfig, loadMessagesConfig]) {
      assert.match(configError(() => load(src(['--host', '0.0.0.0']))), /^listening on 0\.0\.0\.0 \(not loopback\) needs an internal token: set --internal-token \/ INTERNAL_TOKEN/);
      assert.equal(load(src(['--host', '0.0.0.0', '--internal-token', token])).internalToken, token);
      assert.equal(load(src(['--host', '0.0.0.0'], { INTERNAL_TOKEN: token })).internalToken, token);
      for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) assert.equal(load(src(['--host', host])).internalToken, undefined, host);
    }
    assert.match(configError(() => loadLoggingConfig(src(['--internal-token', 'short']))), /--internal-token \/ INTERNAL_TOKEN: expected at least 16 characters without spaces/);
    assert.equal(
      configError(() => loadLoggingConfig(src(['--internal-token', token, '--internal-token-file', '/nonexistent/token']))),
      'set either --internal-token or --internal-token-file, not both',
    );
    assert.match(configError(() => loadLoggingConfig(src(['--internal-token-file', '/nonexistent/token']))), /cannot read \/nonexistent\/token \(ENOENT\)/);
  });

  test('the internal token read from a file: trimmed; too short a token in the file is refused', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'token-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const good = join(dir, 'good');
    writeFileSync(good, '  0123456789abcdef0123\n');
    assert.equal(loadMessagesConfig(src(['--host', '0.0.0.0', '--internal-token-file', good])).internalToken, '0123456789abcdef0123');
    const bad = join(dir, 'bad');
    writeFileSync(bad, 'short\n');
    assert.match(configError(() => loadMessagesConfig(src(['--internal-token-file', bad]))), /must hold a token of at least 16 characters without spaces$/);
  });

  test('hazelcast settings: members, preferred member, cluster name', () => {
    const c = loadLoggingConfig(
      src(['--engine', 'hazelcast', '--hz-members', 'hz1:5701, hz2:5702', '--hz-member', 'hz2:5702', '--hz-cluster-name', 'lab-2'], {}),
    );
    assert.deepEqual(c.engine.members, ['hz1:5701', 'hz2:5702']);
    assert.equal(c.engine.preferredMember, 'hz2:5702');
    assert.equal(c.engine.clusterName, 'lab-2');
    assert.deepEqual(loadLoggingConfig(src([], { HZ_MEMBERS: '[::1]:5701' })).engine.members, ['[::1]:5701']);
  });

  const bad: Array<{ name: string; argv?: string[]; env?: Record<string, string>; flag: string; envName: string; load?: (s: Source) => unknown }> = [
    { name: "port 'abc'", argv: ['--port', 'abc'], flag: '--port', envName: 'PORT' },
    { name: 'port 70000', argv: ['--port', '70000'], flag: '--port', envName: 'PORT' },
    { name: 'port -1', argv: ['--port=-1'], flag: '--port', envName: 'PORT' },
    { name: 'port 80.5 from env', env: { PORT: '80.5' }, flag: '--port', envName: 'PORT' },
    { name: "port 'abc' from env", env: { PORT: 'abc' }, flag: '--port', envName: 'PORT' },
    { name: 'bare --port', argv: ['--port'], flag: '--port', envName: 'PORT' },
    { name: "engine 'redis'", argv: ['--engine', 'redis'], flag: '--engine', envName: 'ENGINE' },
    { name: "engine 'redis' from env", env: { ENGINE: 'redis' }, flag: '--engine', envName: 'ENGINE' },
    { name: 'hz member without a port', argv: ['--hz-members', '127.0.0.1:5701,localhost'], flag: '--hz-members', envName: 'HZ_MEMBERS' },
    { name: 'hz member list of commas', argv: ['--hz-members', ',,'], flag: '--hz-members', envName: 'HZ_MEMBERS' },
    { name: 'hz member with a space in the host', env: { HZ_MEMBERS: 'my host:5701' }, flag: '--hz-members', envName: 'HZ_MEMBERS' },
    { name: 'hz member port out of range', argv: ['--hz-members', '127.0.0.1:99999'], flag: '--hz-members', envName: 'HZ_MEMBERS' },
    { name: 'preferred hz member without port', argv: ['--hz-member', 'hz1'], flag: '--hz-member', envName: 'HZ_MEMBER' },
    { name: 'log level', argv: ['--log-level', 'loud'], flag: '--log-level', envName: 'LOG_LEVEL' },
    { name: 'name with a space', argv: ['--name', 'my logger'], flag: '--name', envName: 'INSTANCE_NAME' },
    { name: 'host with a slash', argv: ['--host', 'http://x'], flag: '--host', envName: 'HOST' },
    { name: 'empty data dir', argv: ['--data-dir='], flag: '--data-dir', envName: 'DATA_DIR' },
    { name: 'registry ttl too small', argv: ['--registry-ttl-ms', '10'], flag: '--registry-ttl-ms', envName: 'REGISTRY_TTL_MS' },
    { name: 'queue capacity 0', env: { QUEUE_CAPACITY: '0' }, flag: '--queue-capacity', envName: 'QUEUE_CAPACITY' },
    { name: 'facade body limit 0', argv: ['--body-limit', '0'], flag: '--body-limit', envName: 'BODY_LIMIT', load: loadFacadeConfig },
    { name: 'facade breaker threshold word', env: { BREAKER_THRESHOLD: 'three' }, flag: '--breaker-threshold', envName: 'BREAKER_THRESHOLD', load: loadFacadeConfig },
    { name: 'messages poll timeout 5', argv: ['--poll-timeout-ms', '5'], flag: '--poll-timeout-ms', envName: 'POLL_TIMEOUT_MS', load: loadMessagesConfig },
  ];
  for (const b of bad) {
    test(`bad value: ${b.name} → ConfigError naming ${b.flag} and ${b.envName}`, () => {
      const msg = configError(() => (b.load ?? loadLoggingConfig)(src(b.argv ?? [], b.env ?? {})));
      assert.ok(msg.includes(b.flag), `names the flag: ${msg}`);
      assert.ok(msg.includes(b.envName), `names the env var: ${msg}`);
      assert.match(msg, /expected/);
    });
  }

  test('unknown flag → ConfigError naming it', () => {
    assert.match(
      configError(() => loadLoggingConfig(src(['--prot', '7001']))),
      /--prot\b/,
    );
  });

  test("another service's flag is unknown here", () => {
    assert.match(
      configError(() => loadLoggingConfig(src(['--body-limit', '100']))),
      /--body-limit/,
    );
    assert.match(
      configError(() => loadFacadeConfig(src(['--poll-timeout-ms', '100']))),
      /--poll-timeout-ms/,
    );
    assert.equal(loadMessagesConfig(src(['--poll-timeout-ms', '100'])).pollTimeoutMs, 100);
  });

  test('unrelated env vars are ignored', () => {
    assert.equal(loadLoggingConfig(src([], { PATH: '/bin', BODY_LIMIT: 'nonsense', HOME: '/root' })).port, 7001);
  });

  test('a bad value with a newline still gives a one-line message', () => {
    const msg = configError(() => loadLoggingConfig(src([], { INSTANCE_NAME: 'evil\nname' })));
    assert.match(msg, /--name \/ INSTANCE_NAME/);
  });
});
