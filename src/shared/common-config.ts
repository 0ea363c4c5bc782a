import { resolve } from 'node:path';
import { HOST_PORT, HOSTNAME, type SettingsReader } from './settings.js';

/** Engine map holding shared settings, keyed by their env names (QUEUE_NAME, ATTEMPT_TIMEOUT_MS, …). */
export const SETTINGS_MAP = 'settings';

export type EngineKind = 'embedded' | 'hazelcast';
export const ENGINE_KINDS: readonly EngineKind[] = ['embedded', 'hazelcast'];

/** How a service reaches the shared engine. */
export interface EngineConfig {
  kind: EngineKind;
  /** embedded: folder of the shared SQLite file (and of per-instance stores). */
  dataDir: string;
  /** embedded: most items the queue holds. */
  queueCapacity: number;
  /** hazelcast: member addresses, host:port. */
  members: string[];
  clusterName: string;
  /** hazelcast: listed first so the client prefers it (the lab pairs logging i with member i). */
  preferredMember?: string;
  connectTimeoutMs: number;
  /** How long a received queue item may stay unacknowledged before it is delivered again. */
  queueLeaseMs: number;
  /** hazelcast: how often a consumer's delivery-ledger reconciler scans. */
  ledgerScanMs: number;
}

/** What every service has. */
export interface CommonConfig {
  name: string;
  host: string;
  port: number;
  /** Host written in the registry for others to call; defaults to host. */
  advertiseHost: string;
  logLevel: string;
  engine: EngineConfig;
  /** Names of the shared structures. */
  mapName: string;
  queueName: string;
  /** How long a registry entry lives without a heartbeat. */
  registryTtlMs: number;
  /** How long shutdown may take before the process exits anyway. */
  shutdownTimeoutMs: number;
}

export function readCommon(r: SettingsReader, service: string, defaultPort: number): CommonConfig {
  const port = r.int('port', 'PORT', defaultPort, 0, 65535);
  const host = r.string('host', 'HOST', '127.0.0.1', HOSTNAME, 'a host name or IP address');
  const kind = r.oneOf('engine', 'ENGINE', 'embedded', ENGINE_KINDS);
  const members = r.list('hz-members', 'HZ_MEMBERS', ['127.0.0.1:5701', '127.0.0.1:5702', '127.0.0.1:5703'], HOST_PORT, 'comma-separated host:port addresses');
  const preferred = r.string('hz-member', 'HZ_MEMBER', '', HOST_PORT, 'a host:port address');
  const engine: EngineConfig = {
    kind,
    dataDir: resolve(r.string('data-dir', 'DATA_DIR', './data')),
    queueCapacity: r.int('queue-capacity', 'QUEUE_CAPACITY', 100_000, 1, 100_000_000),
    members,
    clusterName: r.string('hz-cluster-name', 'HZ_CLUSTER_NAME', 'hazel-lab', /^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash or underscore'),
    connectTimeoutMs: r.int('hz-connect-timeout-ms', 'HZ_CONNECT_TIMEOUT_MS', 5000, 100, 600_000),
    queueLeaseMs: r.int('queue-lease-ms', 'QUEUE_LEASE_MS', 20_000, 100, 3_600_000),
    ledgerScanMs: r.int('ledger-scan-ms', 'LEDGER_SCAN_MS', 2000, 50, 600_000),
  };
  if (preferred) engine.preferredMember = preferred;
  return {
    name: r.string('name', 'INSTANCE_NAME', `${service}-${port}`, /^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash or underscore'),
    host,
    port,
    advertiseHost: r.string('advertise-host', 'ADVERTISE_HOST', host, HOSTNAME, 'a host name or IP address'),
    logLevel: r.oneOf('log-level', 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    engine,
    mapName: r.string('map-name', 'MAP_NAME', 'messages-log', /^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash or underscore'),
    queueName: r.string('queue-name', 'QUEUE_NAME', 'messages-queue', /^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash or underscore'),
    registryTtlMs: r.int('registry-ttl-ms', 'REGISTRY_TTL_MS', 3000, 500, 600_000),
    shutdownTimeoutMs: r.int('shutdown-timeout-ms', 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
  };
}
