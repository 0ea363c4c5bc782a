/**
 * One message's trace as the facade answers it (GET /messages/:id/trace) and
 * the dashboard draws it: the spans every process wrote for the message,
 * in the order they started.
 */

/** The W3C `traceparent` header: version 00, trace id, parent span id, flags. */
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACEPARENT_PATTERN = '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$';

/** The span attribute naming the message a span belongs to (OpenTelemetry's messaging conventions). */
export const MESSAGE_ID_ATTRIBUTE = 'messaging.message.id';

export type TraceAttributeValue = string | number | boolean;

/** Something that happened at one instant within a span (a redelivery, a duplicate skipped). */
export interface TraceEvent {
  name: string;
  /** Epoch milliseconds. */
  at: number;
  attributes?: Record<string, TraceAttributeValue>;
}

/** One span, as our exporter keeps it in the engine. */
export interface TraceSpan {
  traceId: string;
  spanId: string;
  /** Absent on a trace's first span (or when its parent is outside the system, e.g. a browser). */
  parentSpanId?: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** The service (facade, logging, messages) and the instance that made the span. */
  service: string;
  instance: string;
  /** Epoch milliseconds (with fractions). */
  start: number;
  end: number;
  ok: boolean;
  /** Why the step failed, when it did. */
  error?: string;
  attributes: Record<string, TraceAttributeValue>;
  events: TraceEvent[];
}

/** GET /messages/:id/trace answer. */
export interface MessageTraceResponse {
  id: string;
  /** Usually one; a message sent again under the same id (an Idempotency-Key retry) may have more. */
  traceIds: string[];
  /** Every span of the message, by start time. */
  spans: TraceSpan[];
}

/** Path parameters of GET /messages/:id/trace: ids are the UUIDs the facade gives. */
export const messageTraceParamsSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' } },
} as const;
