import type { Engine, MessageQueue } from '../ports.js';
import { KafkaQueue, type KafkaQueueOptions } from './kafka-queue.js';

/**
 * An engine whose queue is Kafka's: log, registry, settings and idempotency
 * keys stay on `store`; queue(name) is a topic of that name, consumed by one
 * group. Closing closes both.
 */
export function withKafkaQueue(store: Engine, opts: Omit<KafkaQueueOptions, 'topic'>): Engine {
  const queues = new Map<string, KafkaQueue>();
  let closing: Promise<void> | undefined;
  const queue = (name: string): MessageQueue => {
    let q = queues.get(name);
    if (!q) {
      q = new KafkaQueue({ ...opts, topic: name });
      queues.set(name, q);
    }
    return q;
  };
  return {
    kind: `${store.kind}+kafka`,
    log: (name) => store.log(name),
    queue,
    kv: (name) => store.kv(name),
    ping: () => store.ping(),
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...queues.values()].map((q) => q.close()));
        await store.close();
      })();
      return closing;
    },
  };
}
