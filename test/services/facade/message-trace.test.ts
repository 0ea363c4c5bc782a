import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { MessageTraceResponse, TraceSpan } from '../../../src/contracts/trace.js';
import { DEFAULT_QUEUE_NAME } from '../../../src/engine/defaults.js';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import { TRACE_MAP } from '../../../src/shared/tracing/engine-exporter.js';
import type { Tracing } from '../../../src/shared/tracing/tracing.js';
import { eventually, InjectCaller, registerInstance } from '../../helpers/fakes.js';
import { buildFacade, buildLogging, buildMessages } from '../../helpers/services.js';

const urlOf = (name: string) => `http://${name}.test`;
const sampled = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

/** Facade, logging instances and one consuming messages instance over one memory engine; calls go through inject. */
async function cluster(t: TestContext, o: { logging?: string[]; ratio?: string; leaseMs?: number; consume?: boolean; breakerThreshold?: number } = {}) {
  const engine = new MemoryEngine(100_000, o.leaseMs ?? 20_000);
  const caller = new InjectCaller();
  const tracings: Tracing[] = [];
  for (const name of o.logging ?? ['logging-1', 'logging-2']) {
    const { service } = buildLogging(t, engine, { name });
    tracings.push(service.tracing);
    caller.route(urlOf(name), service.app);
    await registerInstance(engine, 'logging', name, urlOf(name), 60_000);
  }
  const messages = buildMessages(t, engine, { name: 'messages-1' }).service;
  tracings.push(messages.tracing);
  caller.route(urlOf('messages-1'), messages.app);
  await registerInstance(engine, 'messages', 'messages-1', urlOf('messages-1'), 60_000);
  if (o.consume ?? true) messages.consumer.start();
  const { service: facade } = buildFacade(
    t,
    engine,
    { name: 'facade-1', 'registry-ttl-ms': '60000', 'registry-refresh-ms': '50', 'breaker-threshold': String(o.breakerThreshold ?? 100), 'trace-sample-ratio': o.ratio ?? '0' },
    { caller },
  );
  tracings.push(facade.tracing);
  await facade.directory.refresh();
  const post = (msg: string, headers: Record<string, string> = {}) =>
    facade.app.inject({ method: 'POST', url: '/messages', payload: { msg }, headers: { 'content-type': 'application/json', ...headers } });
  const traceOf = (id: string) => facade.app.inject({ method: 'GET', url: `/messages/${id}/trace` });
  /** The message's trace once the consumer acknowledged it (spans are exported within ~200 ms). */
  const fullTrace = async (id: string): Promise<MessageTraceResponse> => {
    const got = await eventually(async () => {
      const res = await traceOf(id);
      if (res.statusCode !== 200) return undefined;
      const body = res.json<MessageTraceResponse>();
      return body.spans.some((s) => s.name === 'ack') && body.spans.some((s) => s.name === 'POST /messages') ? body : undefined;
    }, 10_000);
    assert.ok(got, `no complete trace of ${id}: ${(await traceOf(id)).payload}`);
    return got;
  };
  return { engine, caller, facade, messages, tracings, post, traceOf, fullTrace };
}

const one = (spans: TraceSpan[], name: string) => {
  const s = spans.filter((x) => x.name === name);
  assert.equal(s.length, 1, `one "${name}" span: ${JSON.stringify(spans.map((x) => x.name))}`);
  return s[0]!;
};

describe('message traces', () => {
  test('a traced POST: one trace from the facade through the logging instance that stored it to the messages instance, in causal order', async (t) => {
    const c = await cluster(t);
    const header = sampled();
    const res = await c.post('traced hello', { traceparent: header });
    assert.equal(res.statusCode, 201, res.payload);
    const { id } = res.json<{ id: string }>();
    const tr = await c.fullTrace(id);

    assert.deepEqual(tr.traceIds, [header.slice(3, 35)], 'the client\'s trace is continued');
    const post = one(tr.spans, 'POST /messages');
    const attempt = tr.spans.find((s) => s.kind === 'client' && s.ok)!;
    const logStore = one(tr.spans, 'log store');
    const offer = one(tr.spans, 'queue offer');
    const received = one(tr.spans, 'queue receive');
    const stored = one(tr.spans, 'store');
    const acked = one(tr.spans, 'ack');
    assert.equal(post.service, 'facade');
    assert.equal(post.parentSpanId, header.slice(36, 52));
    assert.equal(logStore.service, 'logging');
    const entry = await c.engine.log('messages-log').get(id);
    assert.equal(logStore.instance, entry?.loggedBy, 'the span is from the instance that stored it');
    assert.equal(received.service, 'messages');
    assert.equal(received.instance, 'messages-1');
    // Causal links: each step's parent is the step before it.
    assert.equal(attempt.parentSpanId, post.spanId);
    assert.equal(logStore.parentSpanId, attempt.spanId);
    assert.equal(offer.parentSpanId, post.spanId);
    assert.equal(received.parentSpanId, offer.spanId);
    assert.equal(stored.parentSpanId, received.spanId);
    assert.equal(acked.parentSpanId, received.spanId);
    // And in time.
    const order = [post.start, attempt.start, logStore.start, logStore.end, offer.start, received.start, stored.start, stored.end, acked.start, acked.end];
    assert.deepEqual([...order].sort((a, b) => a - b), order, `steps out of order: ${JSON.stringify(tr.spans.map((s) => [s.name, s.start, s.end]))}`);
    assert.ok(tr.spans.every((s) => s.ok), 'no step failed');
    assert.equal(stored.events.length, 0, 'not a duplicate');
  });

  test('a logging instance that is down: a failed attempt span, then the successful one on another instance', async (t) => {
    const c = await cluster(t);
    c.caller.fail(urlOf('logging-1'), { kind: 'refuse' });
    // Instances are tried in random order: send until one message met the dead instance first.
    let tr: MessageTraceResponse | undefined;
    for (let i = 0; i < 30 && !tr; i++) {
      const res = await c.post(`try ${i}`, { traceparent: sampled() });
      assert.equal(res.statusCode, 201, res.payload);
      const got = await c.fullTrace(res.json<{ id: string }>().id);
      if (got.spans.some((s) => s.kind === 'client' && !s.ok)) tr = got;
    }
    assert.ok(tr, 'no message met the dead instance in 30 tries');
    const attempts = tr.spans.filter((s) => s.kind === 'client');
    assert.equal(attempts.length, 2);
    const [failed, ok] = attempts as [TraceSpan, TraceSpan];
    assert.equal(failed.attributes['hazel.instance'], 'logging-1');
    assert.equal(failed.ok, false);
    assert.match(failed.error ?? '', /ECONNREFUSED/);
    assert.equal(ok.attributes['hazel.instance'], 'logging-2');
    assert.equal(ok.ok, true);
    assert.ok(ok.start >= failed.end, 'the second attempt came after the first failed');
    assert.equal(one(tr.spans, 'log store').instance, 'logging-2');
  });

  test("an open breaker's refusal is an attempt span too; the answer's failure is on the POST's span", async (t) => {
    const c = await cluster(t, { logging: ['logging-1'], breakerThreshold: 1 });
    c.caller.fail(urlOf('logging-1'), { kind: 'refuse' });
    const header = sampled();
    const res = await c.post('nowhere to go', { traceparent: header });
    assert.equal(res.statusCode, 503);
    // A 503 names no id: find the message by its trace in the engine's trace map.
    const tr = await eventually(async () => {
      const entry = (await c.engine.kv<TraceSpan[]>(TRACE_MAP).entries()).find(([, spans]) => spans.some((s) => s.traceId === header.slice(3, 35) && s.name === 'POST /messages'));
      if (!entry) return undefined;
      const r = await c.traceOf(entry[0].split('/')[0]!);
      const body = r.json<MessageTraceResponse>();
      return body.spans.length >= 3 ? body : undefined;
    }, 5000);
    assert.ok(tr, 'the failed message was traced');
    const attempts = tr.spans.filter((s) => s.kind === 'client');
    assert.deepEqual(attempts.map((s) => s.ok), [false, false]);
    assert.match(attempts[0]!.error ?? '', /ECONNREFUSED/);
    assert.equal(attempts[1]!.error, 'breaker open: not called');
    const post = one(tr.spans, 'POST /messages');
    assert.equal(post.ok, false);
    assert.equal(post.attributes['http.response.status_code'], 503);
    assert.equal(tr.spans.some((s) => s.name === 'queue offer'), false, 'never queued');
  });

  test('concurrent traced POSTs sent in one batch to logging: one trace each', async (t) => {
    const c = await cluster(t);
    const n = 8;
    const headers = Array.from({ length: n }, sampled);
    const answers = await Promise.all(headers.map((h, i) => c.post(`batch ${i}`, { traceparent: h })));
    assert.ok(c.caller.calls.some((x) => x.path === '/log/batch'), 'the messages went to logging as a batch');
    const traces = await Promise.all(answers.map((r) => c.fullTrace(r.json<{ id: string }>().id)));
    assert.equal(new Set(traces.map((tr) => tr.traceIds.join())).size, n, 'n separate traces');
    traces.forEach((tr, i) => {
      assert.deepEqual(tr.traceIds, [headers[i]!.slice(3, 35)]);
      const store = one(tr.spans, 'log store');
      const parent = tr.spans.find((s) => s.spanId === store.parentSpanId);
      assert.equal(parent?.kind, 'client', "each entry's store continues its own message's attempt span");
      assert.equal(parent?.attributes['hazel.batch_size'], n);
    });
  });

  test('an item whose consumer died comes again: the same trace shows the redelivery; one stored again is a duplicate skipped', async (t) => {
    const c = await cluster(t, { leaseMs: 300, consume: false });
    const res = await c.post('lost once', { traceparent: sampled() });
    const { id } = res.json<{ id: string }>();
    // A consumer that takes the item and dies before acknowledging it.
    const lost = await c.engine.queue(DEFAULT_QUEUE_NAME).receive(1, 2000);
    assert.deepEqual(lost.map((d) => d.item.id), [id]);
    c.messages.consumer.start();
    const tr = await c.fullTrace(id);
    assert.equal(tr.traceIds.length, 1, 'one trace');
    const received = one(tr.spans, 'queue receive');
    assert.equal(received.parentSpanId, one(tr.spans, 'queue offer').spanId);
    assert.equal(received.attributes['hazel.redelivered'], true);
    assert.match(received.events.map((e) => e.name).join(), /redelivered/);

    // The same item again (a delivery whose ack was lost): stored once, skipped the second time.
    const offer = one(tr.spans, 'queue offer');
    await c.engine.queue(DEFAULT_QUEUE_NAME).offer({ ...lost[0]!.item, traceparent: `00-${offer.traceId}-${offer.spanId}-01` }, 1000);
    const twice = await eventually(async () => {
      const body = (await c.traceOf(id)).json<MessageTraceResponse>();
      return body.spans.filter((s) => s.name === 'ack').length === 2 ? body : undefined;
    }, 10_000);
    assert.ok(twice, 'the second delivery was traced');
    const stores = twice.spans.filter((s) => s.name === 'store');
    assert.deepEqual(stores.map((s) => s.events.map((e) => e.name)), [[], ['duplicate skipped: already stored here']]);
    assert.equal(c.messages.store.count(), 1);
  });

  test('an untraced POST starts no span and writes nothing to the trace map; its trace is 404', async (t) => {
    const c = await cluster(t);
    const unsampled = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`;
    const ids = [];
    for (const headers of [{}, { traceparent: unsampled }, { traceparent: 'garbage' }] as Array<Record<string, string>>) {
      const res = await c.post('plain', headers);
      assert.equal(res.statusCode, 201, res.payload);
      ids.push(res.json<{ id: string }>().id);
    }
    assert.ok(await eventually(() => c.messages.store.count() === 3, 5000), 'consumed');
    await Promise.all(c.tracings.map((tr) => tr.flush()));
    assert.deepEqual(c.tracings.map((tr) => tr.spansStarted), c.tracings.map(() => 0));
    assert.deepEqual(c.tracings.map((tr) => tr.engineExporter?.exported), c.tracings.map(() => 0));
    assert.deepEqual(await c.engine.kv(TRACE_MAP).entries(), []);
    const res = await c.traceOf(ids[0]!);
    assert.equal(res.statusCode, 404);
    assert.match(res.json<{ message: string }>().message, /no trace is kept/);
  });

  test('--trace-sample-ratio 1 traces a message sent without a header', async (t) => {
    const c = await cluster(t, { ratio: '1' });
    const res = await c.post('sampled by ratio');
    const tr = await c.fullTrace(res.json<{ id: string }>().id);
    assert.equal(tr.traceIds.length, 1);
    assert.equal(one(tr.spans, 'POST /messages').parentSpanId, undefined);
  });

  test('GET /messages/:id/trace refuses an id that is not a UUID with a 400 JSON body', async (t) => {
    const c = await cluster(t);
    const res = await c.traceOf('not-an-id');
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ message: string }>().message, /id/);
  });
});
