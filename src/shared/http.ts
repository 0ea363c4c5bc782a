import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyContextConfig, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { HttpError, isEngineUnavailable, isHttpError } from '../lib/errors.js';
import { excerpt, quotedExcerpt } from '../lib/excerpt.js';
import { correlationIdOf, correlationIdProblem } from './correlation-id.js';
import type { Metrics } from './metrics.js';
import { decodeCharset, decodeContentEncoding, parseJson } from './request-body.js';

import { CORRELATION_HEADER, CORRELATION_ID_MAX, CORRELATION_REPLACED_HEADER, INTERNAL_TOKEN_HEADER } from '../contracts/http.js';

export { CORRELATION_HEADER };

export interface HttpOptions {
  logger: Logger;
  bodyLimit?: number;
  /** When given: request metrics and GET /metrics. */
  metrics?: Metrics;
  /**
   * When given, every route but the probes (/health…) and /metrics answers
   * 401 unless the request carries this token in x-internal-token: the
   * service's routes are for the facade, not for anyone on the network.
   */
  internalToken?: string | undefined;
}


const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function errorBody(statusCode: number, message: string) {
  return { error: REASONS[statusCode] ?? (statusCode >= 500 ? 'Server Error' : 'Client Error'), message, statusCode };
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/**
 * A Fastify instance with what every service shares: no type coercion of
 * bodies, a request/correlation id, one error shape `{error, message}` for
 * every failure, 405 for a known path with the wrong method.
 */
export function createHttpServer(opts: HttpOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit ?? 65_536,
    logController: new LogController({ disableRequestLogging: true }),
    // The id is chosen here rather than by Fastify, which would take any header value as it is.
    requestIdHeader: false,
    genReqId: (raw) => correlationIdOf(raw.headers[CORRELATION_HEADER]),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header(CORRELATION_HEADER, req.id);
    const problem = correlationIdProblem(req.headers[CORRELATION_HEADER]);
    if (problem) {
      reply.header(CORRELATION_REPLACED_HEADER, problem);
      req.log.debug({ correlationId: req.id, problem }, 'replaced the correlation id the client sent');
    }
  });
  if (opts.internalToken) {
    const expected = digest(opts.internalToken);
    // onRequest runs before the body is read: a refused call stores nothing.
    app.addHook('onRequest', async (req, reply) => {
      if (isOpenPath(req.url)) return;
      const given = req.headers[INTERNAL_TOKEN_HEADER];
      if (typeof given === 'string' && timingSafeEqual(digest(given), expected)) return;
      return reply
        .code(401)
        .send(errorBody(401, `${given === undefined ? 'missing' : 'wrong'} internal token: this route is for other services of the system (send ${INTERNAL_TOKEN_HEADER})`));
    });
  }
  installBodyParsers(app, opts.bodyLimit ?? 65_536);
  opts.metrics?.install(app);

  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (isEngineUnavailable(err)) {
      // The one place an engine failure becomes an answer: 503, retry later (the message says which engine and why).
      req.log.warn({ err }, 'engine unavailable');
      return reply.code(503).header('retry-after', '1').send(errorBody(503, `engine unavailable: ${err.message}`));
    }
    if (isHttpError(err)) {
      const e = err;
      if (e.statusCode >= 500) req.log.warn({ status: e.statusCode, reason: e.message }, 'request failed');
      return reply.code(e.statusCode).headers(e.headers).send(errorBody(e.statusCode, e.message));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return reply.code(400).send(errorBody(400, `invalid request: ${validationMessage(fe)}`));
    }
    const status = fe.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const route = req.routeOptions as { bodyLimit?: number; config?: FastifyContextConfig } | undefined;
      return reply.code(status).send(errorBody(status, clientMessage(fe, route?.bodyLimit ?? opts.bodyLimit ?? 65_536, route?.config ?? {})));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send(errorBody(500, 'internal error; see the service log'));
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? req.url;
    const allowed = METHODS.filter((m) => m !== req.method && app.hasRoute({ method: m, url: path }));
    if (allowed.length > 0) {
      return reply.code(405).header('allow', allowed.join(', ')).send(errorBody(405, `method ${req.method} is not allowed on ${excerpt(path, 100)}; use ${allowed.join(' or ')}`));
    }
    return reply.code(404).send(errorBody(404, `no route ${req.method} ${excerpt(path, 100)}`));
  });

  return app;
}

/** Says in plain words what the first schema violation was. */
function validationMessage(e: FastifyError): string {
  const v = e.validation?.[0];
  if (!v) return e.message;
  const where = `${e.validationContext ?? 'request'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`;
  const field = where.replace(/^body\./, '').replace(/^querystring\./, 'query parameter ').replace(/^headers\./, 'header ');
  switch (v.keyword) {
    case 'additionalProperties':
      return `unknown ${e.validationContext === 'querystring' ? 'query parameter' : 'field'} ${quotedExcerpt(String((v.params as { additionalProperty?: unknown }).additionalProperty))}`;
    case 'required':
      return `${where === 'body' ? 'body' : field} must have "${String((v.params as { missingProperty?: unknown }).missingProperty)}"`;
    case 'pattern':
      if (/\.msg$|^body$/.test(where) || where === 'body.msg') return `${field} must contain a non-blank character`;
      if (/limit$/.test(where)) return `${field} must be an integer from 1 to 999999`;
      if (/correlationId$/.test(where)) return `${field} must be 1–${CORRELATION_ID_MAX} letters, digits, ".", "_", "-" or ":"`;
      return `${field} is not in the expected form`;
    case 'minLength':
      return `${field} must not be empty`;
    case 'maxLength':
      return `${field} must be at most ${String((v.params as { limit?: unknown }).limit)} characters`;
    case 'minItems':
      return `${field} must hold at least ${String((v.params as { limit?: unknown }).limit)} item(s)`;
    case 'maxItems':
      return `${field} must hold at most ${String((v.params as { limit?: unknown }).limit)} items`;
    case 'type':
      return `${field} must be ${(v.params as { type?: unknown }).type === 'object' ? 'a JSON object' : `of type ${String((v.params as { type?: unknown }).type)}`}`;
    default:
      return excerpt(e.message, 200);
  }
}

/** Per-route wording for client errors, set in a route's `config`. */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** Content types the route takes, for the 415 message. Default "application/json or text/plain". */
    accepts?: string;
    /** What a body looks like, for the empty-body message. Default {"msg": "<text>"}. */
    bodyHint?: string;
  }
}

/**
 * JSON and text bodies are read as bytes and decoded here rather than by
 * Fastify: its parsers turn bytes that are not UTF-8 into U+FFFD, ignore the
 * charset parameter and know no Content-Encoding. Both undo gzip/deflate/br,
 * hold the decoded size to the route's body limit, decode by the charset
 * (refusing invalid bytes), and JSON refuses prototype keys.
 */
function installBodyParsers(app: FastifyInstance, defaultLimit: number): void {
  const text = (req: FastifyRequest, body: Buffer, keepBom: boolean) => {
    const limit = (req.routeOptions as { bodyLimit?: number } | undefined)?.bodyLimit ?? defaultLimit;
    const encoding = req.headers['content-encoding'];
    return decodeCharset(decodeContentEncoding(body, Array.isArray(encoding) ? encoding.join(',') : encoding, limit), req.headers['content-type'], keepBom);
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      const json = text(req, body as Buffer, false);
      if (json.length === 0) {
        const hint = (req.routeOptions as { config?: FastifyContextConfig } | undefined)?.config?.bodyHint ?? '{"msg": "<text>"}';
        throw new HttpError(400, `empty JSON body; send ${hint}`);
      }
      done(null, parseJson(json));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      done(null, text(req, body as Buffer, true));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

function clientMessage(e: FastifyError, bodyLimit: number, hints: FastifyContextConfig): string {
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `unsupported content type; send ${hints.accepts ?? 'application/json or text/plain'}`;
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than the limit of ${bodyLimit} bytes`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return `empty JSON body; send ${hints.bodyHint ?? '{"msg": "<text>"}'}`;
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'the body is not as long as its Content-Length says';
    default:
      // Fastify's own words may quote what the client sent.
      return excerpt(e.message, 200);
  }
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** Probes and metrics stay open without the internal token (documented): they reveal no message. */
function isOpenPath(url: string): boolean {
  const path = url.split('?')[0] ?? url;
  return path === '/health' || path.startsWith('/health/') || path === '/metrics';
}
