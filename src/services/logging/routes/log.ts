import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import {
  LOG_BODY_LIMIT,
  logBatchRequestSchema,
  logPageQuerySchema,
  logRequestSchema,
  NEWEST_ALONE,
  NEXT_CURSOR_HEADER,
  type LogBatchRequest,
  type LogBatchResponse,
  type LogCountResponse,
  type LogCountsResponse,
  type LogRequest,
  type PageQuery,
} from '../../../contracts/http.js';
import type { LogEntry, MessageLog } from '../../../engine/ports.js';
import { HttpError } from '../../../lib/errors.js';
import type { Metrics } from '../../../shared/metrics.js';
import { MESSAGE_ID_ATTRIBUTE } from '../../../contracts/trace.js';
import { sampledParent, traceIdOf } from '../../../shared/tracing/trace-context.js';
import { failSpan, SpanKind, type Tracing } from '../../../shared/tracing/tracing.js';

export interface LogRoutesOptions {
  instance: string;
  log: MessageLog;
  metrics: Metrics;
  /** Continues the traces of traced messages (absent: none). */
  tracing?: Tracing;
}

const jsonOnly = { accepts: 'application/json' };

/**
 * POST /log, POST /log/batch, GET /log, GET /log/count, GET /log/counts: the shared log, as
 * the facade uses it. An engine failure surfaces as EngineUnavailableError,
 * which the server answers with 503.
 */
export const logRoutes: FastifyPluginAsync<LogRoutesOptions> = async (app, o) => {
  const stored = o.metrics.counter('log_entries_stored_total', 'POST /log calls by whether the id was new.', ['created']);

  /**
   * Stores one entry and prints its line. A traced message (its own
   * traceparent, else the request's) gets a span for the store.
   */
  async function store(body: LogRequest, fallbackCorrelationId: string, log: FastifyBaseLogger, header?: unknown) {
    const traceparent = body.traceparent ?? header;
    const parent = o.tracing && traceparent !== undefined ? sampledParent(traceparent) : undefined;
    const span = parent && o.tracing!.start('log store', parent, SpanKind.SERVER, { [MESSAGE_ID_ATTRIBUTE]: body.id, 'hazel.instance': o.instance });
    const entry: LogEntry = {
      id: body.id,
      msg: body.msg,
      loggedBy: o.instance,
      loggedAt: new Date().toISOString(),
      ts: performance.timeOrigin + performance.now(),
      correlationId: body.correlationId ?? fallbackCorrelationId,
    };
    let result;
    try {
      result = await o.log.put(entry);
    } catch (err) {
      if (span) {
        failSpan(span, (err as Error).message);
        span.end();
      }
      throw err;
    }
    stored.inc({ created: String(result.created) });
    const traceId = span ? traceIdOf(traceparent as string) : undefined;
    log.info({ id: body.id, text: body.msg, correlationId: entry.correlationId, created: result.created, traceId }, result.created ? 'logged message' : 'message already logged');
    if (span) {
      span.setAttribute('hazel.created', result.created);
      if (!result.created) span.addEvent('already logged');
      span.end();
    }
    return result;
  }

  app.post<{ Body: LogRequest }>(
    '/log',
    { schema: { body: logRequestSchema }, bodyLimit: LOG_BODY_LIMIT, config: { ...jsonOnly, bodyHint: '{"id": "<id>", "msg": "<text>"}' } },
    async (req, reply) => {
      const result = await store(req.body, req.id, req.log, req.headers.traceparent);
      return reply.code(result.created ? 201 : 200).send(result.entry);
    },
  );

  // Messages the facade received together, in one request: each is stored and
  // logged as POST /log would (its own line, its own correlation id). The
  // writes share one engine transaction. Answers each entry's result, in order.
  app.post<{ Body: LogBatchRequest }>(
    '/log/batch',
    { schema: { body: logBatchRequestSchema }, bodyLimit: LOG_BODY_LIMIT, config: { ...jsonOnly, bodyHint: '{"entries": [{"id": "<id>", "msg": "<text>"}, …]}' } },
    async (req): Promise<LogBatchResponse> => {
      const results = await Promise.all(req.body.entries.map((e) => store(e, req.id, req.log)));
      return { results: results.map((r) => ({ created: r.created, entry: r.entry })) };
    },
  );

  app.get<{ Querystring: PageQuery }>('/log', { schema: { querystring: logPageQuerySchema } }, async (req, reply) => {
    if (req.query.newest !== undefined) {
      if (req.query.limit !== undefined || req.query.after !== undefined) throw new HttpError(400, NEWEST_ALONE);
      return o.log.newest(Number(req.query.newest));
    }
    if (req.query.limit === undefined && req.query.after === undefined) {
      reply.type('application/json; charset=utf-8');
      return await o.log.listJson();
    }
    let page;
    try {
      page = await o.log.page(Number(req.query.limit ?? 1000), req.query.after);
    } catch (err) {
      if (err instanceof RangeError) throw new HttpError(400, err.message);
      throw err;
    }
    if (page.next !== undefined) reply.header(NEXT_CURSOR_HEADER, page.next);
    return page.entries;
  });

  app.get('/log/count', async (): Promise<LogCountResponse> => ({ count: await o.log.size() }));

  // What the dashboard shows per logging instance, without reading the log.
  app.get('/log/counts', async (): Promise<LogCountsResponse> => {
    const byInstance = await o.log.countByLogger();
    return { total: Object.values(byInstance).reduce((a, b) => a + b, 0), byInstance };
  });
};
