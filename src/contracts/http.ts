/**
 * The HTTP contracts between services: what the facade sends to logging and
 * messages instances and what they answer, as JSON schemas (used by the
 * routes to validate) and TypeScript types (used by the callers). One module,
 * imported by both sides, so the two cannot drift apart.
 */
import type { LogEntry } from './log-entry.js';
import { TRACEPARENT_PATTERN } from './trace.js';

/** The three kinds of service, as the registry records them and the dashboard shows them. */
export type ServiceName = 'logging' | 'messages' | 'facade';

/** Carries the caller's correlation id; every service answers with it too. */
export const CORRELATION_HEADER = 'x-correlation-id';
/**
 * Set on an answer when the request's correlation id was not short and plain
 * and a fresh one was used instead (in CORRELATION_HEADER); says why.
 */
export const CORRELATION_REPLACED_HEADER = 'x-correlation-id-replaced';
/** Longest correlation id taken as it is. */
export const CORRELATION_ID_MAX = 128;
/**
 * A correlation id every service takes as it is: up to 128 letters, digits,
 * `.`, `_`, `-` or `:` (a UUID, a W3C trace id, `order-42:retry-1`). Safe in a
 * header, a log line and a store.
 */
export const CORRELATION_ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$';
/** Carries the internal token on calls between services. */
export const INTERNAL_TOKEN_HEADER = 'x-internal-token';
/** The cursor of the next page of a paged read. */
export const NEXT_CURSOR_HEADER = 'x-next-cursor';

// --- logging: POST /log, POST /log/batch, GET /log, GET /log/count, GET /log/counts ---

/** POST /log body: one message to store under its id. */
export interface LogRequest {
  id: string;
  msg: string;
  correlationId?: string;
  /** This entry's parent span (W3C traceparent) when the message is traced; in a batch each entry carries its own. */
  traceparent?: string;
}

export const logRequestSchema = {
  type: 'object',
  required: ['id', 'msg'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 200 },
    msg: { type: 'string', minLength: 1, pattern: '\\S' },
    correlationId: { type: 'string', pattern: CORRELATION_ID_PATTERN },
    traceparent: { type: 'string', pattern: TRACEPARENT_PATTERN },
  },
} as const;

/** POST /log answer: 201 with the entry stored, 200 with the entry already held under that id. */
export type LogResponse = LogEntry;

/** Most entries one POST /log/batch may carry (the facade sends at most 256). */
export const BATCH_MAX_ENTRIES = 1000;

/** POST /log/batch body: messages the facade received together. */
export interface LogBatchRequest {
  entries: LogRequest[];
}

export const logBatchRequestSchema = {
  type: 'object',
  required: ['entries'],
  additionalProperties: false,
  properties: { entries: { type: 'array', minItems: 1, maxItems: BATCH_MAX_ENTRIES, items: logRequestSchema } },
} as const;

/** POST /log/batch answer: each entry's result, in order. */
export interface LogBatchResponse {
  results: Array<{ created: boolean; entry: LogEntry }>;
}

/**
 * Body limit of POST /log and /log/batch: far above what the facade sends (a
 * message under its 64 KiB default, JSON-escaped, or a 256 KiB batch), so a
 * message the facade accepted is never refused here for its size.
 */
export const LOG_BODY_LIMIT = 8 * 1024 * 1024;

/** Most entries a newest-first page (`?newest=N`) may ask for. */
export const NEWEST_MAX = 1000;
const newestSchema = { type: 'string', pattern: '^(1000|[1-9][0-9]{0,2})$' } as const;

/**
 * GET /log query: none for the whole log; `limit` (and `after`, the previous
 * page's cursor) for a page in arrival order; or `newest` alone for the newest
 * N entries (1..NEWEST_MAX), newest first.
 */
export const logPageQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
    after: { type: 'string', maxLength: 200 },
    newest: newestSchema,
  },
} as const;

export interface PageQuery {
  limit?: string;
  after?: string;
  newest?: string;
}

/** The 400 message when `newest` comes with `limit` or `after` (the route checks it; a schema's "must NOT be valid" would not say why). */
export const NEWEST_ALONE = 'newest cannot be combined with limit or after';

/** GET /log answer: entries in arrival order (the next page's cursor in NEXT_CURSOR_HEADER); newest first with `newest`. */
export type LogReadResponse = LogEntry[];

/** GET /log/count answer. */
export interface LogCountResponse {
  count: number;
}

/** GET /log/counts answer: the log's size and how many entries each logging instance stored, counted by the engine. */
export interface LogCountsResponse {
  total: number;
  /** `loggedBy` → entries; instances that stored none are absent. */
  byInstance: Record<string, number>;
}

// --- messages: GET /messages, GET /messages/count ---

/** One consumed message as a messages instance keeps and answers it. */
export interface ConsumedEntry {
  id: string;
  msg: string;
  consumedBy: string;
  consumedAt: string;
  enqueuedAt?: string;
  correlationId?: string;
}

/** GET /messages query on a messages instance: `after` is a position in its own store; `newest` alone, the newest N, newest first. */
export const messagesPageQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' }, after: { type: 'string', pattern: '^[0-9]{1,15}$' }, newest: newestSchema },
} as const;

/** GET /messages answer of a messages instance, in consumption order (newest first with `newest`). */
export type MessagesReadResponse = ConsumedEntry[];

/** GET /messages/count answer of a messages instance. */
export interface MessagesCountResponse {
  count: number;
  consumedSinceStart: number;
  duplicatesSkipped: number;
}
