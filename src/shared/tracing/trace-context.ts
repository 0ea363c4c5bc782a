import { ROOT_CONTEXT, trace, TraceFlags, type Context, type Span } from '@opentelemetry/api';
import { TRACEPARENT_PATTERN } from '../../contracts/trace.js';

const TRACEPARENT = new RegExp(TRACEPARENT_PATTERN);

/**
 * The context to continue from a `traceparent` value, or undefined when the
 * value is absent, malformed, all zeros, or not sampled: only sampled
 * traces are continued, so an untraced message costs one string check.
 */
export function sampledParent(traceparent: unknown): Context | undefined {
  if (typeof traceparent !== 'string' || traceparent.length !== 55 || !TRACEPARENT.test(traceparent)) return undefined;
  const flags = parseInt(traceparent.slice(53, 55), 16);
  if ((flags & TraceFlags.SAMPLED) === 0) return undefined;
  const traceId = traceparent.slice(3, 35);
  const spanId = traceparent.slice(36, 52);
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
}

/** The `traceparent` that makes a span the parent of the next step. */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-0${c.traceFlags & TraceFlags.SAMPLED}`;
}

/** The trace id in a `traceparent` value (for log lines), or undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent === undefined ? undefined : traceparent.slice(3, 35);
}

export { ROOT_CONTEXT, trace, type Context, type Span };
