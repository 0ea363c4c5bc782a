import type { Engine, MessageQueue } from '../ports.js';
import { ackWaitText, QUEUE_COMMIT } from './committer.js';
import type { KafkaQueue, KafkaQueueOptions } from './kafka-queue.js';

/**
 * An engine whose queue is Kafka's: log, registry, settings and idempotency
 * keys stay on `store`; queue(name) is a topic of that name, consumed by one
 * group. Closing closes both.
 *
 * The Kafka client is loaded on a queue's first use: a process that never
 * touches the queue (a logging instance) does not carry it (about 45 MB of
 * resident memory, measured).
 */
export function withKafkaQueue(store: Engine, opts: Omit<KafkaQueueOptions, 'topic'>): Engine {
  const queues = new Map<string, Promise<KafkaQueue>>();
  let closing: Promise<void> | undefined;
  const open = (name: string): Promise<KafkaQueue> => {
    let q = queues.get(name);
    if (!q) {
      q = import('./kafka-queue.js').then(({ KafkaQueue }) => new KafkaQueue({ ...opts, topic: name }));
      queues.set(name, q);
    }
    return q;
  };
  const queue = (name: string): MessageQueue => ({
    offer: async (item, timeoutMs) => (await open(name)).offer(item, timeoutMs),
    receive: async (max, timeoutMs, signal) => (await open(name)).receive(max, timeoutMs, signal),
    ack: async (deliveries) => (await open(name)).ack(deliveries),
    depth: async () => (await open(name)).depth(),
    describe: async () => (await open(name)).describe(),
    // As the queue's own (known before the client is loaded).
    ackWaitsFor: ackWaitText(opts.commitIntervalMs ?? QUEUE_COMMIT.intervalMs),
  });
  return {
    kind: `${store.kind}+kafka`,
    log: (name) => store.log(name),
    queue,
    kv: (name) => store.kv(name),
    ping: () => store.ping(),
    ...(store.waiting ? { waiting: () => store.waiting!() } : {}),
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...queues.values()].map(async (q) => (await q).close()));
        await store.close();
      })();
      return closing;
    },
  };
}
