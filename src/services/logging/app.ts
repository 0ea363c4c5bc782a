import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LogEntry, MessageLog } from '../../engine/ports.js';
import { HttpError } from '../../lib/errors.js';
import { createHttpServer } from '../../shared/http.js';
import { healthRoutes, type HealthCheck } from '../../shared/health.js';
import type { Metrics } from '../../shared/metrics.js';
import type { LoggingConfig } from './config.js';

export interface LoggingDeps {
  log: MessageLog;
  health: HealthCheck;
  logger: Logger;
  metrics?: Metrics;
}

const logBody = {
  type: 'object',
  required: ['id', 'msg'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 200 },
    msg: { type: 'string', minLength: 1, pattern: '\\S' },
    correlationId: { type: 'string', maxLength: 200 },
  },
} as const;

interface LogRequest {
  id: string;
  msg: string;
  correlationId?: string;
}

/** Most entries one POST /log/batch may carry (the facade sends at most 256). */
export const BATCH_MAX_ENTRIES = 1000;
/**
 * Body limit of POST /log and /log/batch: far above what the facade sends (a
 * message under its 64 KiB default, JSON-escaped, or a 256 KiB batch), so a
 * message the facade accepted is never refused here for its size.
 */
export const LOG_BODY_LIMIT = 8 * 1024 * 1024;
const jsonOnly = { accepts: 'application/json' };

const batchBody = {
  type: 'object',
  required: ['entries'],
  additionalProperties: false,
  properties: { entries: { type: 'array', minItems: 1, maxItems: BATCH_MAX_ENTRIES, items: logBody } },
} as const;

const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
    after: { type: 'string', maxLength: 200 },
  },
} as const;

/** The logging service: stores messages in the shared map, one log line each. */
export function buildLoggingApp(config: Pick<LoggingConfig, 'name'>, deps: LoggingDeps): FastifyInstance {
  const app = createHttpServer({ logger: deps.logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) });
  const stored = deps.metrics?.counter('log_entries_stored_total', 'POST /log calls by whether the id was new.', ['created']);
  healthRoutes(app, { service: 'logging', instance: config.name }, deps.health);

  /** Stores one entry and prints its line; throws HttpError 503 when the engine fails. */
  async function store(body: LogRequest, fallbackCorrelationId: string, log: FastifyBaseLogger) {
    const entry: LogEntry = {
      id: body.id,
      msg: body.msg,
      loggedBy: config.name,
      loggedAt: new Date().toISOString(),
      ts: performance.timeOrigin + performance.now(),
      correlationId: body.correlationId ?? fallbackCorrelationId,
    };
    let result;
    try {
      result = await deps.log.put(entry);
    } catch (err) {
      throw new HttpError(503, `engine unavailable: ${(err as Error).message}`);
    }
    stored?.inc({ created: String(result.created) });
    log.info({ id: body.id, text: body.msg, correlationId: entry.correlationId, created: result.created }, result.created ? 'logged message' : 'message already logged');
    return result;
  }

  app.post<{ Body: LogRequest }>('/log', { schema: { body: logBody }, bodyLimit: LOG_BODY_LIMIT, config: { ...jsonOnly, bodyHint: '{"id": "<id>", "msg": "<text>"}' } }, async (req, reply) => {
    const result = await store(req.body, req.id, req.log);
    return reply.code(result.created ? 201 : 200).send(result.entry);
  });

  // Messages the facade received together, in one request: each is stored and
  // logged as POST /log would (its own line, its own correlation id). The
  // writes share one engine transaction. Answers each entry's result, in order.
  app.post<{ Body: { entries: LogRequest[] } }>('/log/batch', { schema: { body: batchBody }, bodyLimit: LOG_BODY_LIMIT, config: { ...jsonOnly, bodyHint: '{"entries": [{"id": "<id>", "msg": "<text>"}, …]}' } }, async (req) => {
    const results = await Promise.all(req.body.entries.map((e) => store(e, req.id, req.log)));
    return { results: results.map((r) => ({ created: r.created, entry: r.entry })) };
  });

  app.get<{ Querystring: { limit?: string; after?: string } }>('/log', { schema: { querystring: pageQuery } }, async (req, reply) => {
    try {
      if (req.query.limit === undefined && req.query.after === undefined) {
        reply.type('application/json; charset=utf-8');
        return await deps.log.listJson();
      }
      const page = await deps.log.page(Number(req.query.limit ?? 1000), req.query.after);
      if (page.next !== undefined) reply.header('x-next-cursor', page.next);
      return page.entries;
    } catch (err) {
      if (err instanceof RangeError) throw new HttpError(400, err.message);
      throw new HttpError(503, `engine unavailable: ${(err as Error).message}`);
    }
  });

  app.get('/log/count', async () => {
    try {
      return { count: await deps.log.size() };
    } catch (err) {
      throw new HttpError(503, `engine unavailable: ${(err as Error).message}`);
    }
  });

  return app;
}
