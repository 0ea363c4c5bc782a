import { SpanKind, SpanStatusCode, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TraceSpan } from '../../contracts/trace.js';
import type { KvMap } from '../../engine/ports.js';
import { EngineSpanExporter } from './engine-exporter.js';

export interface TracingOptions {
  service: string;
  instance: string;
  /** Where traced messages' spans are kept for GET /messages/:id/trace (the engine's trace map). */
  store?: KvMap<TraceSpan[]>;
  /** An OTLP/HTTP collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans also go there when set. */
  otlpEndpoint?: string;
  /** Longest a finished span waits before it is exported. Default 200 ms. */
  exportDelayMs?: number;
}

/**
 * One process's tracing: an OpenTelemetry tracer provider of its own (not
 * the global one, so several services in one test process keep their names)
 * whose spans go to the engine and, when configured, to an OTLP collector.
 *
 * Contexts are passed explicitly, from the `traceparent` a request or queue
 * item carries: nothing is started for a message that is not traced, so the
 * provider does no work for it at all (no sampler call, no ids, no context
 * manager on the hot path).
 */
export class Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  readonly engineExporter: EngineSpanExporter | undefined;
  /** Spans started by this process (tests check that untraced work starts none). */
  spansStarted = 0;
  private closing: Promise<void> | undefined;

  constructor(o: TracingOptions) {
    const delay = { scheduledDelayMillis: o.exportDelayMs ?? 200 };
    const processors: SpanProcessor[] = [];
    if (o.store) {
      this.engineExporter = new EngineSpanExporter(o.store, o.service, o.instance);
      processors.push(new BatchSpanProcessor(this.engineExporter, delay));
    }
    if (o.otlpEndpoint) processors.push(new BatchSpanProcessor(new LazyOtlpExporter(o.otlpEndpoint), delay));
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': o.service, 'service.instance.id': o.instance }),
      sampler: new AlwaysOnSampler(),
      spanProcessors: processors,
    });
    this.tracer = this.provider.getTracer('hazel-lab');
  }

  /**
   * Starts a span under `parent` (a context holding the trace's current span),
   * now or at `startTime` (epoch ms). Times are sub-millisecond on every span,
   * so steps a fraction of a millisecond apart keep their order.
   */
  start(name: string, parent: Context, kind: SpanKind, attributes?: Attributes, startTime = performance.timeOrigin + performance.now()): Span {
    this.spansStarted++;
    return this.tracer.startSpan(name, { kind, startTime, ...(attributes ? { attributes } : {}) }, parent);
  }

  /** Exports what has ended. */
  async flush(): Promise<void> {
    await this.provider.forceFlush();
  }

  /** Exports what has ended and stops. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.provider.shutdown().catch(() => undefined);
    return this.closing;
  }
}

/** Marks a span failed, with the reason shown on the timeline. */
export function failSpan(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * The OTLP/HTTP exporter, loaded on the first export: a process with no
 * collector configured never loads it.
 */
class LazyOtlpExporter implements SpanExporter {
  private inner: Promise<SpanExporter> | undefined;

  constructor(private readonly endpoint: string) {}

  private load(): Promise<SpanExporter> {
    this.inner ??= import('@opentelemetry/exporter-trace-otlp-http').then(
      ({ OTLPTraceExporter }) => new OTLPTraceExporter({ url: `${this.endpoint.replace(/\/+$/, '')}/v1/traces` }),
    );
    return this.inner;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.load().then(
      (e) => e.export(spans, done),
      (err: unknown) => done({ code: 1, error: err instanceof Error ? err : new Error(String(err)) }),
    );
  }

  async shutdown(): Promise<void> {
    if (this.inner) await (await this.inner).shutdown();
  }

  async forceFlush(): Promise<void> {
    if (this.inner) await (await this.inner).forceFlush?.();
  }
}

export { SpanKind };
