import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import type { LogEntry } from '../../../src/engine/ports.js';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import type { QueueConsumer } from '../../../src/services/messages/consumer.js';
import type { ConsumedStore, ConsumedEntry } from '../../../src/services/messages/store.js';
import { eventually, InjectCaller, registerInstance, registryKv, type Fault } from '../../helpers/fakes.js';
import { buildFacade, buildLogging, buildMessages } from '../../helpers/services.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAP = 'messages-log';
const QUEUE = 'messages-queue';
const LOGGING = ['logging-1', 'logging-2', 'logging-3'];
const urlOf = (name: string) => `http://${name}.test`;

interface ClusterOptions {
  /** Queue capacity of the shared engine. */
  capacity?: number;
  bodyLimit?: number;
  logging?: number;
  /** Register and run a messages instance (default true). */
  messages?: boolean;
  /** Start its consumer (default true). */
  consume?: boolean;
  breakerHalfOpenMs?: number;
}

async function cluster(t: TestContext, o: ClusterOptions = {}) {
  const engine = new MemoryEngine(o.capacity);
  const caller = new InjectCaller();

  // Built as production builds them, but not started: calls reach them through
  // the InjectCaller, so they are registered by hand under test URLs.
  for (const name of LOGGING.slice(0, o.logging ?? 3)) {
    const { service } = buildLogging(t, engine, { name });
    caller.route(urlOf(name), service.app);
    await registerInstance(engine, 'logging', name, urlOf(name), 60_000);
  }

  let store: ConsumedStore | undefined;
  let consumer: QueueConsumer | undefined;
  if (o.messages ?? true) {
    const { service } = buildMessages(t, engine, { name: 'messages-1' });
    store = service.store;
    consumer = service.consumer;
    caller.route(urlOf('messages-1'), service.app);
    await registerInstance(engine, 'messages', 'messages-1', urlOf('messages-1'), 60_000);
    if (o.consume ?? true) consumer.start();
  }

  const built = buildFacade(
    t,
    engine,
    {
      name: 'facade-1',
      'body-limit': String(o.bodyLimit ?? 65_536),
      'attempt-timeout-ms': '500',
      'request-deadline-ms': '4000',
      'offer-timeout-ms': '30',
      'retry-after-s': '2',
      'breaker-threshold': '3',
      'breaker-half-open-ms': String(o.breakerHalfOpenMs ?? 60_000),
      'idempotency-ttl-ms': '60000',
      'registry-ttl-ms': '60000',
      'registry-refresh-ms': '50',
    },
    { caller },
  );
  const facade = built.service.app;
  const directory = built.service.directory;
  await directory.refresh();

  const log = engine.log(MAP);
  const queue = engine.queue(QUEUE);
  const postJson = (body: unknown, headers: Record<string, string> = {}) =>
    facade.inject({ method: 'POST', url: '/messages', payload: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  const postText = (text: string, headers: Record<string, string> = {}) =>
    facade.inject({ method: 'POST', url: '/messages', payload: Buffer.from(text, 'utf8'), headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
  const consumed = (id: string) => eventually(() => store?.list().find((e) => e.id === id));
  const loggingPosts = () => caller.calls.filter((c) => c.method === 'POST' && c.path === '/log').length;
  const instances = async () =>
    (await facade.inject({ method: 'GET', url: '/instances' })).json() as Array<{ service: string; instance: string; url: string; heartbeatAgeMs: number; breaker: string; status: string }>;
  return { engine, caller, facade, directory, log, queue, store, consumer, postJson, postText, consumed, loggingPosts, instances };
}

/** Makes the instance refuse every call, and posts until its breaker opens (each POST still succeeds elsewhere). */
async function refuseUntilBreakerOpens(c: Awaited<ReturnType<typeof cluster>>, name: string): Promise<void> {
  c.caller.fail(urlOf(name), { kind: 'refuse' });
  let state = 'closed';
  for (let i = 0; i < 80 && state !== 'open'; i++) {
    idOf(await c.postJson({ msg: `m${i}` }));
    state = (await c.instances()).find((x) => x.instance === name)!.breaker;
  }
  assert.equal(state, 'open');
}

function assertError(res: LightMyRequestResponse, status: number) {
  assert.equal(res.statusCode, status, `status (body: ${res.payload})`);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = res.json() as { error?: unknown; message?: unknown };
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
  assert.ok((body.message as string).length > 0);
}

function idOf(res: LightMyRequestResponse): string {
  assert.equal(res.statusCode, 201, `expected 201, got ${res.statusCode}: ${res.payload}`);
  const body = res.json() as { id: string };
  assert.match(body.id, UUID);
  return body.id;
}

interface MessagesView {
  logging: LogEntry[];
  messages: ConsumedEntry[];
  loggingInstance: string;
  messagesInstance: string | null;
  note?: string;
  next?: string;
}

describe('facade: accepting messages', () => {
  test('POST JSON → 201 {id}; logged by one logging instance and consumed from the queue', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const res = await c.postJson({ msg: 'hello world' });
    const id = idOf(res);
    assert.deepEqual(Object.keys(res.json() as object), ['id']);
    const entry = await c.log.get(id);
    assert.ok(entry, 'the message is in the log');
    assert.equal(entry.msg, 'hello world');
    assert.ok(LOGGING.includes(entry.loggedBy), `loggedBy ${entry.loggedBy}`);
    const got = await c.consumed(id);
    assert.ok(got, 'the message reached the messages instance');
    assert.equal(got.msg, 'hello world');
    assert.equal(got.consumedBy, 'messages-1');
    assert.equal(await c.log.size(), 1);
  });

  test('POST text/plain → 201; the raw text is the message', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const id = idOf(await c.postText('  plain text, kept as sent  '));
    assert.equal((await c.log.get(id))?.msg, '  plain text, kept as sent  ');
    assert.equal((await c.consumed(id))?.msg, '  plain text, kept as sent  ');
    const bare = idOf(await c.facade.inject({ method: 'POST', url: '/messages', payload: 'no charset', headers: { 'content-type': 'text/plain' } }));
    assert.equal((await c.log.get(bare))?.msg, 'no charset');
  });

  test('POST application/json; charset=utf-8 is accepted', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const id = idOf(await c.postJson({ msg: 'with charset' }, { 'content-type': 'application/json; charset=utf-8' }));
    assert.equal((await c.log.get(id))?.msg, 'with charset');
  });

  test('the client correlation id follows the message into the log and the consumer', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const res = await c.postJson({ msg: 'traced' }, { 'x-correlation-id': 'trace-123' });
    const id = idOf(res);
    assert.equal(res.headers['x-correlation-id'], 'trace-123');
    assert.equal((await c.log.get(id))?.correlationId, 'trace-123');
    assert.equal((await c.consumed(id))?.correlationId, 'trace-123');
  });

  test('a short plain correlation id is taken as it is, up to 128 characters', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    for (const sent of ['4bf92f3577b34da6a3ce929d0e0e4736', 'order-42:retry_1.a', 'c'.repeat(128)]) {
      const res = await c.postJson({ msg: 'plain' }, { 'x-correlation-id': sent });
      const id = idOf(res);
      assert.equal(res.headers['x-correlation-id'], sent);
      assert.equal(res.headers['x-correlation-id-replaced'], undefined);
      assert.equal((await c.log.get(id))?.correlationId, sent);
    }
  });

  for (const [what, sent, why] of [
    ['10 000 characters', 'a'.repeat(10_000), /^longer than 128 characters$/],
    ['129 characters', 'b'.repeat(129), /^longer than 128 characters$/],
    ['markup and spaces', '<script>alert(1)</script> and more', /^characters other than letters, digits/],
    ['a line of JSON', '{"level":60,"msg":"forged"}', /^characters other than/],
  ] as const) {
    test(`a correlation id of ${what} is replaced by a fresh one, and the answer says so; the message goes through`, { timeout: 5000 }, async (t) => {
      const c = await cluster(t);
      const res = await c.postJson({ msg: 'traced oddly' }, { 'x-correlation-id': sent });
      const id = idOf(res);
      const fresh = String(res.headers['x-correlation-id']);
      assert.match(fresh, UUID);
      assert.match(String(res.headers['x-correlation-id-replaced']), why);
      assert.ok(!res.payload.includes(sent.slice(0, 20)), 'nothing of it is echoed');
      assert.equal((await c.log.get(id))?.correlationId, fresh, 'the log holds the fresh id');
      assert.equal((await c.consumed(id))?.correlationId, fresh, 'the consumer holds the fresh id');
    });
  }

  test('a replaced correlation id on an error answer: still a fresh id, still said, nothing echoed', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const sent = 'x'.repeat(10_000);
    const res = await c.postJson({ msg: '' }, { 'x-correlation-id': sent });
    assertError(res, 400);
    assert.match(String(res.headers['x-correlation-id']), UUID);
    assert.match(String(res.headers['x-correlation-id-replaced']), /longer than 128/);
    assert.doesNotMatch(res.payload, /correlationId|x{20}/);
  });

  test('each message gets its own id', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const ids = new Set<string>();
    for (let i = 0; i < 10; i++) ids.add(idOf(await c.postJson({ msg: 'same text' })));
    assert.equal(ids.size, 10);
    assert.equal(await c.log.size(), 10);
  });
});

describe('facade: reading messages', () => {
  test('GET /messages → {logging, messages, loggingInstance, messagesInstance} in order', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const texts = ['first', 'second', 'third'];
    const ids: string[] = [];
    for (const m of texts) ids.push(idOf(await c.postJson({ msg: m })));
    await eventually(() => c.store!.count() === 3);
    const res = await c.facade.inject({ method: 'GET', url: '/messages' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as MessagesView;
    assert.deepEqual(Object.keys(body).sort(), ['logging', 'loggingInstance', 'messages', 'messagesInstance']);
    assert.deepEqual(
      body.logging.map((e) => [e.id, e.msg]),
      ids.map((id, i) => [id, texts[i]]),
    );
    assert.deepEqual(
      body.messages.map((e) => [e.id, e.msg, e.consumedBy]),
      ids.map((id, i) => [id, texts[i], 'messages-1']),
    );
    assert.ok(LOGGING.includes(body.loggingInstance));
    assert.equal(body.messagesInstance, 'messages-1');
  });

  test('Accept: text/plain → two clearly separated parts, logging then messages', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    for (const m of ['alpha', 'beta']) idOf(await c.postJson({ msg: m }));
    await eventually(() => c.store!.count() === 2);
    const res = await c.facade.inject({ method: 'GET', url: '/messages', headers: { accept: 'text/plain' } });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    const lines = res.payload.split('\n');
    const logHead = lines.findIndex((l) => /^== logging \(logging-\d\) ==$/.test(l));
    const msgHead = lines.findIndex((l) => /^== messages \(messages-1\) ==$/.test(l));
    assert.ok(logHead >= 0 && msgHead > logHead, `headings in order:\n${res.payload}`);
    assert.deepEqual(lines.slice(logHead + 1, msgHead), ['alpha', 'beta']);
    assert.deepEqual(lines.slice(msgHead + 1).filter(Boolean), ['alpha', 'beta']);
  });

  test('a paged read (?limit=) passes on the logging cursor so the next page can be fetched', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(idOf(await c.postJson({ msg: `m${i}` })));
    const first = await c.facade.inject({ method: 'GET', url: '/messages?limit=2' });
    assert.equal(first.statusCode, 200);
    const page1 = first.json() as MessagesView;
    assert.deepEqual(
      page1.logging.map((e) => e.id),
      ids.slice(0, 2),
    );
    const next = page1.next ?? first.headers['x-next-cursor'];
    assert.ok(typeof next === 'string' && next.length > 0, `a cursor for the next page (body keys: ${Object.keys(page1).join(', ')})`);
    const second = (await c.facade.inject({ method: 'GET', url: `/messages?limit=2&after=${encodeURIComponent(next)}` })).json() as MessagesView;
    assert.deepEqual(
      second.logging.map((e) => e.id),
      ids.slice(2, 4),
    );
  });

  test('no messages instance → GET still 200 with the log and a note', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { messages: false });
    const id = idOf(await c.postJson({ msg: 'only logged' }));
    const res = await c.facade.inject({ method: 'GET', url: '/messages' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as MessagesView;
    assert.deepEqual(
      body.logging.map((e) => e.id),
      [id],
    );
    assert.deepEqual(body.messages, []);
    assert.equal(body.messagesInstance, null);
    assert.equal(typeof body.note, 'string');
    assert.match(body.note!, /messages/);
    const text = await c.facade.inject({ method: 'GET', url: '/messages', headers: { accept: 'text/plain' } });
    assert.equal(text.statusCode, 200);
    assert.match(text.payload, /only logged/);
    assert.match(text.payload, /no messages instance/);
  });

  test('no logging instance → GET 503 JSON', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { logging: 0 });
    const res = await c.facade.inject({ method: 'GET', url: '/messages' });
    assertError(res, 503);
    assert.match((res.json() as { message: string }).message, /logging/);
  });

  test('all logging instances failing → GET 503 JSON', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    for (const n of LOGGING) c.caller.fail(urlOf(n), { kind: 'refuse' });
    assertError(await c.facade.inject({ method: 'GET', url: '/messages' }), 503);
  });
});

describe('facade: bad input is refused and nothing is stored', () => {
  const cases: Array<{
    name: string;
    status: number;
    /** What the answer's message must say (and, `not`, must not). */
    says?: RegExp;
    not?: RegExp;
    /** The client sent something long: the answer quotes at most a bounded excerpt of it. */
    bounded?: true;
    req: { payload?: string | Buffer; headers?: Record<string, string>; method?: 'POST' | 'PUT' | 'DELETE' | 'PATCH'; url?: string };
  }> = [
    { name: 'invalid JSON', status: 400, says: /^invalid JSON body: /, not: /__proto__|constructor/, req: { payload: '{"msg": "unterminated', headers: { 'content-type': 'application/json' } } },
    { name: 'invalid JSON with "constructor" in a value', status: 400, not: /__proto__|"constructor" key/, req: { payload: '{"msg": "constructor" "x"}', headers: { 'content-type': 'application/json' } } },
    { name: 'a "__proto__" key', status: 400, says: /"__proto__" key/, req: { payload: '{"msg":"hi","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } } },
    { name: 'a "constructor.prototype" key', status: 400, says: /"constructor" key/, req: { payload: '{"msg":"hi","constructor":{"prototype":{}}}', headers: { 'content-type': 'application/json' } } },
    { name: 'invalid UTF-8 in text/plain (latin-1 sent as UTF-8)', status: 400, says: /not valid UTF-8: byte 0xe9 at offset 3/, req: { payload: Buffer.from([0x63, 0x61, 0x66, 0xe9]), headers: { 'content-type': 'text/plain; charset=utf-8' } } },
    { name: 'invalid UTF-8 in text/plain without a charset', status: 400, says: /offset 0/, req: { payload: Buffer.from([0xff, 0x61]), headers: { 'content-type': 'text/plain' } } },
    { name: 'invalid UTF-8 in JSON', status: 400, says: /not valid UTF-8: byte 0xe9 at offset 11/, req: { payload: Buffer.concat([Buffer.from('{"msg":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]), headers: { 'content-type': 'application/json' } } },
    { name: 'a UTF-16 surrogate encoded in UTF-8', status: 400, says: /byte 0xed at offset 8/, req: { payload: Buffer.concat([Buffer.from('{"msg":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), headers: { 'content-type': 'application/json' } } },
    { name: 'an unknown charset', status: 415, says: /unsupported charset "x-martian".*utf-8.*iso-8859-1/, req: { payload: 'hello', headers: { 'content-type': 'text/plain; charset=x-martian' } } },
    { name: 'bytes invalid in the named charset (utf-16le, odd length)', status: 400, says: /not valid utf-16le/, req: { payload: Buffer.from([0x61, 0x00, 0x62]), headers: { 'content-type': 'text/plain; charset=utf-16le' } } },
    { name: 'Content-Encoding: zstd', status: 415, says: /"zstd".*identity, gzip, deflate, br/, req: { payload: '{"msg":"hi"}', headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' } } },
    { name: 'Content-Encoding: gzip on bytes that are not gzip', status: 400, says: /not valid gzip/, req: { payload: '{"msg":"hi"}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } } },
    { name: 'a gzip body over the limit once decoded', status: 413, says: /limit of 1024 bytes once decoded/, req: { payload: gzipSync(JSON.stringify({ msg: 'x'.repeat(5000) })), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } } },
    { name: '{"msg":5} (no coercion)', status: 400, req: { payload: '{"msg":5}', headers: { 'content-type': 'application/json' } } },
    { name: '{"msg":true}', status: 400, req: { payload: '{"msg":true}', headers: { 'content-type': 'application/json' } } },
    { name: '{"msg":null}', status: 400, req: { payload: '{"msg":null}', headers: { 'content-type': 'application/json' } } },
    { name: '{"msg":["a"]}', status: 400, req: { payload: '{"msg":["a"]}', headers: { 'content-type': 'application/json' } } },
    { name: '{"msg":""}', status: 400, req: { payload: '{"msg":""}', headers: { 'content-type': 'application/json' } } },
    { name: 'whitespace-only msg', status: 400, req: { payload: '{"msg":"  \\n\\t "}', headers: { 'content-type': 'application/json' } } },
    { name: 'missing msg', status: 400, req: { payload: '{"text":"hi"}', headers: { 'content-type': 'application/json' } } },
    { name: 'array body', status: 400, req: { payload: '[{"msg":"hi"}]', headers: { 'content-type': 'application/json' } } },
    { name: 'JSON string body', status: 400, req: { payload: '"hi"', headers: { 'content-type': 'application/json' } } },
    { name: 'JSON null body', status: 400, req: { payload: 'null', headers: { 'content-type': 'application/json' } } },
    { name: 'empty JSON body', status: 400, req: { payload: '', headers: { 'content-type': 'application/json' } } },
    { name: 'empty text/plain body', status: 400, req: { payload: '', headers: { 'content-type': 'text/plain' } } },
    { name: 'whitespace-only text/plain', status: 400, req: { payload: ' \n ', headers: { 'content-type': 'text/plain' } } },
    { name: 'no body and no content type', status: 400, req: {} },
    { name: 'a body without a content type', status: 415, req: { payload: 'hello' } },
    { name: 'unsupported content type (html)', status: 415, req: { payload: '<b>hi</b>', headers: { 'content-type': 'text/html' } } },
    { name: 'unsupported content type (xml)', status: 415, req: { payload: '<msg>hi</msg>', headers: { 'content-type': 'application/xml' } } },
    { name: 'unsupported content type (form)', status: 415, req: { payload: 'msg=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } } },
    { name: 'body over the limit (JSON)', status: 413, req: { payload: JSON.stringify({ msg: 'x'.repeat(2000) }), headers: { 'content-type': 'application/json' } } },
    { name: 'body over the limit (text)', status: 413, req: { payload: 'y'.repeat(2000), headers: { 'content-type': 'text/plain' } } },
    { name: 'Idempotency-Key too long', status: 400, req: { payload: '{"msg":"hi"}', headers: { 'content-type': 'application/json', 'idempotency-key': 'k'.repeat(201) } } },
    { name: 'unknown route', status: 404, req: { url: '/nope', payload: '{"msg":"hi"}', headers: { 'content-type': 'application/json' } } },
    { name: 'wrong method (PUT /messages)', status: 405, req: { method: 'PUT', payload: '{"msg":"hi"}', headers: { 'content-type': 'application/json' } } },
    { name: 'wrong method (DELETE /messages)', status: 405, req: { method: 'DELETE' } },
    { name: 'a lone high surrogate escape in msg ("\\ud800x")', status: 400, says: /not valid Unicode text: the field "msg" holds a lone surrogate \(\\ud800 at character 0\)/, req: { payload: '{"msg":"\\ud800x"}', headers: { 'content-type': 'application/json' } } },
    { name: 'a lone low surrogate escape at the end of msg', status: 400, says: /lone surrogate \(\\udc00 at character 2\)/, req: { payload: '{"msg":"ab\\udc00"}', headers: { 'content-type': 'application/json' } } },
    { name: 'a lone surrogate in a key', status: 400, says: /a key in the body holds a lone surrogate/, req: { payload: '{"msg":"hi","\\ud800":1}', headers: { 'content-type': 'application/json' } } },
    { name: 'a lone surrogate in UTF-16LE text/plain bytes', status: 400, says: /not valid utf-16le/, req: { payload: Buffer.from([0x61, 0x00, 0x00, 0xd8, 0x62, 0x00]), headers: { 'content-type': 'text/plain; charset=utf-16le' } } },
    { name: 'a 10 000-character Idempotency-Key', status: 400, says: /^invalid request: header idempotency-key must be at most 200 characters$/, bounded: true, req: { payload: '{"msg":"hi"}', headers: { 'content-type': 'application/json', 'idempotency-key': 'k'.repeat(10_000) } } },
    { name: 'a 5000-character charset', status: 415, says: /unsupported charset "x{64}"… \(5000 characters\)/, bounded: true, req: { payload: 'hello', headers: { 'content-type': `text/plain; charset=${'x'.repeat(5000)}` } } },
    { name: 'a 5000-character content encoding', status: 415, says: /\(5000 characters\)/, bounded: true, req: { payload: '{"msg":"hi"}', headers: { 'content-type': 'application/json', 'content-encoding': 'z'.repeat(5000) } } },
    { name: 'a 5000-character content type', status: 415, bounded: true, req: { payload: 'hello', headers: { 'content-type': `application/${'x'.repeat(5000)}` } } },
    { name: 'a 5000-character unknown route', status: 404, says: /^no route POST \/p{99}… \(5001 characters\)$/, bounded: true, req: { url: `/${'p'.repeat(5000)}`, payload: '{"msg":"hi"}', headers: { 'content-type': 'application/json' } } },
    { name: 'a 1000-character invalid JSON body', status: 400, says: /^invalid JSON body: /, bounded: true, req: { payload: `{"msg": x${'y'.repeat(1000)}`, headers: { 'content-type': 'application/json' } } },
  ];
  for (const k of cases) {
    test(`${k.name} → ${k.status}`, { timeout: 5000 }, async (t) => {
      const c = await cluster(t, { bodyLimit: 1024, consume: false });
      const res = await c.facade.inject({ method: k.req.method ?? 'POST', url: k.req.url ?? '/messages', headers: k.req.headers ?? {}, ...(k.req.payload !== undefined ? { payload: k.req.payload } : {}) });
      assertError(res, k.status);
      const message = (res.json() as { message: string }).message;
      if (k.says) assert.match(message, k.says);
      if (k.not) assert.doesNotMatch(message, k.not);
      if (k.bounded) assert.ok(message.length <= 300, `a bounded message, got ${message.length} characters: ${message.slice(0, 300)}`);
      if (k.status === 405) assert.match(String(res.headers.allow), /POST/);
      if (k.status >= 500) assert.fail('a client error must not be a 5xx');
      assert.equal(await c.log.size(), 0, 'nothing logged');
      assert.equal(await c.queue.depth(), 0, 'nothing queued');
      assert.equal(c.loggingPosts(), 0, 'logging was not called');
    });
  }

  test('a message just under the body limit is accepted', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { bodyLimit: 1024 });
    const msg = 'z'.repeat(1000);
    const id = idOf(await c.postText(msg));
    assert.equal((await c.log.get(id))?.msg, msg);
  });

  test('GET /messages with a bad limit → 400', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    for (const url of ['/messages?limit=0', '/messages?limit=x', '/messages?bogus=1']) assertError(await c.facade.inject({ method: 'GET', url }), 400);
  });
});

describe('facade: Unicode', () => {
  const samples = ['Привіт, світе! Ґанок, їжак, єнот', '🚀👩🏽‍💻🇺🇦 emoji', '<img src=x onerror=alert(1)>', 'mixed: 日本語 — "quotes" \\ back\\slash \t tab', 'line one\r\nline two'];
  for (const [kind, send] of [
    ['JSON', (c: Awaited<ReturnType<typeof cluster>>, m: string) => c.postJson({ msg: m })],
    ['text/plain', (c: Awaited<ReturnType<typeof cluster>>, m: string) => c.postText(m)],
  ] as const) {
    test(`${kind}: text round-trips byte for byte through log, queue and GET`, { timeout: 5000 }, async (t) => {
      const c = await cluster(t);
      const ids: string[] = [];
      for (const m of samples) ids.push(idOf(await send(c, m)));
      await eventually(() => c.store!.count() === samples.length);
      const res = await c.facade.inject({ method: 'GET', url: '/messages' });
      assert.match(String(res.headers['content-type']), /application\/json/);
      const body = res.json() as MessagesView;
      for (const [i, m] of samples.entries()) {
        const logged = body.logging.find((e) => e.id === ids[i]);
        const consumed = body.messages.find((e) => e.id === ids[i]);
        assert.ok(logged && consumed);
        assert.ok(Buffer.from(logged.msg, 'utf8').equals(Buffer.from(m, 'utf8')), `logged ${JSON.stringify(logged.msg)} vs ${JSON.stringify(m)}`);
        assert.ok(Buffer.from(consumed.msg, 'utf8').equals(Buffer.from(m, 'utf8')), `consumed ${JSON.stringify(consumed.msg)}`);
      }
    });
  }

  test('the text view carries the bytes as plain text, never as HTML', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    idOf(await c.postText('<img src=x onerror=alert(1)> Ї 🚀'));
    await eventually(() => c.store!.count() === 1);
    const res = await c.facade.inject({ method: 'GET', url: '/messages', headers: { accept: 'text/plain' } });
    assert.match(String(res.headers['content-type']), /^text\/plain; charset=utf-8/);
    assert.ok(res.rawPayload.includes(Buffer.from('<img src=x onerror=alert(1)> Ї 🚀', 'utf8')));
  });
});

describe('facade: charsets and content encodings', () => {
  test('text/plain; charset=iso-8859-1 with the byte 0xE9 is stored as "café", with no replacement character', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    const res = await c.facade.inject({ method: 'POST', url: '/messages', payload: Buffer.from([0x63, 0x61, 0x66, 0xe9]), headers: { 'content-type': 'text/plain; charset=iso-8859-1' } });
    const id = idOf(res);
    assert.equal((await c.log.get(id))?.msg, 'café');
    assert.equal((await c.queue.receive(1, 1000))[0]?.item.msg, 'café');
  });

  test('other charsets Node knows: windows-1252, koi8-r in text; utf-16le in JSON', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    const send = (payload: Buffer, type: string) => c.facade.inject({ method: 'POST', url: '/messages', payload, headers: { 'content-type': type } });
    const euro = idOf(await send(Buffer.from([0x80, 0x20, 0x35]), 'text/plain; charset="windows-1252"'));
    const koi = idOf(await send(Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]), 'text/plain; charset=KOI8-R'));
    const u16 = idOf(await send(Buffer.from('{"msg":"hé 🚀"}', 'utf16le'), 'application/json; charset=utf-16le'));
    assert.equal((await c.log.get(euro))?.msg, '€ 5');
    assert.equal((await c.log.get(koi))?.msg, 'Привет');
    assert.equal((await c.log.get(u16))?.msg, 'hé 🚀');
  });

  test('a U+FFFD the client did send is kept', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    const id = idOf(await c.postText('caf\uFFFD'));
    assert.equal((await c.log.get(id))?.msg, 'caf\uFFFD');
  });

  for (const [coding, pack] of [
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const) {
    test(`Content-Encoding: ${coding} is decoded, in JSON and in text`, { timeout: 5000 }, async (t) => {
      const c = await cluster(t, { consume: false });
      const json = idOf(await c.facade.inject({ method: 'POST', url: '/messages', payload: pack(Buffer.from('{"msg":"packed ї"}')), headers: { 'content-type': 'application/json', 'content-encoding': coding } }));
      const text = idOf(await c.facade.inject({ method: 'POST', url: '/messages', payload: pack(Buffer.from('packed text ї')), headers: { 'content-type': 'text/plain', 'content-encoding': coding } }));
      assert.equal((await c.log.get(json))?.msg, 'packed ї');
      assert.equal((await c.log.get(text))?.msg, 'packed text ї');
    });
  }
});

describe('facade: Idempotency-Key', () => {
  test('a repeat returns the same id; one log entry, one queue item', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    const first = await c.postJson({ msg: 'pay once' }, { 'idempotency-key': 'order-42' });
    const id = idOf(first);
    const again = await c.postJson({ msg: 'pay once' }, { 'idempotency-key': 'order-42' });
    assert.ok(again.statusCode === 200 || again.statusCode === 201, `repeat answered ${again.statusCode}`);
    assert.equal((again.json() as { id: string }).id, id);
    const text = await c.postText('pay once', { 'idempotency-key': 'order-42' });
    assert.equal((text.json() as { id: string }).id, id);
    assert.equal(await c.log.size(), 1);
    assert.equal(await c.queue.depth(), 1);
    // Another key is another message.
    const other = idOf(await c.postJson({ msg: 'pay once' }, { 'idempotency-key': 'order-43' }));
    assert.notEqual(other, id);
    assert.equal(await c.queue.depth(), 2);
  });

  test('the same key with a different message → 422; the first message stays the only one; the same message is still a repeat', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    const id = idOf(await c.postJson({ msg: 'pay 10 EUR' }, { 'idempotency-key': 'order-7' }));
    const callsBefore = c.caller.calls.length;
    for (const other of [() => c.postJson({ msg: 'pay 1000 EUR' }, { 'idempotency-key': 'order-7' }), () => c.postText('pay 10 EUR ', { 'idempotency-key': 'order-7' })]) {
      const res = await other();
      assertError(res, 422);
      assert.match((res.json() as { message: string }).message, /already used for a different message/);
    }
    assert.equal(await c.log.size(), 1);
    assert.equal((await c.log.get(id))?.msg, 'pay 10 EUR');
    assert.equal(await c.queue.depth(), 1);
    assert.equal(c.caller.calls.length, callsBefore, 'the refused requests called no service');
    const again = await c.postText('pay 10 EUR', { 'idempotency-key': 'order-7' });
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), { id, repeated: true });
  });

  test('a different message under a key whose first request failed → 422, not a take-over with the new text', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    for (const n of LOGGING) c.caller.fail(urlOf(n), { kind: 'refuse' });
    assertError(await c.postJson({ msg: 'first text' }, { 'idempotency-key': 'k-fail' }), 503);
    for (const n of LOGGING) c.caller.heal(urlOf(n));
    assertError(await c.postJson({ msg: 'second text' }, { 'idempotency-key': 'k-fail' }), 422);
    assert.equal(await c.log.size(), 0);
    assert.equal(await c.queue.depth(), 0);
    const id = idOf(await c.postJson({ msg: 'first text' }, { 'idempotency-key': 'k-fail' }));
    assert.equal((await c.log.get(id))?.msg, 'first text');
  });

  test('concurrent repeats: one is accepted, the others get 409 while it runs, then the same id; consumed once', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const res = await Promise.all(Array.from({ length: 5 }, () => c.postJson({ msg: 'burst' }, { 'idempotency-key': 'burst-key' })));
    const ok = res.filter((r) => r.statusCode === 200 || r.statusCode === 201);
    assert.ok(ok.length >= 1);
    for (const r of res.filter((x) => !ok.includes(x))) {
      assertError(r, 409);
      assert.ok(r.headers['retry-after']);
    }
    const ids = new Set(ok.map((r) => (r.json() as { id: string }).id));
    assert.equal(ids.size, 1);
    const later = await c.postJson({ msg: 'burst' }, { 'idempotency-key': 'burst-key' });
    assert.equal(later.statusCode, 200);
    assert.equal((later.json() as { id: string }).id, [...ids][0]);
    assert.equal(await c.log.size(), 1);
    await eventually(() => c.store!.count() === 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.store!.count(), 1);
  });

  test('a retry after a failed attempt completes it under the key: still one message', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    for (const n of LOGGING) c.caller.fail(urlOf(n), { kind: 'refuse' });
    assertError(await c.postJson({ msg: 'retry me' }, { 'idempotency-key': 'k-retry' }), 503);
    for (const n of LOGGING) c.caller.heal(urlOf(n));
    const id = idOf(await c.postJson({ msg: 'retry me' }, { 'idempotency-key': 'k-retry' }));
    const again = await c.postJson({ msg: 'retry me' }, { 'idempotency-key': 'k-retry' });
    assert.equal((again.json() as { id: string }).id, id);
    assert.equal(await c.log.size(), 1);
    assert.equal(await c.queue.depth(), 1);
  });
});

describe('facade: failover across logging instances', () => {
  const faults: Array<[string, Fault]> = [
    ['refused', { kind: 'refuse' }],
    ['500', { kind: 'status', status: 500 }],
    ['503', { kind: 'status', status: 503 }],
    ['hanging past the attempt timeout', { kind: 'hang' }],
  ];
  for (const [name, fault] of faults) {
    test(`one logging instance ${name} → POST still 201 via another`, { timeout: 8000 }, async (t) => {
      const c = await cluster(t);
      const bad = urlOf('logging-2');
      c.caller.fail(bad, fault);
      // Instances are tried in random order: post until the bad one has been tried.
      const ids: string[] = [];
      for (let i = 0; i < 60 && c.caller.callsTo(bad, 'POST', '/log').length === 0; i++) ids.push(idOf(await c.postJson({ msg: `m${i}` })));
      assert.ok(c.caller.callsTo(bad, 'POST', '/log').length > 0, 'the failing instance was tried');
      for (const id of ids) {
        const e = await c.log.get(id);
        assert.ok(e, 'logged');
        assert.notEqual(e.loggedBy, 'logging-2');
        assert.ok(await c.consumed(id), 'consumed');
      }
      assert.equal(c.caller.hanging, 0, 'every hanging call was released by its abort signal');
      // Reads fail over too.
      const res = await c.facade.inject({ method: 'GET', url: '/messages' });
      assert.equal(res.statusCode, 200);
      assert.equal((res.json() as MessagesView).logging.length, ids.length);
    });
  }

  test('all logging instances failing → POST 503 JSON with Retry-After; nothing queued', { timeout: 8000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    c.caller.fail(urlOf('logging-1'), { kind: 'refuse' });
    c.caller.fail(urlOf('logging-2'), { kind: 'status', status: 500 });
    c.caller.fail(urlOf('logging-3'), { kind: 'hang' });
    const res = await c.postJson({ msg: 'nowhere to go' });
    assertError(res, 503);
    assert.equal(res.headers['retry-after'], '2');
    assert.equal(await c.queue.depth(), 0);
    assert.equal(await c.log.size(), 0);
    assert.ok(c.loggingPosts() >= 3, `every instance was tried (${c.loggingPosts()} calls)`);
    assert.equal(c.caller.hanging, 0);
  });

  test('no logging instance registered → POST 503 with Retry-After', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { logging: 0 });
    const res = await c.postJson({ msg: 'hi' });
    assertError(res, 503);
    assert.equal(res.headers['retry-after'], '2');
    assert.match((res.json() as { message: string }).message, /no logging instance/);
    assert.equal(await c.queue.depth(), 0);
  });

  test('a 4xx from logging is not retried and does not trip the breaker', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    for (const n of LOGGING) c.caller.fail(urlOf(n), { kind: 'status', status: 400, body: { error: 'Bad Request', message: 'rejected', statusCode: 400 } });
    for (let i = 0; i < 4; i++) {
      const before = c.loggingPosts();
      const res = await c.postJson({ msg: `m${i}` });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `a client error, got ${res.statusCode}`);
      assertError(res, res.statusCode);
      assert.equal(c.loggingPosts() - before, 1, 'exactly one call to logging');
    }
    assert.equal(await c.queue.depth(), 0);
    for (const i of await c.instances()) assert.equal(i.breaker, 'closed', `${i.instance} breaker`);
  });

  test('the breaker of a repeatedly failing instance opens (seen in /instances), and it is then skipped', { timeout: 8000 }, async (t) => {
    const c = await cluster(t);
    const bad = urlOf('logging-1');
    await refuseUntilBreakerOpens(c, 'logging-1');
    const list = await c.instances();
    const one = list.find((x) => x.instance === 'logging-1')!;
    assert.equal(one.status, 'down');
    for (const x of list.filter((x) => x.instance !== 'logging-1')) assert.equal(x.breaker, 'closed');
    // An open breaker goes last: with healthy instances left, it is not called again.
    const calls = c.caller.callsTo(bad).length;
    for (let i = 0; i < 10; i++) idOf(await c.postJson({ msg: `after${i}` }));
    assert.equal(c.caller.callsTo(bad).length, calls);
  });
});

describe('facade: an instance whose breaker opened gets traffic again once it recovers', () => {
  test('after the half-open time a trial call reaches it, closes its breaker, and it is chosen at random again', { timeout: 10_000 }, async (t) => {
    const c = await cluster(t, { breakerHalfOpenMs: 300 });
    const bad = urlOf('logging-1');
    await refuseUntilBreakerOpens(c, 'logging-1');
    c.caller.heal(bad);
    await new Promise((r) => setTimeout(r, 400));
    const before = c.caller.callsTo(bad).length;
    for (let i = 0; i < 30; i++) idOf(await c.postJson({ msg: `later${i}` }));
    assert.equal((await c.instances()).find((x) => x.instance === 'logging-1')!.breaker, 'closed');
    assert.ok(c.caller.callsTo(bad).length - before >= 3, `logging-1 is called again (${c.caller.callsTo(bad).length - before} of 30)`);
    const byInstance = new Map<string, number>();
    for (const e of (await c.log.list()).filter((x) => x.msg.startsWith('later'))) byInstance.set(e.loggedBy, (byInstance.get(e.loggedBy) ?? 0) + 1);
    assert.ok((byInstance.get('logging-1') ?? 0) > 0, JSON.stringify(Object.fromEntries(byInstance)));
  });
});

describe('facade: queue, registry and health', () => {
  test('queue full → 503 with Retry-After and a JSON error', { timeout: 5000 }, async (t) => {
    const c = await cluster(t, { capacity: 2, consume: false });
    idOf(await c.postJson({ msg: 'one' }));
    idOf(await c.postJson({ msg: 'two' }));
    const res = await c.postJson({ msg: 'three' });
    assertError(res, 503);
    assert.equal(res.headers['retry-after'], '2');
    assert.match((res.json() as { message: string }).message, /queue/);
    assert.equal(await c.queue.depth(), 2);
    // Room again once the consumer drains it.
    c.consumer!.start();
    await eventually(async () => (await c.queue.depth()) === 0);
    idOf(await c.postJson({ msg: 'four' }));
  });

  test('/instances lists registered instances with heartbeatAgeMs and breaker state', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    const list = await c.instances();
    assert.deepEqual(list.map((x) => `${x.service}/${x.instance}`).sort(), ['logging/logging-1', 'logging/logging-2', 'logging/logging-3', 'messages/messages-1']);
    for (const x of list) {
      assert.equal(x.url, urlOf(x.instance));
      assert.equal(typeof x.heartbeatAgeMs, 'number');
      assert.ok(x.heartbeatAgeMs >= 0 && x.heartbeatAgeMs < 5000, `heartbeatAgeMs ${x.heartbeatAgeMs}`);
      assert.equal(x.breaker, 'closed');
      assert.equal(x.status, 'up');
    }
  });

  test('an instance that leaves the registry is no longer called', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    await registryKv(c.engine).delete('logging/logging-3');
    await c.directory.refresh();
    assert.equal((await c.instances()).filter((x) => x.service === 'logging').length, 2);
    for (let i = 0; i < 10; i++) idOf(await c.postJson({ msg: `m${i}` }));
    assert.equal(c.caller.callsTo(urlOf('logging-3')).length, 0);
  });

  test('readiness follows the engine; liveness stays 200', { timeout: 5000 }, async (t) => {
    const c = await cluster(t);
    assert.equal((await c.facade.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200);
    c.engine.down = true;
    const res = await c.facade.inject({ method: 'GET', url: '/health/ready' });
    assertError(res, 503);
    assert.match((res.json() as { message: string }).message, /down/);
    assert.equal((await c.facade.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
    assertError(await c.postJson({ msg: 'engine down' }), 503);
  });
});

describe('facade: messages arriving together go to logging in one call', () => {
  test('30 POSTs at once: all 201, each logged once, one POST /log/batch per batch, each consumed', { timeout: 10_000 }, async (t) => {
    const c = await cluster(t);
    const res = await Promise.all(Array.from({ length: 30 }, (_, i) => c.postJson({ msg: `together ${i}` })));
    const ids = res.map(idOf);
    const logged = await c.log.list();
    assert.deepEqual(logged.map((e) => e.id).sort(), [...ids].sort(), 'each accepted id is in the log exactly once');
    for (const [i, id] of ids.entries()) assert.equal(logged.find((e) => e.id === id)?.msg, `together ${i}`);
    const batches = c.caller.calls.filter((x) => x.method === 'POST' && x.path === '/log/batch');
    assert.ok(batches.length >= 1, 'at least one batch was sent');
    assert.ok(batches.length + c.loggingPosts() < 30, `fewer logging calls than messages (${batches.length} batches, ${c.loggingPosts()} single)`);
    for (const id of ids) assert.ok(await c.consumed(id), `${id} consumed`);
  });

  test('a batch fails over to another instance when the chosen one refuses', { timeout: 10_000 }, async (t) => {
    const c = await cluster(t);
    c.caller.fail(urlOf('logging-1'), { kind: 'refuse' });
    c.caller.fail(urlOf('logging-2'), { kind: 'status', status: 500 });
    const res = await Promise.all(Array.from({ length: 10 }, (_, i) => c.postJson({ msg: `failover ${i}` })));
    const ids = res.map(idOf);
    const logged = await c.log.list();
    assert.deepEqual(logged.map((e) => e.loggedBy), ids.map(() => 'logging-3'));
  });

  test('with no logging instance able to store, every message of the batch gets 503 and nothing is queued', { timeout: 10_000 }, async (t) => {
    const c = await cluster(t, { consume: false });
    for (const n of LOGGING) c.caller.fail(urlOf(n), { kind: 'status', status: 503 });
    const res = await Promise.all(Array.from({ length: 5 }, (_, i) => c.postJson({ msg: `lost ${i}` })));
    for (const r of res) assertError(r, 503);
    assert.equal(await c.queue.depth(), 0);
  });
});

describe('facade: size limits agree with logging', () => {
  test('a message just under the facade limit that JSON-escaping doubles is still stored', { timeout: 10_000 }, async (t) => {
    const c = await cluster(t);
    const text = '"'.repeat(65_000); // 65 000 bytes as text/plain; 130 000+ as JSON to logging
    const res = await c.postText(text);
    const id = idOf(res);
    assert.equal((await c.log.get(id))?.msg, text);
  });

  test('a 413 from logging is answered 413, not retried elsewhere, and leaves every breaker closed', { timeout: 10_000 }, async (t) => {
    const c = await cluster(t);
    for (const n of LOGGING) c.caller.fail(urlOf(n), { kind: 'status', status: 413, body: { error: 'Payload Too Large', message: 'request body is larger than the limit of 10 bytes' } });
    for (let i = 0; i < 5; i++) {
      const res = await c.postJson({ msg: `too big ${i}` });
      assertError(res, 413);
      assert.match((res.json() as { message: string }).message, /larger than the limit/);
    }
    assert.equal(c.caller.calls.filter((x) => x.method === 'POST' && x.path.startsWith('/log')).length, 5, 'one call per message, no retries');
    for (const n of LOGGING) c.caller.heal(urlOf(n));
    assert.ok((await c.instances()).filter((i) => i.service === 'logging').every((i) => i.breaker === 'closed'), JSON.stringify(await c.instances()));
    const id = idOf(await c.postJson({ msg: 'fine again' }));
    assert.equal((await c.log.get(id))?.msg, 'fine again');
    assert.equal(await c.log.size(), 1, 'none of the refused messages was stored');
  });
});
