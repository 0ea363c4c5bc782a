import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { LogEntry } from '../../../src/engine/ports.js';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import { eventually, registryKv } from '../../helpers/fakes.js';
import { buildLogging, startRegistered } from '../../helpers/services.js';

function setup(t: TestContext, name = 'logging-1') {
  const engine = new MemoryEngine();
  const { service, config } = buildLogging(t, engine, { name, 'map-name': `log-${randomUUID()}` });
  const app = service.app;
  const log = engine.log(config.mapName);
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/log', payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });
  return { engine, log, app, service, post };
}

function assertErrorBody(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number) {
  assert.equal(res.statusCode, status);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = res.json() as { error?: unknown; message?: unknown };
  assert.equal(typeof body.error, 'string', 'error is a string');
  assert.equal(typeof body.message, 'string', 'message is a string');
  assert.ok((body.message as string).length > 0);
}

describe('logging service', () => {
  test('POST /log stores the entry with loggedBy, loggedAt and ts', async (t) => {
    const { post, log } = setup(t, 'logging-7');
    const before = Date.now();
    const res = await post({ id: 'a1', msg: 'hello' });
    assert.equal(res.statusCode, 201);
    const entry = res.json() as LogEntry;
    assert.equal(entry.id, 'a1');
    assert.equal(entry.msg, 'hello');
    assert.equal(entry.loggedBy, 'logging-7');
    assert.ok(!Number.isNaN(Date.parse(entry.loggedAt)), 'loggedAt is an ISO time');
    assert.ok(Date.parse(entry.loggedAt) >= before - 1 && Date.parse(entry.loggedAt) <= Date.now() + 1);
    assert.equal(typeof entry.ts, 'number');
    assert.ok(Math.abs(entry.ts - Date.parse(entry.loggedAt)) < 1000, 'ts is epoch milliseconds');
    const stored = await log.get('a1');
    assert.deepEqual(stored, entry);
    assert.equal(await log.size(), 1);
  });

  test('the correlation id is kept from the body, else taken from the request header', async (t) => {
    const { post, log } = setup(t);
    await post({ id: 'c1', msg: 'x', correlationId: 'corr-body' });
    await post({ id: 'c2', msg: 'y' }, { 'x-correlation-id': 'corr-header' });
    assert.equal((await log.get('c1'))?.correlationId, 'corr-body');
    assert.equal((await log.get('c2'))?.correlationId, 'corr-header');
  });

  test('the same id twice is stored once; the repeat answers 200 with the first text', async (t) => {
    const { post, log } = setup(t);
    const first = await post({ id: 'dup', msg: 'first' });
    assert.equal(first.statusCode, 201);
    const second = await post({ id: 'dup', msg: 'second' });
    assert.equal(second.statusCode, 200);
    assert.equal((second.json() as LogEntry).msg, 'first');
    assert.deepEqual(second.json(), first.json());
    assert.equal(await log.size(), 1);
    assert.equal((await log.get('dup'))?.msg, 'first');
  });

  test('GET /log lists entries in arrival order; /log/count counts them', async (t) => {
    const { post, app } = setup(t);
    const ids = ['z', 'a', 'm', 'b', 'y'];
    for (const id of ids) assert.equal((await post({ id, msg: `msg-${id}` })).statusCode, 201);
    const res = await app.inject({ method: 'GET', url: '/log' });
    assert.equal(res.statusCode, 200);
    const entries = res.json() as LogEntry[];
    assert.deepEqual(
      entries.map((e) => e.id),
      ids,
    );
    assert.deepEqual(
      entries.map((e) => e.msg),
      ids.map((id) => `msg-${id}`),
    );
    assert.equal(res.headers['x-next-cursor'], undefined);
    const count = await app.inject({ method: 'GET', url: '/log/count' });
    assert.deepEqual(count.json(), { count: 5 });
  });

  test('GET /log pages with ?limit= and ?after= following x-next-cursor', async (t) => {
    const { post, app } = setup(t);
    const ids = Array.from({ length: 7 }, (_, i) => `p${i}`);
    for (const id of ids) await post({ id, msg: id });
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const url = `/log?limit=3${after !== undefined ? `&after=${encodeURIComponent(after)}` : ''}`;
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200);
      const entries = res.json() as LogEntry[];
      assert.ok(entries.length <= 3);
      seen.push(...entries.map((e) => e.id));
      pages++;
      const next = res.headers['x-next-cursor'];
      if (next === undefined) break;
      assert.equal(typeof next, 'string');
      after = next as string;
      assert.ok(pages < 10, 'paging terminates');
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, ids);
  });

  test('GET /log?newest=N answers the newest N, newest first; /log/counts counts per logging instance', async (t) => {
    const { post, app, log } = setup(t);
    for (const id of ['a', 'b', 'c', 'd']) await post({ id, msg: `msg-${id}` });
    await log.put({ id: 'e', msg: 'from another instance', loggedBy: 'logging-2', loggedAt: new Date().toISOString(), ts: Date.now() + 1 });
    const res = await app.inject({ method: 'GET', url: '/log?newest=3' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(
      (res.json() as LogEntry[]).map((e) => e.id),
      ['e', 'd', 'c'],
    );
    assert.equal(res.headers['x-next-cursor'], undefined);
    assert.equal((await app.inject({ method: 'GET', url: '/log?newest=1000' })).json<LogEntry[]>().length, 5);
    const counts = await app.inject({ method: 'GET', url: '/log/counts' });
    assert.equal(counts.statusCode, 200);
    assert.deepEqual(counts.json(), { total: 5, byInstance: { 'logging-1': 4, 'logging-2': 1 } });
  });

  test('bad paging parameters are 400 with {error, message}', async (t) => {
    const { app } = setup(t);
    for (const url of ['/log?limit=0', '/log?limit=abc', '/log?limit=-1', '/log?foo=1', '/log?newest=0', '/log?newest=1001', '/log?newest=x', '/log?newest=', '/log?newest=5&limit=5', '/log?newest=5&after=1']) {
      const res = await app.inject({ method: 'GET', url });
      assertErrorBody(res, 400);
    }
  });

  const badBodies: Array<[string, string]> = [
    ['missing id', JSON.stringify({ msg: 'hi' })],
    ['missing msg', JSON.stringify({ id: 'x' })],
    ['msg as a number', JSON.stringify({ id: 'x', msg: 5 })],
    ['id as a number', JSON.stringify({ id: 5, msg: 'hi' })],
    ['empty msg', JSON.stringify({ id: 'x', msg: '' })],
    ['empty id', JSON.stringify({ id: '', msg: 'hi' })],
    ['extra property', JSON.stringify({ id: 'x', msg: 'hi', extra: true })],
    ['invalid JSON', '{"id": "x", "msg": '],
    ['array', JSON.stringify([{ id: 'x', msg: 'hi' }])],
    ['null', 'null'],
    ['empty body', ''],
  ];
  for (const [name, payload] of badBodies) {
    test(`bad body (${name}) → 400 {error, message}, nothing stored`, async (t) => {
      const { post, log } = setup(t);
      const res = await post(payload);
      assertErrorBody(res, 400);
      assert.equal(await log.size(), 0);
    });
  }

  test('a non-JSON content type is 415 and nothing is stored', async (t) => {
    const { app, log } = setup(t);
    const res = await app.inject({ method: 'POST', url: '/log', payload: '<x/>', headers: { 'content-type': 'application/xml' } });
    assertErrorBody(res, 415);
    assert.equal(await log.size(), 0);
  });

  test('unknown route 404 and wrong method 405 with Allow', async (t) => {
    const { app } = setup(t);
    assertErrorBody(await app.inject({ method: 'GET', url: '/nope' }), 404);
    const res = await app.inject({ method: 'DELETE', url: '/log' });
    assertErrorBody(res, 405);
    assert.match(String(res.headers.allow), /GET/);
    assert.match(String(res.headers.allow), /POST/);
  });

  test('engine down → POST and GET answer 503 JSON; readiness 503 names the reason; liveness 200', async (t) => {
    const { engine, post, app, log, service } = setup(t);
    await startRegistered(service);
    await post({ id: 'before', msg: 'before' });
    engine.down = true;
    for (const res of [
      await post({ id: 'during', msg: 'during' }),
      await app.inject({ method: 'GET', url: '/log' }),
      await app.inject({ method: 'GET', url: '/log?limit=2' }),
      await app.inject({ method: 'GET', url: '/log/count' }),
    ]) {
      assertErrorBody(res, 503);
      assert.equal((res.json() as { message: string }).message, 'engine unavailable: memory engine is down');
      assert.equal(res.headers['retry-after'], '1');
    }

    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    assertErrorBody(ready, 503);
    const body = ready.json() as { status: string; message: string; instance: string };
    assert.equal(body.status, 'not-ready');
    assert.equal(body.instance, 'logging-1');
    assert.match(body.message, /engine.*down/);
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 503);

    const live = await app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    assert.equal((live.json() as { status: string }).status, 'live');

    engine.down = false;
    // Registered again by its next heartbeat.
    assert.ok(await eventually(async () => (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200, 5000), 'ready again');
    assert.equal(await log.size(), 1, 'the write during the outage was not stored');
  });

  test('readiness after an outage reports the present: a heartbeat that failed before is retried at once, not reported until the next one', async (t) => {
    const engine = new MemoryEngine();
    // Heartbeats every 20 s: the scheduled one would come long after the engine is back.
    const { service } = buildLogging(t, engine, { name: 'logging-4', 'registry-ttl-ms': '60000' });
    engine.down = true;
    await service.start();
    const down = await service.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(down.statusCode, 503);
    assert.match((down.json() as { message: string }).message, /engine unreachable: memory engine is down/);
    engine.down = false;
    const ready = await service.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 200, ready.payload);
    assert.ok(await registryKv(engine).get('logging/logging-4'), 'registered by that readiness check');
  });

  test('health when the engine is up: not ready before it registers; once started, ready 200 with service and instance', async (t) => {
    const { app, service, engine } = setup(t, 'logging-3');
    const before = await app.inject({ method: 'GET', url: '/health/ready' });
    assertErrorBody(before, 503);
    assert.match((before.json() as { message: string }).message, /not registered yet/);
    const url = await startRegistered(service);
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as Record<string, unknown>;
    assert.equal(body.status, 'ready');
    assert.equal(body.service, 'logging');
    assert.equal(body.instance, 'logging-3');
    assert.equal((await registryKv(engine).get('logging/logging-3'))?.url, url, 'it registered the URL it listens on');
    await service.stop();
    assert.equal(await registryKv(engine).get('logging/logging-3'), undefined, 'stop deregisters');
  });

  test('Unicode text is stored byte for byte', async (t) => {
    const { post, app } = setup(t);
    const msg = 'Привіт, світ 👋🏽 <img src=x onerror=alert(1)> "q" \\ \u0000 end';
    assert.equal((await post({ id: 'u', msg })).statusCode, 201);
    const entries = (await app.inject({ method: 'GET', url: '/log' })).json() as LogEntry[];
    assert.equal(entries[0]?.msg, msg);
    assert.equal(Buffer.compare(Buffer.from(entries[0]!.msg, 'utf8'), Buffer.from(msg, 'utf8')), 0);
  });
});

describe('logging service: POST /log/batch', () => {
  function setupBatch(t: TestContext) {
    const engine = new MemoryEngine();
    const mapName = `log-${randomUUID()}`;
    const log = engine.log(mapName);
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const { service } = buildLogging(t, engine, { name: 'logging-b', 'map-name': mapName }, { logger });
    const app = service.app;
    const batch = (payload: unknown) =>
      app.inject({ method: 'POST', url: '/log/batch', payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
    return { log, lines, batch };
  }

  test('stores each entry once, in order, one line each with its own correlation id', async (t) => {
    const { log, lines, batch } = setupBatch(t);
    const entries = ['x1', 'x2', 'x3'].map((id) => ({ id, msg: `text ${id}`, correlationId: `corr-${id}` }));
    const res = await batch({ entries });
    assert.equal(res.statusCode, 200);
    const body = res.json() as { results: Array<{ created: boolean; entry: LogEntry }> };
    assert.deepEqual(body.results.map((r) => [r.created, r.entry.id, r.entry.loggedBy, r.entry.correlationId]), [
      [true, 'x1', 'logging-b', 'corr-x1'],
      [true, 'x2', 'logging-b', 'corr-x2'],
      [true, 'x3', 'logging-b', 'corr-x3'],
    ]);
    assert.deepEqual((await log.list()).map((e) => e.id), ['x1', 'x2', 'x3']);
    const logged = lines.filter((l) => l.msg === 'logged message');
    assert.deepEqual(logged.map((l) => [l.id, l.correlationId, l.text]), entries.map((e) => [e.id, e.correlationId, e.msg]));

    // Again, with one new entry: the repeats are not stored twice.
    const again = await batch({ entries: [...entries.slice(0, 2), { id: 'x4', msg: 'four' }] });
    assert.deepEqual((again.json() as { results: Array<{ created: boolean }> }).results.map((r) => r.created), [false, false, true]);
    assert.equal(await log.size(), 4);
  });

  for (const [what, payload] of [
    ['no entries', { entries: [] }],
    ['not an array', { entries: { id: 'a', msg: 'b' } }],
    ['an entry without msg', { entries: [{ id: 'ok', msg: 'fine' }, { id: 'bad' }] }],
    ['an entry with an empty msg', { entries: [{ id: 'ok', msg: 'fine' }, { id: 'bad', msg: '' }] }],
    ['an entry with an unknown field', { entries: [{ id: 'ok', msg: 'fine', extra: 1 }] }],
    ['a number as msg', { entries: [{ id: 'ok', msg: 5 }] }],
  ] as const) {
    test(`400 with a JSON error and nothing stored: ${what}`, async (t) => {
      const { log, batch } = setupBatch(t);
      const res = await batch(payload);
      assertErrorBody(res, 400);
      assert.equal(await log.size(), 0);
    });
  }
});

describe('logging service: correlation ids and echoes on a direct call', () => {
  function setupLines(t: TestContext) {
    const engine = new MemoryEngine();
    const mapName = `log-${randomUUID()}`;
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
    const { service } = buildLogging(t, engine, { name: 'logging-c', 'map-name': mapName }, { logger });
    const send = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
      service.app.inject({ method: 'POST', url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });
    return { log: engine.log(mapName), lines, send };
  }
  const BAD = [`<b>markup</b> and spaces ${'z'.repeat(40)}`, 'q'.repeat(10_000)];

  test('a header that is not short and plain is replaced by a fresh id: stored, logged and answered, never the sent one', async (t) => {
    const { log, lines, send } = setupLines(t);
    for (const [i, sent] of BAD.entries()) {
      const res = await send('/log', { id: `h${i}`, msg: 'x' }, { 'x-correlation-id': sent });
      assert.equal(res.statusCode, 201);
      const fresh = String(res.headers['x-correlation-id']);
      assert.match(fresh, /^[0-9a-f-]{36}$/);
      assert.ok(res.headers['x-correlation-id-replaced']);
      assert.equal((await log.get(`h${i}`))?.correlationId, fresh);
      assert.ok(lines.some((l) => l.includes(fresh)), 'the fresh id is in the log lines');
      assert.ok(!lines.some((l) => l.includes(sent.slice(0, 30))), 'the sent one is in no log line');
    }
  });

  test('a correlationId in the body that is not short and plain is a 400 naming the field, quoting nothing of it; nothing stored', async (t) => {
    const { log, lines, send } = setupLines(t);
    for (const sent of BAD) {
      for (const [url, body] of [['/log', { id: 'b1', msg: 'x', correlationId: sent }], ['/log/batch', { entries: [{ id: 'b2', msg: 'x', correlationId: sent }] }]] as const) {
        const res = await send(url, body);
        assertErrorBody(res, 400);
        const message = (res.json() as { message: string }).message;
        assert.match(message, /correlationId must be 1–128 letters, digits, "\.", "_", "-" or ":"/);
        assert.ok(!res.payload.includes(sent.slice(0, 30)));
      }
    }
    assert.ok(!lines.some((l) => l.includes(BAD[1]!.slice(0, 30))));
    assert.equal(await log.size(), 0);
  });

  test('an unknown field with a 5000-character name is named by a bounded excerpt', async (t) => {
    const { send } = setupLines(t);
    const res = await send('/log', { id: 'u', msg: 'x', ['f'.repeat(5000)]: 1 });
    assertErrorBody(res, 400);
    const message = (res.json() as { message: string }).message;
    assert.match(message, /^invalid request: unknown field "f{64}"… \(5000 characters\)$/);
  });
});

describe('logging service: what it refuses, in plain words', () => {
  function setupApp(t: TestContext) {
    const engine = new MemoryEngine();
    const mapName = `log-${randomUUID()}`;
    const log = engine.log(mapName);
    const { service } = buildLogging(t, engine, { name: 'logging-w', 'map-name': mapName });
    const app = service.app;
    const send = (url: string, payload: string | Buffer, type = 'application/json') => app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } });
    return { log, send };
  }

  test('a blank msg is a 400 on /log and /log/batch, and nothing is stored', async (t) => {
    const { log, send } = setupApp(t);
    for (const msg of ['   ', '\t\n']) {
      const one = await send('/log', JSON.stringify({ id: 'b1', msg }));
      assertErrorBody(one, 400);
      assert.match((one.json() as { message: string }).message, /msg must contain a non-blank character/);
      const many = await send('/log/batch', JSON.stringify({ entries: [{ id: 'ok', msg: 'fine' }, { id: 'b2', msg }] }));
      assertErrorBody(many, 400);
      assert.match((many.json() as { message: string }).message, /entries\.1\.msg must contain a non-blank character/);
    }
    assert.equal(await log.size(), 0);
  });

  test('invalid UTF-8 in /log and /log/batch is a 400 naming the byte offset, and nothing is stored', async (t) => {
    const { log, send } = setupApp(t);
    const bad = (prefix: string, suffix: string) => Buffer.concat([Buffer.from(prefix), Buffer.from([0xe9]), Buffer.from(suffix)]);
    const one = await send('/log', bad('{"id":"u1","msg":"caf', '"}'));
    assertErrorBody(one, 400);
    assert.match((one.json() as { message: string }).message, /not valid UTF-8: byte 0xe9 at offset 21/);
    const head = '{"entries":[{"id":"u2","msg":"ok"},{"id":"u3","msg":"caf';
    const many = await send('/log/batch', bad(head, '"}]}'));
    assertErrorBody(many, 400);
    assert.match((many.json() as { message: string }).message, new RegExp(`at offset ${head.length} `));
    assert.equal(await log.size(), 0);
    // The same bytes as the charset they are in are stored.
    const latin = await send('/log', bad('{"id":"u4","msg":"caf', '"}'), 'application/json; charset=iso-8859-1');
    assert.equal(latin.statusCode, 201);
    assert.equal((await log.get('u4'))?.msg, 'café');
  });

  test('a lone surrogate escape in msg is a 400 on /log and /log/batch, and nothing is stored', async (t) => {
    const { log, send } = setupApp(t);
    const one = await send('/log', '{"id":"s1","msg":"\\ud800x"}');
    assertErrorBody(one, 400);
    assert.match((one.json() as { message: string }).message, /not valid Unicode text: the field "msg" holds a lone surrogate/);
    const many = await send('/log/batch', '{"entries":[{"id":"s2","msg":"ok"},{"id":"s3","msg":"a\\udfffb"}]}');
    assertErrorBody(many, 400);
    assert.match((many.json() as { message: string }).message, /the field "entries\[1\]\.msg" holds a lone surrogate \(\\udfff at character 1\)/);
    assert.equal(await log.size(), 0);
  });

  test('messages name this route: its body limit, its body form, its content type, its item counts', async (t) => {
    const { send } = setupApp(t);
    const huge = await send('/log/batch', Buffer.alloc(9 * 1024 * 1024, 'a'));
    assertErrorBody(huge, 413);
    assert.match((huge.json() as { message: string }).message, /limit of 8388608 bytes/);
    const empty = await send('/log/batch', '');
    assertErrorBody(empty, 400);
    assert.match((empty.json() as { message: string }).message, /"entries"/);
    const form = await send('/log', 'a=b', 'application/x-www-form-urlencoded');
    assertErrorBody(form, 415);
    assert.match((form.json() as { message: string }).message, /send application\/json$/);
    const none = await send('/log/batch', JSON.stringify({ entries: [] }));
    assert.match((none.json() as { message: string }).message, /entries must hold at least 1 item/);
    const many = await send('/log/batch', JSON.stringify({ entries: Array.from({ length: 1001 }, (_, i) => ({ id: `i${i}`, msg: 'x' })) }));
    assert.match((many.json() as { message: string }).message, /entries must hold at most 1000 items/);
  });
});
