import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../lib/errors.js';
import { ENGINE_KINDS, QUEUE_KINDS, type EngineConfig } from '../engine/config.js';
import { setting, type ValuesOf } from './settings.js';
import {
  DEFAULT_CLUSTER_NAME,
  DEFAULT_KAFKA_GROUP,
  DEFAULT_KAFKA_PARTITIONS,
  DEFAULT_MAP_NAME,
  DEFAULT_QUEUE_NAME,
  localBrokerAddresses,
  localMemberAddresses,
} from '../engine/defaults.js';

/** Engine map holding shared settings, keyed by their env names (QUEUE_NAME, ATTEMPT_TIMEOUT_MS, …). */
export const SETTINGS_MAP = 'settings';

export { ENGINE_KINDS, QUEUE_KINDS, type EngineConfig, type EngineKind, type QueueKind } from '../engine/config.js';

/**
 * Named presets of defaults (`--profile`). `local`: every service on one
 * machine (the defaults). `lan`: services and members on several hosts, where
 * a member cut off by a partition makes calls whose data lives on it wait until
 * the others declare it gone (Hazelcast's failure detection, ~8–10 s): longer
 * attempt timeouts, deadline and registry TTL ride that out (docs/operations.md).
 */
export const PROFILES = ['local', 'lan'] as const;
export type Profile = (typeof PROFILES)[number];

/**
 * The settings every service has, in the order they are read (a computed
 * default may use the ones above it; the profile comes first, as it picks
 * defaults).
 */
export function commonSettings(service: string, defaultPort: number) {
  return {
    profile: setting.choice('profile', 'PROFILE', 'local', PROFILES, 'preset of defaults: local (one machine) or lan (services on several hosts: longer timeouts and registry TTL; see docs/operations.md)'),
    port: setting.int('port', 'PORT', defaultPort, 0, 65535, 'port to listen on (0: any free port)'),
    host: setting.host('host', 'HOST', '127.0.0.1', 'address to listen on; a non-loopback address needs an internal token'),
    name: { ...setting.name('name', 'INSTANCE_NAME', (got) => `${service}-${String(got.port)}`, 'instance name in logs, the registry and metrics'), defaultText: '<service>-<port>' },
    advertiseHost: { ...setting.host('advertise-host', 'ADVERTISE_HOST', (got) => String(got.host), 'host written in the registry for others to call'), defaultText: 'the --host value' },
    logLevel: setting.choice('log-level', 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'lowest level logged'),
    logPretty: setting.choice('log-pretty', 'LOG_PRETTY', 'auto', ['auto', '1', '0'] as const, 'human-readable logs (auto: when stdout is a terminal; else JSON lines)'),
    exitWithParent: setting.bool('exit-with-parent', 'EXIT_WITH_PARENT', false, 'exit when stdin closes (set by the launcher, so no instance outlives it)'),
    engine: setting.choice('engine', 'ENGINE', 'embedded', ENGINE_KINDS, 'embedded: one SQLite file, Node alone; hazelcast: a Hazelcast cluster'),
    dataDir: setting.text('data-dir', 'DATA_DIR', './data', 'folder of the embedded engine file and the messages stores'),
    queueCapacity: setting.int('queue-capacity', 'QUEUE_CAPACITY', 100_000, 1, 100_000_000, 'embedded: most items the queue holds (Hazelcast: the members\' max-size)'),
    queueLeaseMs: setting.int('queue-lease-ms', 'QUEUE_LEASE_MS', 20_000, 100, 3_600_000, 'how long a received item may stay unacknowledged before it is delivered again'),
    ledgerScanMs: setting.int('ledger-scan-ms', 'LEDGER_SCAN_MS', 2000, 50, 600_000, 'hazelcast: how often a consumer scans the delivery ledger for lost items'),
    queue: setting.choice('queue', 'QUEUE', 'engine', QUEUE_KINDS, "where the facade → messages queue lives: the engine's own queue, or Kafka (the log stays on the engine)"),
    kafkaBrokers: setting.addresses('kafka-brokers', 'KAFKA_BROKERS', localBrokerAddresses(), 'kafka: bootstrap brokers'),
    kafkaGroup: setting.name('kafka-group', 'KAFKA_GROUP', DEFAULT_KAFKA_GROUP, "kafka: the messages instances' consumer group"),
    kafkaPartitions: setting.int('kafka-partitions', 'KAFKA_PARTITIONS', DEFAULT_KAFKA_PARTITIONS, 1, 1000, 'kafka: partitions of a topic the queue creates itself (the launcher creates it first)'),
    hzMembers: setting.addresses('hz-members', 'HZ_MEMBERS', localMemberAddresses(), 'hazelcast: member addresses'),
    hzMember: setting.address('hz-member', 'HZ_MEMBER', 'hazelcast: the member this instance prefers (tried first)'),
    hzClusterName: setting.name('hz-cluster-name', 'HZ_CLUSTER_NAME', DEFAULT_CLUSTER_NAME, 'hazelcast: cluster name'),
    hzConnectTimeoutMs: setting.int('hz-connect-timeout-ms', 'HZ_CONNECT_TIMEOUT_MS', 5000, 100, 600_000, 'hazelcast: longest wait for a (re)connection before a call fails'),
    mapName: setting.name('map-name', 'MAP_NAME', DEFAULT_MAP_NAME, 'name of the shared log map'),
    queueName: setting.name('queue-name', 'QUEUE_NAME', DEFAULT_QUEUE_NAME, 'name of the shared queue'),
    // lan: a heartbeat (every TTL/3) may wait ~10 s on a cut-off member, so TTL/3 + 10 s < TTL.
    registryTtlMs: { ...setting.int('registry-ttl-ms', 'REGISTRY_TTL_MS', 3000, 500, 600_000, 'how long a registry entry lives without a heartbeat'), profiles: { lan: 20_000 } },
    shutdownTimeoutMs: setting.int('shutdown-timeout-ms', 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000, 'longest an orderly shutdown may take'),
    internalToken: setting.secret('internal-token', 'INTERNAL_TOKEN', 'shared secret services demand on internal routes (required on a non-loopback bind); never printed'),
    otlpEndpoint: setting.text('otlp-endpoint', 'OTEL_EXPORTER_OTLP_ENDPOINT', '', 'OTLP/HTTP collector (e.g. Jaeger) that traced messages\' spans are also sent to; none when empty', { pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/, expected: 'an http(s) URL such as http://127.0.0.1:4318', range: 'http(s) URL' }),
    internalTokenFile: setting.text('internal-token-file', 'INTERNAL_TOKEN_FILE', '', 'file holding the internal token (instead of --internal-token)'),
  } as const;
}

export type CommonSettings = ValuesOf<ReturnType<typeof commonSettings>>;

/** What every service has. */
export interface CommonConfig {
  name: string;
  host: string;
  port: number;
  /** Host written in the registry for others to call; defaults to host. */
  advertiseHost: string;
  logLevel: string;
  /** Human-readable log lines instead of JSON. */
  logPretty: boolean;
  /** Exit when stdin closes (the launcher's pipe). */
  exitWithParent: boolean;
  engine: EngineConfig;
  /** Names of the shared structures. */
  mapName: string;
  queueName: string;
  /** The preset of defaults the settings were read with. */
  profile: Profile;
  /** How long a registry entry lives without a heartbeat. */
  registryTtlMs: number;
  /** How long shutdown may take before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** Demanded on internal routes; undefined on a loopback bind without one. Never logged. */
  internalToken: string | undefined;
  /** OTLP/HTTP collector that spans also go to; undefined when none. */
  otlpEndpoint: string | undefined;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/** The common part of a service's config from its table's values; checks what spans settings. */
export function commonFrom(v: CommonSettings, isTty: boolean): CommonConfig {
  const engine: EngineConfig = {
    kind: v.engine,
    dataDir: resolve(v.dataDir),
    queueCapacity: v.queueCapacity,
    members: v.hzMembers,
    clusterName: v.hzClusterName,
    connectTimeoutMs: v.hzConnectTimeoutMs,
    queueLeaseMs: v.queueLeaseMs,
    ledgerScanMs: v.ledgerScanMs,
    queue: v.queue,
    kafka: { brokers: v.kafkaBrokers, group: v.kafkaGroup, partitions: v.kafkaPartitions },
  };
  if (v.hzMember) engine.preferredMember = v.hzMember;
  const internalToken = tokenOf(v);
  if (!internalToken && !LOOPBACK.test(v.host)) {
    throw new ConfigError(
      `listening on ${v.host} (not loopback) needs an internal token: set --internal-token / INTERNAL_TOKEN or --internal-token-file / INTERNAL_TOKEN_FILE (the same on every service), so nobody on the network can call internal routes`,
    );
  }
  return {
    name: v.name,
    host: v.host,
    port: v.port,
    advertiseHost: v.advertiseHost,
    logLevel: v.logLevel,
    logPretty: v.logPretty === 'auto' ? isTty : v.logPretty === '1',
    exitWithParent: v.exitWithParent,
    engine,
    mapName: v.mapName,
    queueName: v.queueName,
    profile: v.profile,
    registryTtlMs: v.registryTtlMs,
    shutdownTimeoutMs: v.shutdownTimeoutMs,
    internalToken,
    otlpEndpoint: v.otlpEndpoint || undefined,
  };
}

function tokenOf(v: CommonSettings): string | undefined {
  if (v.internalToken && v.internalTokenFile) throw new ConfigError('set either --internal-token or --internal-token-file, not both');
  if (!v.internalTokenFile) return v.internalToken || undefined;
  let text: string;
  try {
    text = readFileSync(v.internalTokenFile, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`invalid setting --internal-token-file / INTERNAL_TOKEN_FILE: cannot read ${v.internalTokenFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!/^\S{16,}$/.test(text)) throw new ConfigError(`invalid setting --internal-token-file / INTERNAL_TOKEN_FILE: ${v.internalTokenFile} must hold a token of at least 16 characters without spaces`);
  return text;
}
