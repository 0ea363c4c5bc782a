import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LogEntry, MessageLog } from '../../engine/ports.js';
import { createHttpServer, HttpError } from '../../shared/http.js';
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
    msg: { type: 'string', minLength: 1 },
    correlationId: { type: 'string', maxLength: 200 },
  },
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

  app.post<{ Body: { id: string; msg: string; correlationId?: string } }>('/log', { schema: { body: logBody } }, async (req, reply) => {
    const { id, msg } = req.body;
    const now = Date.now();
    const entry: LogEntry = {
      id,
      msg,
      loggedBy: config.name,
      loggedAt: new Date(now).toISOString(),
      ts: performance.timeOrigin + performance.now(),
      correlationId: req.body.correlationId ?? req.id,
    };
    let result;
    try {
      result = await deps.log.put(entry);
    } catch (err) {
      throw new HttpError(503, `engine unavailable: ${(err as Error).message}`);
    }
    stored?.inc({ created: String(result.created) });
    req.log.info({ id, text: msg, correlationId: entry.correlationId, created: result.created }, result.created ? 'logged message' : 'message already logged');
    return reply.code(result.created ? 201 : 200).send(result.entry);
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
