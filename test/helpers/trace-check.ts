import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { MessageTraceResponse, TraceSpan } from '../../src/contracts/trace.js';
import { http, postJson, until } from './cluster-env.js';

/**
 * Sends one message with a sampled `traceparent` to a facade of a running
 * topology (real processes) and waits for its trace (GET
 * /messages/:id/trace) to be complete: the facade's POST, the logging
 * instance's store, the queue offer, and the messages instance's receive,
 * store and ack, each the child of the step before it. Returns the trace
 * and the receive span (whose `hazel.from` says where the item was read)
 * and the ack span (whose `hazel.ack_waits_for` names what the ack waited for, where the engine says).
 */
export async function checkTracedMessage(facade: string, text: string): Promise<{ trace: MessageTraceResponse; receive: TraceSpan; acked: TraceSpan }> {
  const traceId = randomBytes(16).toString('hex');
  const header = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
  const posted = await postJson(`${facade}/messages`, { msg: text }, { traceparent: header });
  assert.equal(posted.status, 201, JSON.stringify(posted.body));
  const id = posted.body.id;
  const trace = await until(`the trace of ${id} complete`, async () => {
    const r = await http<MessageTraceResponse>(`${facade}/messages/${id}/trace`);
    if (r.status !== 200) return undefined;
    const names = new Set(r.body.spans.map((s) => s.name));
    return names.has('POST /messages') && names.has('ack') ? r.body : undefined;
  }, 30_000, 200);
  assert.deepEqual(trace.traceIds, [traceId], 'one trace, the one the client started');
  const one = (name: string) => {
    const s = trace.spans.filter((x) => x.name === name);
    assert.equal(s.length, 1, `one "${name}" span: ${JSON.stringify(trace.spans.map((x) => `${x.instance}: ${x.name}`))}`);
    return s[0]!;
  };
  const post = one('POST /messages');
  const logStore = one('log store');
  const offer = one('queue offer');
  const receive = one('queue receive');
  const stored = one('store');
  const acked = one('ack');
  assert.equal(post.service, 'facade');
  assert.equal(logStore.service, 'logging');
  assert.equal(receive.service, 'messages');
  assert.equal(acked.service, 'messages');
  const attempt = trace.spans.find((s) => s.kind === 'client' && s.ok && s.spanId === logStore.parentSpanId);
  assert.ok(attempt, 'the log store is the child of a successful attempt');
  assert.equal(attempt.parentSpanId, post.spanId);
  assert.equal(offer.parentSpanId, post.spanId);
  assert.equal(receive.parentSpanId, offer.spanId, 'the queue carried the context across processes');
  assert.equal(stored.parentSpanId, receive.spanId);
  assert.equal(acked.parentSpanId, receive.spanId);
  assert.ok(trace.spans.every((s) => s.ok), `no step failed: ${JSON.stringify(trace.spans.filter((s) => !s.ok))}`);
  return { trace, receive, acked };
}
