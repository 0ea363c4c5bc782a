import { ENGINE_KINDS, QUEUE_KINDS } from '../shared/common-config.js';
import { setting } from '../shared/settings.js';
import { DEFAULT_BROKER_COUNT, DEFAULT_CLUSTER_NAME, DEFAULT_KAFKA_PORT, DEFAULT_MEMBER_COUNT, DEFAULT_MEMBER_PORT, localMemberAddresses } from '../engine/defaults.js';

/** The launcher's settings, declared once: validation, --help and the README's table come from here. */
export const startSettings = {
  engine: setting.choice('engine', 'ENGINE', 'embedded', ENGINE_KINDS, 'storage and queue: embedded (SQLite, Node alone) or hazelcast (local members)'),
  logging: setting.int('logging', 'LOGGING_INSTANCES', 3, 0, 20, 'logging instances to start'),
  messages: setting.int('messages', 'MESSAGES_INSTANCES', 2, 0, 20, 'messages instances to start'),
  dataDir: setting.text('data-dir', 'DATA_DIR', './data', 'stores, engine file, member logs'),
  facadePort: setting.int('port', 'FACADE_PORT', 8000, 1, 65535, 'facade port'),
  loggingPort: setting.int('logging-port', 'LOGGING_BASE_PORT', 7001, 1, 65535 - 20, "first logging instance's port; instance i on P+i-1"),
  messagesPort: setting.int('messages-port', 'MESSAGES_BASE_PORT', 5001, 1, 65535 - 20, "first messages instance's port"),
  members: setting.int('members', 'HZ_LOCAL_MEMBERS', DEFAULT_MEMBER_COUNT, 0, 9, 'hazelcast: local members to start (0: use --hz-members)'),
  basePort: setting.int('base-port', 'HZ_BASE_PORT', DEFAULT_MEMBER_PORT, 1024, 65535 - 9, 'hazelcast: member i listens on P+i-1'),
  clusterName: setting.name('hz-cluster-name', 'HZ_CLUSTER_NAME', DEFAULT_CLUSTER_NAME, 'hazelcast: cluster name'),
  hzMembers: setting.addresses('hz-members', 'HZ_MEMBERS', localMemberAddresses(), 'hazelcast with --members 0: an external cluster'),
  queue: setting.choice('queue', 'QUEUE', 'engine', QUEUE_KINDS, "where the facade → messages queue lives: the engine's own queue, or Kafka (local brokers, or --kafka-brokers); the log stays on the engine"),
  kafkaBrokers: { ...setting.addresses('kafka-brokers', 'KAFKA_BROKERS', [], 'kafka: an external cluster\'s bootstrap brokers; given, no local brokers are started'), defaultText: '(local brokers)' },
  brokers: {
    ...setting.int('brokers', 'KAFKA_LOCAL_BROKERS', (got) => ((got.kafkaBrokers as string[]).length > 0 ? 0 : DEFAULT_BROKER_COUNT), 0, 9, 'kafka: local brokers to start, in KRaft mode (0: use --kafka-brokers)'),
    defaultText: '3 (0 with --kafka-brokers)',
  },
  kafkaBasePort: setting.int('kafka-base-port', 'KAFKA_BASE_PORT', DEFAULT_KAFKA_PORT, 1024, 55535 - 9, 'kafka: broker i listens on P+i-1, its controller on P+10000+i-1'),
  raw: setting.bool('raw-logs', 'RAW_LOGS', false, "print the services' JSON log lines as they are"),
  fresh: setting.bool('fresh', 'FRESH_START', false, "start with empty stores: deletes this engine's messages stores (and, embedded, engine.db) in the data dir first"),
  commands: setting.bool('commands', 'LAUNCHER_COMMANDS', false, 'read the typed commands from stdin even when it is not a terminal (e.g. from a script)'),
} as const;

