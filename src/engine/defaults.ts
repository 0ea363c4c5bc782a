/**
 * The names and ports every part of the lab agrees on unless told otherwise:
 * the services' settings, the launcher, `npm run hazelcast`, `npm run kafka`,
 * the local cluster runners and the host bed all read them from here, so that
 * what one starts is what the others look for.
 */

/** Hazelcast: member i of a local cluster listens on this port + i (on hosts of their own, each on this port). */
export const DEFAULT_MEMBER_PORT = 5701;
/** Hazelcast: members started by default, and so the addresses a service tries by default. */
export const DEFAULT_MEMBER_COUNT = 3;
/** Hazelcast: members and clients must use the same cluster name. */
export const DEFAULT_CLUSTER_NAME = 'hazel-lab';
/** Member addresses of a local cluster of `count` members from `basePort` on 127.0.0.1. */
export const localMemberAddresses = (count = DEFAULT_MEMBER_COUNT, basePort = DEFAULT_MEMBER_PORT, host = '127.0.0.1'): string[] =>
  Array.from({ length: count }, (_, i) => `${host}:${basePort + i}`);

/** The facade → messages queue (on Kafka: its topic). */
export const DEFAULT_QUEUE_NAME = 'messages-queue';
/** The shared log map. */
export const DEFAULT_MAP_NAME = 'messages-log';

/** Kafka: the queue's topic is the queue's name, whoever creates it. */
export const DEFAULT_KAFKA_TOPIC = DEFAULT_QUEUE_NAME;
/** Kafka: the messages instances' consumer group. */
export const DEFAULT_KAFKA_GROUP = 'messages';
/** Kafka: partitions of the queue's topic. */
export const DEFAULT_KAFKA_PARTITIONS = 6;
/** Kafka: broker i of a local cluster serves clients on this port + i. */
export const DEFAULT_KAFKA_PORT = 9092;
/** Kafka: brokers started by default. */
export const DEFAULT_BROKER_COUNT = 3;
/** Bootstrap addresses of a local cluster of `count` brokers from `basePort` on 127.0.0.1. */
export const localBrokerAddresses = (count = DEFAULT_BROKER_COUNT, basePort = DEFAULT_KAFKA_PORT, host = '127.0.0.1'): string[] =>
  Array.from({ length: count }, (_, i) => `${host}:${basePort + i}`);
