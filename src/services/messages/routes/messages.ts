import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../../../lib/errors.js';
import { messagesPageQuerySchema, NEWEST_ALONE, NEXT_CURSOR_HEADER, type MessagesCountResponse, type PageQuery } from '../../../contracts/http.js';
import type { QueueConsumer } from '../consumer.js';
import type { ConsumedStore } from '../store.js';

export interface MessagesRoutesOptions {
  store: ConsumedStore;
  consumer: QueueConsumer;
}

/** GET /messages and GET /messages/count: what this instance consumed (its own store). */
export const messagesRoutes: FastifyPluginAsync<MessagesRoutesOptions> = async (app, o) => {
  app.get<{ Querystring: PageQuery }>('/messages', { schema: { querystring: messagesPageQuerySchema } }, async (req, reply) => {
    if (req.query.newest !== undefined) {
      if (req.query.limit !== undefined || req.query.after !== undefined) throw new HttpError(400, NEWEST_ALONE);
      reply.type('application/json; charset=utf-8');
      return o.store.newestJson(Number(req.query.newest));
    }
    reply.type('application/json; charset=utf-8');
    if (req.query.limit === undefined && req.query.after === undefined) return o.store.listJson();
    const page = o.store.pageJson(Number(req.query.limit ?? 1000), req.query.after);
    if (page.next !== undefined) reply.header(NEXT_CURSOR_HEADER, page.next);
    return page.json;
  });
  app.get('/messages/count', async (): Promise<MessagesCountResponse> => ({
    count: o.store.count(),
    consumedSinceStart: o.consumer.consumed,
    duplicatesSkipped: o.consumer.duplicates,
  }));
};
