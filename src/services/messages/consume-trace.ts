import { MESSAGE_ID_ATTRIBUTE } from '../../contracts/trace.js';
import type { Delivery } from '../../engine/ports.js';
import { ROOT_CONTEXT, sampledParent, trace, type Context, type Span } from '../../shared/tracing/trace-context.js';
import { failSpan, SpanKind, type Tracing } from '../../shared/tracing/tracing.js';

/**
 * A messages instance's part of one traced item: received (a consumer span,
 * child of the facade's queue offer, naming where the engine held it; an
 * event when it came again after its lease), stored (an event when it was a
 * duplicate), acknowledged.
 */
export class ConsumeTrace {
  private readonly received: Span;
  private storing: Span | undefined;
  private acking: Span | undefined;
  private readonly id: string;

  private constructor(
    private readonly tracing: Tracing,
    parent: Context,
    d: Delivery,
    instance: string,
    receivedAt: number,
  ) {
    this.id = d.item.id;
    this.received = tracing.start(
      'queue receive',
      parent,
      SpanKind.CONSUMER,
      {
        [MESSAGE_ID_ATTRIBUTE]: d.item.id,
        'messaging.operation.type': 'receive',
        'hazel.instance': instance,
        ...(d.from ? { 'hazel.from': d.from } : {}),
        ...(d.redelivered ? { 'hazel.redelivered': true } : {}),
      },
      receivedAt,
    );
    if (d.redelivered) this.received.addEvent('redelivered: its lease ended unacknowledged', receivedAt);
  }

  /** One per delivery (undefined for untraced ones), or undefined when none is traced: no span work for untraced items. */
  static of(tracing: Tracing | undefined, ds: readonly Delivery[], instance: string): Array<ConsumeTrace | undefined> | undefined {
    if (!tracing || !ds.some((d) => d.item.traceparent !== undefined)) return undefined;
    const now = performance.timeOrigin + performance.now();
    return ds.map((d) => {
      const parent = sampledParent(d.item.traceparent);
      return parent ? new ConsumeTrace(tracing, parent, d, instance, now) : undefined;
    });
  }

  get traceId(): string {
    return this.received.spanContext().traceId;
  }

  private child(name: string): Span {
    return this.tracing.start(name, trace.setSpan(ROOT_CONTEXT, this.received), SpanKind.INTERNAL, { [MESSAGE_ID_ATTRIBUTE]: this.id });
  }

  storeStarted(): void {
    this.storing ??= this.child('store');
  }

  /** The store finished (or failed and will be tried again). */
  stored(created: boolean | undefined, error?: string): void {
    if (!this.storing) return;
    if (error !== undefined) {
      failSpan(this.storing, error);
      this.storing.end();
      this.storing = undefined;
      return;
    }
    if (created === false) this.storing.addEvent('duplicate skipped: already stored here');
    this.storing.setAttribute('hazel.duplicate', created === false);
    this.storing.end();
  }

  /** `waitsFor`: what the queue's ack waits for beyond its write (MessageQueue.ackWaitsFor), kept on the span. */
  ackStarted(waitsFor?: string): void {
    this.acking = this.child('ack');
    if (waitsFor !== undefined) this.acking.setAttribute('hazel.ack_waits_for', waitsFor);
  }

  acked(error?: string): void {
    if (this.acking) {
      if (error !== undefined) failSpan(this.acking, error);
      this.acking.end();
    }
    this.received.end();
  }
}
