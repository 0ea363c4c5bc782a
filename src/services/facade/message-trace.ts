import { MESSAGE_ID_ATTRIBUTE, TRACEPARENT_HEADER } from '../../contracts/trace.js';
import type { LogRequest } from '../../contracts/http.js';
import type { InstanceRecord } from '../../shared/registry.js';
import { ROOT_CONTEXT, sampledParent, trace, traceparentOf, type Context, type Span } from '../../shared/tracing/trace-context.js';
import { failSpan, SpanKind, type Tracing } from '../../shared/tracing/tracing.js';
import { attemptFailure } from './resilience.js';
import type { AttemptTrace, CallTrace } from './service-calls.js';

/**
 * The facade's part of one traced message: the trace's first span (the
 * POST), one client span per attempt to a logging instance, and the
 * producer span of the queue offer, whose context the queue item carries.
 */
export class MessageTrace {
  readonly root: Span;
  private readonly ctx: Context;

  private id = '';

  private constructor(
    private readonly tracing: Tracing,
    parent: Context,
  ) {
    this.root = tracing.start('POST /messages', parent, SpanKind.SERVER, { 'http.request.method': 'POST', 'http.route': '/messages' });
    this.ctx = trace.setSpan(ROOT_CONTEXT, this.root);
  }

  /**
   * A trace for this request, or undefined when it is not traced: the client
   * sent a sampled `traceparent` (continued), or the sample ratio picked it.
   * An untraced request costs one header check (and one random number when
   * the ratio is above 0).
   */
  static begin(tracing: Tracing | undefined, header: unknown, ratio: number): MessageTrace | undefined {
    if (!tracing) return undefined;
    const parent = (header === undefined ? undefined : sampledParent(header)) ?? (ratio > 0 && Math.random() < ratio ? ROOT_CONTEXT : undefined);
    return parent ? new MessageTrace(tracing, parent) : undefined;
  }

  get traceId(): string {
    return this.root.spanContext().traceId;
  }

  /** Names the message (its id, once known) on the POST's span. */
  identify(id: string, correlationId: string): void {
    this.id = id;
    this.root.setAttributes({ [MESSAGE_ID_ATTRIBUTE]: id, 'hazel.correlation_id': correlationId });
  }

  /** A client span for one attempt to a logging instance. */
  attempt(inst: InstanceRecord, batchSize: number): Span {
    return this.tracing.start(`log → ${inst.instance}`, this.ctx, SpanKind.CLIENT, {
      [MESSAGE_ID_ATTRIBUTE]: this.id,
      'peer.service': inst.service,
      'hazel.instance': inst.instance,
      'server.address': inst.url,
      'hazel.batch_size': batchSize,
    });
  }

  /** The producer span of the queue offer; the item carries its context. */
  offer(queue: string, engine: string): Span {
    return this.tracing.start('queue offer', this.ctx, SpanKind.PRODUCER, {
      [MESSAGE_ID_ATTRIBUTE]: this.id,
      'messaging.operation.type': 'send',
      'messaging.system': engine,
      'messaging.destination.name': queue,
    });
  }

  /** Ends the trace's first span with the answer's status. */
  end(status: number, error?: string): void {
    this.root.setAttribute('http.response.status_code', status);
    if (error !== undefined) failSpan(this.root, error);
    this.root.end();
  }
}

/** Ends an attempt's span with what happened to it. */
function endAttempt(span: Span, err: unknown): void {
  if (err !== undefined) failSpan(span, attemptFailure(err));
  span.end();
}

/** Traces POST /log: each attempt's span is the logging instance's parent (the traceparent header). */
export function singleLogTrace(t: MessageTrace): CallTrace {
  return {
    attempt(inst): AttemptTrace {
      const span = t.attempt(inst, 1);
      return { headers: { [TRACEPARENT_HEADER]: traceparentOf(span) }, end: (err?: unknown) => endAttempt(span, err) };
    },
  };
}

/**
 * Traces POST /log/batch: each traced message gets its own attempt span, and
 * its entry carries that span as its parent, so the batch merges no traces.
 */
export function batchLogTrace(entries: readonly LogRequest[], traces: ReadonlyArray<MessageTrace | undefined>): CallTrace {
  return {
    attempt(inst): AttemptTrace {
      const spans = traces.map((t) => t?.attempt(inst, entries.length));
      const body = { entries: entries.map((e, i) => (spans[i] ? { ...e, traceparent: traceparentOf(spans[i]) } : e)) };
      return { body, end: (err?: unknown) => spans.forEach((s) => s && endAttempt(s, err)) };
    },
  };
}
