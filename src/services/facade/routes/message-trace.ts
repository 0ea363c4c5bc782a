import type { FastifyPluginAsync } from 'fastify';
import { messageTraceParamsSchema, type MessageTraceResponse, type TraceSpan } from '../../../contracts/trace.js';
import type { KvMap } from '../../../engine/ports.js';
import { HttpError } from '../../../lib/errors.js';

export interface MessageTraceOptions {
  /** The engine's trace map, where every process's exporter writes. */
  store: KvMap<TraceSpan[]>;
}

const errorSchema = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, statusCode: { type: 'integer' } } } as const;

/** GET /messages/:id/trace: the spans every process wrote for one traced message, by start time. */
export const messageTraceRoute: FastifyPluginAsync<MessageTraceOptions> = async (app, o) => {
  app.get<{ Params: { id: string } }>(
    '/messages/:id/trace',
    {
      schema: {
        summary: "One traced message's path",
        description:
          'The spans the facade, the logging instance(s) and the messages instance(s) recorded for a traced message (sent with a sampled `traceparent` header, picked by --trace-sample-ratio, or by the dashboard\'s "Send and trace"), by start time. Kept for 10 minutes. 404 when no trace of the message is kept (it was not traced, or too long ago).',
        params: messageTraceParamsSchema,
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (req): Promise<MessageTraceResponse> => {
      const id = req.params.id.toLowerCase();
      const prefix = `${id}/`;
      const spans: TraceSpan[] = [];
      for (const [, list] of await o.store.entries(prefix)) spans.push(...list);
      if (spans.length === 0) throw new HttpError(404, `no trace is kept for message ${id}: it was not traced, or more than 10 minutes ago`);
      spans.sort((a, b) => a.start - b.start);
      return { id, traceIds: [...new Set(spans.map((s) => s.traceId))], spans };
    },
  );
};
