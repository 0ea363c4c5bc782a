import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { FacadePostResponse } from '../../../contracts/dashboard.js';
import type { MessageQueue, QueueItem } from '../../../engine/ports.js';
import { HttpError, isNoInstanceError, isPermanentCallError } from '../../../lib/errors.js';
import type { Metrics } from '../../../shared/metrics.js';
import type { FacadeConfig } from '../config.js';
import type { IdempotencyKeys } from '../idempotency.js';
import { LogBatcher, type LogRequest } from '../log-batcher.js';
import { batchLogTrace, MessageTrace, singleLogTrace } from '../message-trace.js';
import { innerMessage, type ServiceCalls } from '../service-calls.js';
import { failSpan, type Tracing } from '../../../shared/tracing/tracing.js';
import { traceparentOf } from '../../../shared/tracing/trace-context.js';

export interface PostMessageOptions {
  config: Pick<FacadeConfig, 'offerTimeoutMs' | 'retryAfterSeconds' | 'traceSampleRatio' | 'queueName'>;
  calls: ServiceCalls;
  queue: MessageQueue;
  /** Traces messages that ask for it (absent: none is traced). */
  tracing?: Tracing;
  /** The engine's kind, named on the queue offer's span. */
  engineKind?: string;
  keys: IdempotencyKeys;
  metrics: Metrics;
}

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, statusCode: { type: 'integer' } },
} as const;

const postSchema = {
  summary: 'Send a message',
  description:
    'JSON {"msg": "<non-empty string>"} or a text/plain body. The message gets a UUID, is stored by one logging instance (random, failing over to the others) and put on the queue; only then the answer is 201. With an Idempotency-Key header a repeat (same key, same message) answers 200 with the same id and stores nothing twice; the same key with a different message answers 422 and stores nothing; a repeat while the first still runs answers 409 with Retry-After. 503 with Retry-After when no logging instance can store it or the queue is full.\n\n' +
    'Bodies are decoded by the charset parameter of Content-Type (UTF-8 when none; any WHATWG label such as iso-8859-1, windows-1252, utf-16le); an unknown charset answers 415, bytes invalid in the charset answer 400 (for UTF-8 naming the byte offset), never replaced by U+FFFD. Content-Encoding may be identity, gzip, deflate or br (others answer 415); the body limit holds for the compressed and the decoded size (413). A JSON string holding a lone surrogate (an escape such as \\ud800 without its pair) is not Unicode text: 400.\n\n' +
    'A `traceparent` header (W3C trace context) with the sampled flag makes the message traced: its path is then read at GET /messages/{id}/trace. Without one, --trace-sample-ratio decides (default 0: none).\n\n' +
    'An x-correlation-id of 1–128 letters, digits, ".", "_", "-" or ":" follows the message into the log and the consumer; any other is replaced by a fresh one, returned in x-correlation-id, with the reason in x-correlation-id-replaced.',
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

/** POST /messages: logs the message through a logging instance, queues it, answers with its id. */
export const postMessageRoute: FastifyPluginAsync<PostMessageOptions> = async (app, o) => {
  const { config, calls, queue, keys } = o;
  const retryAfter = { 'retry-after': String(config.retryAfterSeconds) };
  const accepted = o.metrics.counter('messages_accepted_total', 'Messages answered 201: logged and queued.');
  const rejected = o.metrics.counter('messages_rejected_total', 'POST /messages answered 503, by reason.', ['reason']);

  // The trace of each traced request on its way through the batcher (untraced ones are not in it),
  // and how many are on their way: while none is, a call looks nothing up.
  const traceOf = new WeakMap<LogRequest, MessageTrace>();
  let tracedToLogging = 0;
  const toLogging = new LogBatcher({
    one: (r: LogRequest) => {
      const t = tracedToLogging > 0 ? traceOf.get(r) : undefined;
      return calls.call('logging', 'POST', '/log', r, r.correlationId ?? '', false, t && singleLogTrace(t));
    },
    many: async (rs: LogRequest[]) => {
      const traces = tracedToLogging > 0 ? rs.map((r) => traceOf.get(r)) : undefined;
      const trace = traces?.some((t) => t !== undefined) ? batchLogTrace(rs, traces) : undefined;
      const out = await calls.call('logging', 'POST', '/log/batch', { entries: rs }, rs[0]!.correlationId ?? '', false, trace);
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

  /** Logs, then queues; throws the HttpError to answer when either fails. */
  async function deliver(id: string, msg: string, correlationId: string, log: { warn: (o: object, m: string) => void }, trace: MessageTrace | undefined) {
    let logged;
    try {
      const r: LogRequest = { id, msg, correlationId };
      if (trace) {
        traceOf.set(r, trace);
        tracedToLogging++;
        try {
          logged = await toLogging.send(r);
        } finally {
          tracedToLogging--;
        }
      } else {
        logged = await toLogging.send(r);
      }
    } catch (err) {
      if (isPermanentCallError(err)) throw new HttpError(err.status === 413 ? 413 : 400, `logging rejected the message: ${innerMessage(err.body)}`);
      rejected.inc({ reason: 'logging' });
      const why = isNoInstanceError(err) ? 'no logging instance is registered' : `no logging instance could store the message (${(err as Error).message})`;
      throw new HttpError(503, why, retryAfter);
    }
    const item: QueueItem = { id, msg, enqueuedAt: new Date().toISOString(), correlationId };
    const offerSpan = trace?.offer(config.queueName, o.engineKind ?? 'engine');
    if (offerSpan) item.traceparent = traceparentOf(offerSpan);
    let queued: boolean;
    try {
      queued = await queue.offer(item, config.offerTimeoutMs);
    } catch (err) {
      rejected.inc({ reason: 'queue' });
      if (offerSpan) {
        failSpan(offerSpan, (err as Error).message);
        offerSpan.end();
      }
      throw new HttpError(503, `queue unavailable: ${(err as Error).message}`, retryAfter);
    }
    if (offerSpan) {
      if (!queued) failSpan(offerSpan, 'queue full');
      offerSpan.end();
    }
    if (!queued) {
      rejected.inc({ reason: 'queue-full' });
      log.warn({ id }, 'queue full');
      throw new HttpError(503, 'the message queue is full; retry later', retryAfter);
    }
    return logged;
  }

  app.post<{ Body: { msg: string } | string; Headers: { 'idempotency-key'?: string } }>('/messages', { schema: postSchema }, async (req, reply) => {
    if (typeof req.body !== 'string' && (typeof req.body !== 'object' || req.body === null)) {
      throw new HttpError(400, 'missing body: send {"msg": "<text>"} as application/json, or the text as text/plain');
    }
    const msg = typeof req.body === 'string' ? req.body : req.body.msg;
    const key = req.headers['idempotency-key'];
    const correlationId = req.id;
    const trace = MessageTrace.begin(o.tracing, req.headers.traceparent, config.traceSampleRatio);
    if (!trace) return handle(req, reply, msg, key, correlationId, undefined);
    try {
      return await handle(req, reply, msg, key, correlationId, trace);
    } catch (err) {
      trace?.end(err instanceof HttpError ? err.statusCode : 500, (err as Error).message);
      throw err;
    }
  });

  async function handle(
    req: FastifyRequest,
    reply: FastifyReply,
    msg: string,
    key: string | undefined,
    correlationId: string,
    trace: MessageTrace | undefined,
  ) {
    let id: string = randomUUID();
    if (key !== undefined) {
      const claim = await keys.claim(key, msg, id);
      if (!claim.go) {
        const d = claim.decision;
        switch (d.kind) {
          case 'repeat':
            trace?.identify(d.id, correlationId);
            trace?.end(200);
            req.log.info({ id: d.id, idempotencyKey: key }, 'repeat of an accepted request');
            return reply.code(200).send({ id: d.id, repeated: true } satisfies FacadePostResponse);
          case 'conflict':
            throw new HttpError(422, `this Idempotency-Key was already used for a different message (id ${d.id}); use a new key for a new message`);
          case 'in-progress':
            // The first request may still be running: two at once would queue the message twice.
            throw new HttpError(409, `a request with this Idempotency-Key is still in progress (id ${d.id}); retry shortly`, retryAfter);
        }
      }
      id = claim.id;
    }
    trace?.identify(id, correlationId);

    let logged;
    try {
      logged = await deliver(id, msg, correlationId, req.log, trace);
    } catch (err) {
      if (key !== undefined) await keys.failed(key, id, msg);
      throw err;
    }
    if (key !== undefined) {
      await keys.done(key, id, msg).catch((err: unknown) => {
        req.log.warn({ id, err }, 'could not mark the idempotency key done; a repeat will re-send under the same id');
      });
    }
    accepted.inc();
    req.log.info({ id, correlationId, loggedBy: logged.instance.instance, attempts: logged.attempts.length, traceId: trace?.traceId }, 'accepted message');
    trace?.end(201);
    return reply.code(201).send({ id } satisfies FacadePostResponse);
  }
};
