import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { MESSAGE_ID_ATTRIBUTE, type TraceSpan } from '../../../src/contracts/trace.js';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import { TRACE_MAP } from '../../../src/shared/tracing/engine-exporter.js';
import { sampledParent, trace, traceparentOf } from '../../../src/shared/tracing/trace-context.js';
import { SpanKind, Tracing } from '../../../src/shared/tracing/tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('trace context', () => {
  test('only a well-formed, sampled traceparent is continued', () => {
    const ctx = sampledParent(`00-${TRACE}-${SPAN}-01`);
    assert.equal(trace.getSpanContext(ctx!)?.traceId, TRACE);
    assert.equal(trace.getSpanContext(ctx!)?.spanId, SPAN);
    for (const bad of [undefined, '', `00-${TRACE}-${SPAN}-00`, `00-${'0'.repeat(32)}-${SPAN}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`, `00-${TRACE.toUpperCase()}-${SPAN}-01`, `01-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01-extra`, ['x']]) {
      assert.equal(sampledParent(bad), undefined, String(bad));
    }
  });
});

describe('Tracing', () => {
  test("spans naming a message go to the engine's trace map, one entry per message and export", async (t) => {
    const engine = new MemoryEngine();
    const tracing = new Tracing({ service: 'facade', instance: 'facade-1', store: engine.kv<TraceSpan[]>(TRACE_MAP), exportDelayMs: 10 });
    t.after(() => tracing.close());
    const root = tracing.start('POST /messages', sampledParent(`00-${TRACE}-${SPAN}-01`)!, SpanKind.SERVER, { [MESSAGE_ID_ATTRIBUTE]: 'm-1' });
    const child = tracing.start('queue offer', trace.setSpan(sampledParent(`00-${TRACE}-${SPAN}-01`)!, root), SpanKind.PRODUCER, { [MESSAGE_ID_ATTRIBUTE]: 'm-1' });
    const unnamed = tracing.start('about nothing', sampledParent(`00-${TRACE}-${SPAN}-01`)!, SpanKind.INTERNAL);
    assert.match(traceparentOf(child), new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    child.end();
    root.end();
    unnamed.end();
    await tracing.flush();
    const entries = await engine.kv<TraceSpan[]>(TRACE_MAP).entries();
    assert.equal(entries.length, 1);
    const [key, spans] = entries[0]!;
    assert.match(key, /^m-1\/facade-1\/[0-9a-f]{16}$/);
    assert.deepEqual(spans.map((s) => [s.name, s.kind, s.service, s.instance, s.traceId]).sort(), [
      ['POST /messages', 'server', 'facade', 'facade-1', TRACE],
      ['queue offer', 'producer', 'facade', 'facade-1', TRACE],
    ]);
    assert.equal(spans.find((s) => s.name === 'queue offer')!.parentSpanId, root.spanContext().spanId);
    assert.equal(tracing.engineExporter?.exported, 2);
  });

  test('with an OTLP endpoint the same spans are posted to <endpoint>/v1/traces', async (t) => {
    const got: Array<{ url: string | undefined; type: string | undefined; bytes: number }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push({ url: req.url, type: req.headers['content-type'], bytes: Buffer.concat(chunks).length });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    const tracing = new Tracing({ service: 'logging', instance: 'logging-1', otlpEndpoint: `http://127.0.0.1:${port}/`, exportDelayMs: 10 });
    tracing.start('log store', sampledParent(`00-${TRACE}-${SPAN}-01`)!, SpanKind.SERVER, { [MESSAGE_ID_ATTRIBUTE]: 'm-2' }).end();
    await tracing.flush();
    await tracing.close();
    assert.equal(got.length, 1, 'one export');
    assert.equal(got[0]!.url, '/v1/traces');
    assert.ok(got[0]!.bytes > 0);
  });
});
