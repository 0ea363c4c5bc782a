import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { KvMap, MessageQueue, QueueItem } from '../../engine/ports.js';
import { HttpError, isNoInstanceError, isPermanentCallError, PermanentCallError } from '../../lib/errors.js';
import { CORRELATION_HEADER, createHttpServer } from '../../shared/http.js';
import { healthRoutes, type HealthCheck } from '../../shared/health.js';
import type { InstanceRecord } from '../../shared/registry.js';
import { LogBatcher, type LogRequest } from './log-batcher.js';
import type { Metrics } from '../../shared/metrics.js';
import type { ServiceCaller } from './caller.js';
import { dashboardRoutes } from './dashboard.js';
import type { FacadeConfig } from './config.js';
import type { InstanceDirectory } from './directory.js';
import { decide, fingerprintOf, type IdempotencyRecord } from './idempotency.js';
import { InstanceCaller } from './resilience.js';

export interface FacadeDeps {
  queue: MessageQueue;
  /** Idempotency-Key → the request it was used for. */
  idempotency: KvMap<IdempotencyRecord>;
  directory: InstanceDirectory;
  caller: ServiceCaller;
  health: HealthCheck;
  logger: Logger;
  metrics?: Metrics;
}

type FacadeOptions = Pick<
  FacadeConfig,
  'name' | 'bodyLimit' | 'attemptTimeoutMs' | 'requestDeadlineMs' | 'offerTimeoutMs' | 'retryAfterSeconds' | 'breakerThreshold' | 'breakerHalfOpenMs' | 'idempotencyTtlMs' | 'registryTtlMs'
>;

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, statusCode: { type: 'integer' } },
} as const;

const postSchema = {
  summary: 'Send a message',
  description:
    'JSON {"msg": "<non-empty string>"} or a text/plain body. The message gets a UUID, is stored by one logging instance (random, failing over to the others) and put on the queue; only then the answer is 201. With an Idempotency-Key header a repeat (same key, same message) answers 200 with the same id and stores nothing twice; the same key with a different message answers 422 and stores nothing; a repeat while the first still runs answers 409 with Retry-After. 503 with Retry-After when no logging instance can store it or the queue is full.\n\n' +
    'Bodies are decoded by the charset parameter of Content-Type (UTF-8 when none; any WHATWG label such as iso-8859-1, windows-1252, utf-16le); an unknown charset answers 415, bytes invalid in the charset answer 400 (for UTF-8 naming the byte offset), never replaced by U+FFFD. Content-Encoding may be identity, gzip, deflate or br (others answer 415); the body limit holds for the compressed and the decoded size (413).',
  response: {
    201: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } },
    200: { type: 'object', properties: { id: { type: 'string' }, repeated: { type: 'boolean' } } },
    400: errorSchema,
    409: errorSchema,
    413: errorSchema,
    415: errorSchema,
    422: errorSchema,
    503: errorSchema,
  },
  headers: {
    type: 'object',
    properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } },
  },
  body: {
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['msg'],
          properties: { msg: { type: 'string', minLength: 1, pattern: '\\S' } },
        },
      },
      'text/plain': { schema: { type: 'string', minLength: 1, pattern: '\\S' } },
    },
  },
} as const;

/** The facade: the one public entry. Logs each message through a logging instance, queues it, answers with its id. */
export function buildFacadeApp(config: FacadeOptions, deps: FacadeDeps): FastifyInstance {
  const app = createHttpServer({ logger: deps.logger, bodyLimit: config.bodyLimit, ...(deps.metrics ? { metrics: deps.metrics } : {}) });
  const calls = new InstanceCaller({
    attemptTimeoutMs: config.attemptTimeoutMs,
    deadlineMs: config.requestDeadlineMs,
    breakerThreshold: config.breakerThreshold,
    breakerHalfOpenMs: config.breakerHalfOpenMs,
  });
  app.decorate('instanceCaller', calls);
  dashboardRoutes(app, { directory: deps.directory, caller: deps.caller, queue: deps.queue, calls, registryTtlMs: config.registryTtlMs });
  const accepted = deps.metrics?.counter('messages_accepted_total', 'Messages answered 201: logged and queued.');
  const rejected = deps.metrics?.counter('messages_rejected_total', 'POST /messages answered 503, by reason.', ['reason']);
  if (deps.metrics) {
    const retries = deps.metrics.counter('facade_retries_total', 'Calls to an instance retried on another, by the service called.', ['target_service']);
    calls.onRetry = (service) => retries.inc({ target_service: service });
    const states = { closed: 0, 'half-open': 1, open: 2, isolated: 3 } as const;
    deps.metrics.gauge('facade_breaker_state', 'Circuit breaker per instance: 0 closed, 1 half-open, 2 open.', (g) => {
      g.reset();
      for (const r of deps.directory.all()) g.set({ target: r.instance, target_service: r.service }, states[calls.breakerState(r)]);
    }, ['target', 'target_service']);
    deps.metrics.gauge('queue_depth', 'Items waiting in the shared queue.', async (g) => g.set(await deps.queue.depth().catch(() => -1)));
    deps.metrics.gauge('registered_instances', 'Live instances in the registry, by service.', (g) => {
      g.reset();
      for (const s of ['logging', 'messages'] as const) g.set({ target_service: s }, deps.directory.all().filter((r) => r.service === s).length);
    }, ['target_service']);
  }

  app.register(swagger, {
    openapi: {
      info: {
        title: 'hazel-lab facade',
        version: '0.1.0',
        description:
          'The public entry of the system: accepts messages (logged through a logging instance, then queued for the messages instances) and reads back what logging and one messages instance hold.',
      },
    },
  });
  app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } as object }, async () => app.swagger());

  // Routes live in a child scope registered after swagger, so the docs see them.
  app.register(async (app) => {
    healthRoutes(app, { service: 'facade', instance: config.name }, deps.health);

    /** Calls a service through the resilience policies; maps a 2xx body to T. */
    async function callService(
      service: 'logging' | 'messages',
      method: 'GET' | 'POST',
      path: string,
      body: unknown,
      correlationId: string,
      raw: boolean | 'buffer' = false,
    ) {
      const instances = await deps.directory.of(service);
      return calls.call(instances, async (inst: InstanceRecord, signal) => {
        const res = await deps.caller.call(inst.url, { method, path, body, signal, raw, headers: { [CORRELATION_HEADER]: correlationId } });
        // A 400 or 413 is about the request itself: every instance would answer the same, so it is
        // not retried and does not count against the instance's breaker. Any other failure may go
        // differently elsewhere.
        const answer = Buffer.isBuffer(res.body) && res.status >= 300 ? res.body.toString('utf8') : res.body;
        if (res.status === 400 || res.status === 413) throw new PermanentCallError(`${inst.instance} answered ${res.status}`, res.status, answer);
        if (res.status >= 300) throw new Error(`${inst.instance} answered ${res.status}`);
        return { body: res.body, next: typeof res.headers['x-next-cursor'] === 'string' ? res.headers['x-next-cursor'] : undefined };
      });
    }

    const toLogging = new LogBatcher({
      one: (r: LogRequest) => callService('logging', 'POST', '/log', r, r.correlationId),
      many: async (rs: LogRequest[]) => {
        const out = await callService('logging', 'POST', '/log/batch', { entries: rs }, rs[0]!.correlationId);
        const results = (out.value.body as { results?: unknown } | undefined)?.results;
        if (!Array.isArray(results) || results.length !== rs.length) {
          throw new Error(`${out.instance.instance} answered a batch of ${rs.length} with ${Array.isArray(results) ? results.length : 'no'} results`);
        }
        return rs.map(() => out);
      },
      isPermanent: (err) => isPermanentCallError(err),
      maxEntries: 256,
      maxBytes: 256 * 1024,
    });

    app.post<{ Body: { msg: string } | string; Headers: { 'idempotency-key'?: string } }>('/messages', { schema: postSchema }, async (req, reply) => {
      if (typeof req.body !== 'string' && (typeof req.body !== 'object' || req.body === null)) {
        throw new HttpError(400, 'missing body: send {"msg": "<text>"} as application/json, or the text as text/plain');
      }
      const msg = typeof req.body === 'string' ? req.body : req.body.msg;
      const key = req.headers['idempotency-key'];
      const correlationId = req.id;
      let id: string = randomUUID();
      const fingerprint = key !== undefined ? fingerprintOf(msg) : '';
      if (key !== undefined) {
        let prior;
        try {
          prior = await deps.idempotency.setIfAbsent(key, { id, state: 'pending', startedAt: Date.now(), fingerprint }, config.idempotencyTtlMs);
        } catch (err) {
          throw new HttpError(503, `engine unavailable: ${(err as Error).message}`, { 'retry-after': String(config.retryAfterSeconds) });
        }
        const decision = decide(prior, fingerprint, Date.now(), config.requestDeadlineMs);
        switch (decision.kind) {
          case 'repeat':
            req.log.info({ id: decision.id, idempotencyKey: key }, 'repeat of an accepted request');
            return reply.code(200).send({ id: decision.id, repeated: true });
          case 'conflict':
            throw new HttpError(422, `this Idempotency-Key was already used for a different message (id ${decision.id}); use a new key for a new message`);
          case 'in-progress':
            // The first request may still be running: two at once would queue the message twice.
            throw new HttpError(409, `a request with this Idempotency-Key is still in progress (id ${decision.id}); retry shortly`, { 'retry-after': String(config.retryAfterSeconds) });
          case 'take-over':
            // A repeat of a request that did not finish: complete it under the same id.
            id = decision.id;
            await deps.idempotency.set(key, { id, state: 'pending', startedAt: Date.now(), fingerprint }, config.idempotencyTtlMs).catch(() => undefined);
            break;
          case 'new':
            break;
        }
      }

      const deliver = async () => {
        let logged;
        try {
          logged = await toLogging.send({ id, msg, correlationId });
        } catch (err) {
          if (isPermanentCallError(err)) {
            throw new HttpError(err.status === 413 ? 413 : 400, `logging rejected the message: ${innerMessage(err.body)}`);
          }
          rejected?.inc({ reason: 'logging' });
          const why = isNoInstanceError(err) ? 'no logging instance is registered' : `no logging instance could store the message (${(err as Error).message})`;
          throw new HttpError(503, why, { 'retry-after': String(config.retryAfterSeconds) });
        }

        const item: QueueItem = { id, msg, enqueuedAt: new Date().toISOString(), correlationId };
        let queued: boolean;
        try {
          queued = await deps.queue.offer(item, config.offerTimeoutMs);
        } catch (err) {
          rejected?.inc({ reason: 'queue' });
          throw new HttpError(503, `queue unavailable: ${(err as Error).message}`, { 'retry-after': String(config.retryAfterSeconds) });
        }
        if (!queued) {
          rejected?.inc({ reason: 'queue-full' });
          req.log.warn({ id }, 'queue full');
          throw new HttpError(503, 'the message queue is full; retry later', { 'retry-after': String(config.retryAfterSeconds) });
        }
        return logged;
      };
      let logged;
      try {
        logged = await deliver();
      } catch (err) {
        // Not in progress any more: a repeat may take over at once, under the same id.
        if (key !== undefined) await deps.idempotency.set(key, { id, state: 'pending', startedAt: 0, fingerprint }, config.idempotencyTtlMs).catch(() => undefined);
        throw err;
      }
      if (key !== undefined) {
        await deps.idempotency.set(key, { id, state: 'done', fingerprint }, config.idempotencyTtlMs).catch((err: Error) => {
          req.log.warn({ id, err: err.message }, 'could not mark the idempotency key done; a repeat will re-send under the same id');
        });
      }
      accepted?.inc();
      req.log.info({ id, correlationId, loggedBy: logged.instance.instance, attempts: logged.attempts.length }, 'accepted message');
      return reply.code(201).send({ id });
    });

    app.get<{ Querystring: { limit?: string; after?: string; messagesAfter?: string } }>(
      '/messages',
      {
        schema: {
          summary: 'Read messages',
          description:
            '{logging: [...], messages: [...]}: every logged message (from one logging instance) and what one randomly chosen messages instance consumed. With Accept: text/plain, the texts as lines in two parts. ?limit=N pages both parts: the logging part continues with &after=<next> (also in the x-next-cursor header), the messages part with &messagesAfter=<messagesNext> (of the same messages instance, named in messagesInstance).',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
              after: { type: 'string', maxLength: 200 },
              messagesAfter: { type: 'string', pattern: '^[0-9]{1,15}$' },
            },
          },
        },
      },
      async (req, reply) => {
        const qs = new URLSearchParams();
        if (req.query.limit) qs.set('limit', req.query.limit);
        if (req.query.after) qs.set('after', req.query.after);
        const logPath = qs.size ? `/log?${qs}` : '/log';
        const mqs = new URLSearchParams();
        if (req.query.limit) mqs.set('limit', req.query.limit);
        if (req.query.messagesAfter) mqs.set('after', req.query.messagesAfter);
        const messagesPath = mqs.size ? `/messages?${mqs}` : '/messages';
        // Both parts stay the bytes the instances sent: a large read is passed
        // through, not decoded, parsed and re-serialised.
        const [logging, messages] = await Promise.allSettled([
          callService('logging', 'GET', logPath, undefined, req.id, 'buffer'),
          callService('messages', 'GET', messagesPath, undefined, req.id, 'buffer'),
        ]);
        if (logging.status === 'rejected') {
          const e = logging.reason as Error;
          if (isPermanentCallError(e)) throw new HttpError(400, `logging rejected the read: ${innerMessage(e.body)}`);
          throw new HttpError(503, isNoInstanceError(e) ? 'no logging instance is registered' : `no logging instance answered (${e.message})`, {
            'retry-after': String(config.retryAfterSeconds),
          });
        }
        const loggingJson = logging.value.value.body as Buffer;
        const loggingInstance = logging.value.instance.instance;
        const messagesJson = messages.status === 'fulfilled' ? (messages.value.value.body as Buffer) : Buffer.from('[]');
        const messagesInstance = messages.status === 'fulfilled' ? messages.value.instance.instance : null;
        const note = messages.status === 'rejected' ? `no messages instance answered: ${(messages.reason as Error).message}` : undefined;
        const messagesNext = messages.status === 'fulfilled' ? messages.value.value.next : undefined;
        // Paged read: the cursor comes from logging.
        const next = logging.value.value.next;
        if (next) reply.header('x-next-cursor', next);
        if (wantsText(req.headers.accept)) {
          reply.type('text/plain; charset=utf-8');
          const lines = (json: Buffer) => {
            const xs = JSON.parse(json.toString('utf8')) as Array<{ msg: unknown }>;
            return xs.length > 0 ? xs.map((e) => String(e.msg)).join('\n') : '(none)';
          };
          return [
            `== logging (${loggingInstance}) ==`,
            lines(loggingJson),
            `== messages (${messagesInstance ?? 'none'}) ==`,
            note ? `(${note})` : lines(messagesJson),
            '',
          ].join('\n');
        }
        const tail = { loggingInstance, messagesInstance, ...(note ? { note } : {}), ...(next ? { next } : {}), ...(messagesNext ? { messagesNext } : {}) };
        reply.type('application/json; charset=utf-8');
        return reply.send(Buffer.concat([Buffer.from('{"logging":'), loggingJson, Buffer.from(',"messages":'), messagesJson, Buffer.from(`,${JSON.stringify(tail).slice(1)}`)]));
      },
    );

    app.get('/instances', { schema: { summary: 'Registered instances with heartbeat age and breaker state' } }, async () => {
      const now = Date.now();
      return deps.directory.all().map((r) => ({
        ...r,
        heartbeatAgeMs: now - Date.parse(r.heartbeatAt),
        breaker: calls.breakerState(r),
        status: calls.breakerState(r) === 'open' ? 'down' : now - Date.parse(r.heartbeatAt) > config.registryTtlMs ? 'stale' : 'up',
      }));
    });
  });

  return app;
}

/** The `message` of another service's error answer (parsed or raw JSON), else the answer itself. */
function innerMessage(body: unknown): string {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      return b as string;
    }
  }
  const m = (b as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : JSON.stringify(b);
}

function wantsText(accept: string | undefined): boolean {
  if (!accept) return false;
  const a = accept.toLowerCase();
  return a.includes('text/plain') && !a.includes('application/json');
}

declare module 'fastify' {
  interface FastifyInstance {
    instanceCaller: InstanceCaller;
  }
}
