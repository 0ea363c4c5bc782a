import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createHttpServer } from '../../shared/http.js';
import { healthRoutes, type HealthCheck } from '../../shared/health.js';
import type { MessageQueue } from '../../engine/ports.js';
import type { Metrics } from '../../shared/metrics.js';
import type { QueueConsumer } from './consumer.js';
import type { ConsumedStore } from './store.js';

export interface MessagesDeps {
  store: ConsumedStore;
  consumer: QueueConsumer;
  health: HealthCheck;
  logger: Logger;
  metrics?: Metrics;
  queue?: MessageQueue;
}

/** The messages service's HTTP side: what this instance consumed. The consumer runs beside it. */
export function buildMessagesApp(config: { name: string }, deps: MessagesDeps): FastifyInstance {
  const app = createHttpServer({ logger: deps.logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) });
  if (deps.metrics) {
    const m = deps.metrics;
    m.gauge('messages_stored', 'Messages held in this instance\'s store.', (g) => g.set(deps.store.count()));
    const q = deps.queue;
    if (q) m.gauge('queue_depth', 'Items waiting in the shared queue.', async (g) => g.set(await q.depth().catch(() => -1)));
  }
  healthRoutes(app, { service: 'messages', instance: config.name }, {
    ready: async () => {
      const d = await deps.health.ready();
      if (!deps.consumer.running) throw new Error('consumer is not running');
      if (deps.consumer.lastError) throw new Error(`consumer cannot reach the queue: ${deps.consumer.lastError}`);
      return { ...d, consumed: deps.store.count() };
    },
  });
  app.get<{ Querystring: { limit?: string; after?: string } }>(
    '/messages',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' }, after: { type: 'string', pattern: '^[0-9]{1,15}$' } },
        },
      },
    },
    async (req, reply) => {
      reply.type('application/json; charset=utf-8');
      if (req.query.limit === undefined && req.query.after === undefined) return deps.store.listJson();
      const page = deps.store.pageJson(Number(req.query.limit ?? 1000), req.query.after);
      if (page.next !== undefined) reply.header('x-next-cursor', page.next);
      return page.json;
    },
  );
  app.get('/messages/count', async () => ({ count: deps.store.count(), consumedSinceStart: deps.consumer.consumed, duplicatesSkipped: deps.consumer.duplicates }));
  app.addHook('onClose', async () => {
    await deps.consumer.stop();
  });
  return app;
}
