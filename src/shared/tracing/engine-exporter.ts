import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { MESSAGE_ID_ATTRIBUTE, type TraceAttributeValue, type TraceSpan } from '../../contracts/trace.js';
import type { KvMap } from '../../engine/ports.js';

/** The engine map where every process keeps the spans of traced messages. */
export const TRACE_MAP = 'traces';
/** How long a traced message's spans are kept. */
export const TRACE_TTL_MS = 10 * 60_000;

/**
 * Writes each traced message's spans into a map of the engine, so the spans
 * of every process meet in one place with no collector: one entry per
 * message, process and export (`<message id>/<instance>/<first span id>`),
 * holding that export's spans of the message. Entries expire after
 * TRACE_TTL_MS. Spans naming no message are not kept here.
 */
export class EngineSpanExporter implements SpanExporter {
  /** Spans written so far (tests read it). */
  exported = 0;
  private pending = new Set<Promise<unknown>>();

  constructor(
    private readonly store: KvMap<TraceSpan[]>,
    private readonly service: string,
    private readonly instance: string,
    private readonly ttlMs = TRACE_TTL_MS,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const byMessage = new Map<string, TraceSpan[]>();
    for (const s of spans) {
      const id = s.attributes[MESSAGE_ID_ATTRIBUTE];
      if (typeof id !== 'string') continue;
      let list = byMessage.get(id);
      if (!list) byMessage.set(id, (list = []));
      list.push(toTraceSpan(s, this.service, this.instance));
    }
    const writes = [...byMessage].map(([id, list]) => this.store.set(`${id}/${this.instance}/${list[0]!.spanId}`, list, this.ttlMs));
    const all = Promise.all(writes);
    this.pending.add(all);
    all.then(
      () => {
        this.exported += [...byMessage.values()].reduce((n, l) => n + l.length, 0);
        done({ code: ExportResultCode.SUCCESS });
      },
      (err: unknown) => done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) }),
    ).finally(() => this.pending.delete(all));
  }

  async forceFlush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
  }
}

const KINDS: Record<SpanKind, TraceSpan['kind']> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

/** A span as the engine keeps it: plain JSON, epoch milliseconds. */
export function toTraceSpan(s: ReadableSpan, service: string, instance: string): TraceSpan {
  const c = s.spanContext();
  const out: TraceSpan = {
    traceId: c.traceId,
    spanId: c.spanId,
    name: s.name,
    kind: KINDS[s.kind],
    service,
    instance,
    start: hrTimeToMilliseconds(s.startTime),
    end: hrTimeToMilliseconds(s.endTime),
    ok: s.status.code !== SpanStatusCode.ERROR,
    attributes: plain(s.attributes),
    events: s.events.map((e) => ({ name: e.name, at: hrTimeToMilliseconds(e.time), ...(e.attributes ? { attributes: plain(e.attributes) } : {}) })),
  };
  const parent = s.parentSpanContext?.spanId;
  if (parent) out.parentSpanId = parent;
  if (s.status.code === SpanStatusCode.ERROR) out.error = s.status.message ?? 'failed';
  return out;
}

function plain(attrs: ReadableSpan['attributes']): Record<string, TraceAttributeValue> {
  const out: Record<string, TraceAttributeValue> = {};
  for (const [k, v] of Object.entries(attrs)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  return out;
}
