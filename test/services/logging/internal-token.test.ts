import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { MemoryEngine } from '../../../src/engine/memory/memory-engine.js';
import { INTERNAL_TOKEN_HEADER } from '../../../src/contracts/http.js';
import { buildFacade, buildLogging, buildMessages, startRegistered } from '../../helpers/services.js';

const TOKEN = '0123456789abcdef0123';

function setup(t: TestContext) {
  const engine = new MemoryEngine();
  const { service, config } = buildLogging(t, engine, { name: 'logging-t', 'internal-token': TOKEN });
  const log = engine.log(config.mapName);
  const post = (headers: Record<string, string> = {}) =>
    service.app.inject({ method: 'POST', url: '/log', payload: JSON.stringify({ id: 'secret-1', msg: 'hello' }), headers: { 'content-type': 'application/json', ...headers } });
  return { app: service.app, log, post };
}

function assert401(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, says: RegExp) {
  assert.equal(res.statusCode, 401);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = res.json() as { error: string; message: string };
  assert.equal(body.error, 'Unauthorized');
  assert.match(body.message, says);
}

describe('internal token: a logging service built with --internal-token', () => {
  test('the header name the services send is x-internal-token', () => {
    assert.equal(INTERNAL_TOKEN_HEADER, 'x-internal-token');
  });

  test('POST /log without the token → 401 and nothing stored', async (t) => {
    const { post, log } = setup(t);
    assert401(await post(), /^missing internal token/);
    assert.equal(await log.size(), 0);
  });

  test('POST /log with a wrong token (shorter, longer, one character off, empty) → 401 and nothing stored', async (t) => {
    const { post, log } = setup(t);
    for (const wrong of ['0123', `${TOKEN}x`, `${TOKEN.slice(0, -1)}4`, '']) {
      assert401(await post({ [INTERNAL_TOKEN_HEADER]: wrong }), /^wrong internal token/);
    }
    assert.equal(await log.size(), 0);
  });

  test('every other route but the probes and /metrics is closed too: reads, batch, unknown paths', async (t) => {
    const { app } = setup(t);
    for (const [method, url] of [['GET', '/log'], ['GET', '/log/count'], ['POST', '/log/batch'], ['GET', '/nope']] as const) {
      const res = await app.inject({ method, url, ...(method === 'POST' ? { payload: '{"entries":[{"id":"b","msg":"m"}]}', headers: { 'content-type': 'application/json' } } : {}) });
      assert401(res, /internal token/);
    }
  });

  test('/health/live, /health/ready, /health and /metrics stay open without the token', async (t) => {
    const { app } = setup(t);
    const live = await app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    assert.equal((live.json() as { status: string }).status, 'live');
    // Not started, so not registered: answered 503 by readiness, not 401 by the token.
    for (const url of ['/health/ready', '/health', '/health/ready?x=1']) {
      const res = await app.inject({ method: 'GET', url });
      assert.notEqual(res.statusCode, 401, url);
      assert.equal((res.json() as { status: string }).status, 'not-ready', url);
    }
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.payload, /http_requests_total/);
  });

  test('with the right token → 201 and stored; the refused attempts before it are counted as 401 in the metrics', async (t) => {
    const { app, post, log } = setup(t);
    assert.equal((await post()).statusCode, 401);
    const res = await post({ [INTERNAL_TOKEN_HEADER]: TOKEN });
    assert.equal(res.statusCode, 201);
    assert.equal((await log.get('secret-1'))?.msg, 'hello');
    const read = await app.inject({ method: 'GET', url: '/log/count', headers: { [INTERNAL_TOKEN_HEADER]: TOKEN } });
    assert.deepEqual(read.json(), { count: 1 });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).payload;
    assert.match(metrics, /http_requests_total\{[^}]*status="401"[^}]*\} 1/);
  });

  test('without --internal-token on loopback, no token is asked for', async (t) => {
    const engine = new MemoryEngine();
    const { service } = buildLogging(t, engine, { name: 'logging-open' });
    const res = await service.app.inject({ method: 'POST', url: '/log', payload: '{"id":"o","msg":"open"}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 201);
  });

  test('end to end over HTTP: a facade given the same token stores a message; one without it gets 503 and nothing is stored', { timeout: 20_000 }, async (t) => {
    const engine = new MemoryEngine();
    const { service: logging, config } = buildLogging(t, engine, { name: 'logging-e2e', 'internal-token': TOKEN });
    const { service: messages } = buildMessages(t, engine, { name: 'messages-e2e', 'internal-token': TOKEN });
    await startRegistered(logging);
    await startRegistered(messages);
    const log = engine.log(config.mapName);
    const post = (app: typeof logging.app, msg: string) => app.inject({ method: 'POST', url: '/messages', payload: JSON.stringify({ msg }), headers: { 'content-type': 'application/json' } });

    // Its own undici caller, built by the factory from the config's token.
    const { service: withToken } = buildFacade(t, engine, { name: 'facade-token', 'internal-token': TOKEN });
    await withToken.directory.refresh();
    const ok = await post(withToken.app, 'with token');
    assert.equal(ok.statusCode, 201, ok.payload);
    const id = (ok.json() as { id: string }).id;
    assert.equal((await log.get(id))?.loggedBy, 'logging-e2e');
    const read = await withToken.app.inject({ method: 'GET', url: '/messages' });
    assert.equal(read.statusCode, 200);
    assert.deepEqual((read.json() as { logging: Array<{ id: string }> }).logging.map((e) => e.id), [id]);

    const { service: without } = buildFacade(t, engine, { name: 'facade-no-token', 'request-deadline-ms': '2000' });
    await without.directory.refresh();
    const refused = await post(without.app, 'no token');
    assert.equal(refused.statusCode, 503, refused.payload);
    assert.match((refused.json() as { message: string }).message, /answered 401/);
    assert.equal(await log.size(), 1, 'only the message sent with the token was stored');
  });
});
