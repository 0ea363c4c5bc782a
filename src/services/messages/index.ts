/**
 * The messages service: a background consumer that receives items from the
 * shared queue, keeps them in this instance's own store, and acknowledges
 * them once stored; and the HTTP side that answers what it holds.
 */
import type { Engine } from '../../engine/ports.js';
import { createHttpServer } from '../../shared/http.js';
import { healthRoutes } from '../../shared/health.js';
import { registeredReadiness, serviceShell, serviceTracing, type Service, type ServiceDeps } from '../runtime.js';
import type { Tracing } from '../../shared/tracing/tracing.js';
import type { MessagesConfig } from './config.js';
import { QueueConsumer } from './consumer.js';
import { messagesRoutes } from './routes/messages.js';
import { ConsumedStore } from './store.js';

export interface MessagesService extends Service {
  readonly store: ConsumedStore;
  readonly consumer: QueueConsumer;
  readonly tracing: Tracing;
}

export function createMessages(config: MessagesConfig, engine: Engine, deps: ServiceDeps): MessagesService {
  const { logger, metrics } = deps;
  const store = new ConsumedStore(config.storeFile);
  const queue = engine.queue(config.queueName);
  const consumedTotal = metrics.counter('messages_consumed_total', 'Messages this instance stored.');
  const duplicatesTotal = metrics.counter('messages_duplicates_skipped_total', 'Deliveries skipped because this instance already held the id.');
  const tracing = serviceTracing('messages', config, engine);
  const consumer = new QueueConsumer({
    instance: config.name,
    queue,
    store,
    logger,
    tracing,
    pollTimeoutMs: config.pollTimeoutMs,
    onStored: (_item, created) => (created ? consumedTotal : duplicatesTotal).inc(),
  });
  metrics.gauge('messages_stored', "Messages held in this instance's store.", (g) => g.set(store.count()));
  metrics.gauge('queue_depth', 'Items in the shared queue not yet acknowledged.', async (g) => g.set(await queue.depth().catch(() => -1)));

  const app = createHttpServer({ logger, metrics, internalToken: config.internalToken });
  const shell = serviceShell({
    service: 'messages',
    config,
    engine,
    app,
    logger,
    register: true,
    onStart: () => {
      logger.info({ store: config.storeFile, alreadyHeld: store.count() }, 'opened store');
      consumer.start();
    },
    onStop: async () => {
      await consumer.stop();
      store.close();
      await tracing.close();
    },
  });
  const registered = registeredReadiness(engine, shell);
  healthRoutes(app, { service: 'messages', instance: config.name }, {
    ready: async () => {
      const d = await registered.ready();
      if (!consumer.running) throw new Error('consumer is not running');
      if (consumer.lastError) throw new Error(`consumer cannot reach the queue: ${consumer.lastError}`);
      return { ...d, consumed: store.count() };
    },
  });
  app.register(messagesRoutes, { store, consumer });
  // Closing the app (also in tests that only inject) stops the consumer.
  app.addHook('onClose', async () => consumer.stop());
  return Object.assign(shell, { store, consumer, tracing });
}
