import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { http, postJson, startTestTopology, until, type TestTopology } from '../helpers/cluster-env.js';

/** Reads one sample's value from Prometheus text, summing over label sets that match. */
function metric(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = line.slice(name.length).match(/^\{(.*)\}/)?.[1] ?? '';
    if (Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) {
      sum += Number(line.split(' ').pop());
      found = true;
    }
  }
  if (!found) throw new Error(`metric ${name} ${JSON.stringify(match)} not found`);
  return sum;
}

describe('metrics, structured logs and API docs (real processes)', () => {
  let t: TestTopology;
  before(async () => {
    t = await startTestTopology({ engine: 'embedded' });
  });
  after(async () => t?.close());

  it('after N messages the counters say N', async () => {
    const N = 25;
    const before = await Promise.all(t.topo.byService('messages').map(async (p) => (await http<string>(`${p.url}/metrics`)).body));
    const consumedBefore = before.reduce((s, text) => s + metric(text, 'messages_consumed_total'), 0);
    for (let i = 0; i < N; i++) assert.equal((await postJson(`${t.facade}/messages`, { msg: `metric-${i}` })).status, 201);
    const f = (await http<string>(`${t.facade}/metrics`)).body;
    assert.equal(metric(f, 'messages_accepted_total'), N);
    assert.equal(metric(f, 'http_requests_total', { method: 'POST', route: '/messages', status: '201' }), N);
    assert.equal(metric(f, 'http_request_duration_seconds_count', { method: 'POST', route: '/messages', status: '201' }), N);
    assert.ok(metric(f, 'engine_operation_duration_seconds_count', { op: 'queue.offer' }) >= N);
    assert.ok(metric(f, 'queue_depth') >= 0);
    assert.equal(metric(f, 'facade_breaker_state'), 0, 'all breakers closed');
    const logging = await Promise.all(t.topo.byService('logging').map(async (p) => (await http<string>(`${p.url}/metrics`)).body));
    assert.equal(logging.reduce((s, text) => s + metric(text, 'log_entries_stored_total', { created: 'true' }), 0), N);
    await until('consumed', async () => {
      const texts = await Promise.all(t.topo.byService('messages').map(async (p) => (await http<string>(`${p.url}/metrics`)).body));
      return texts.reduce((s, text) => s + metric(text, 'messages_consumed_total'), 0) - consumedBefore === N;
    });
    assert.match(f, /process_resident_memory_bytes/);
    assert.match(f, /service_instance="facade-\d+"/);
  });

  it("one POST's correlation id appears in the facade's, a logging instance's and a messages instance's log lines", async () => {
    const r = await postJson(`${t.facade}/messages`, { msg: 'trace me' });
    assert.equal(r.status, 201);
    const cid = r.headers.get('x-correlation-id');
    assert.ok(cid, 'the facade answers with the correlation id');
    const linesWith = (service: string) =>
      [...t.lines.entries()]
        .filter(([name]) => name.startsWith(service))
        .flatMap(([, lines]) => lines)
        .filter((l) => l.includes(cid))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await until('consumer logged it', async () => linesWith('messages').length > 0);
    const facade = linesWith('facade');
    const logging = linesWith('logging');
    const messages = linesWith('messages');
    assert.ok(facade.some((l) => l.msg === 'accepted message' && l.id === r.body.id));
    assert.ok(logging.some((l) => l.msg === 'logged message' && l.id === r.body.id));
    assert.ok(messages.some((l) => l.msg === 'consumed message' && l.id === r.body.id));
    for (const l of [...facade, ...logging, ...messages]) assert.equal(typeof l.instance, 'string', 'every line names its instance');
    // A client-supplied correlation id is kept end to end.
    const mine = `client-trace-${Date.now()}`;
    const r2 = await postJson(`${t.facade}/messages`, { msg: 'trace mine' }, { 'x-correlation-id': mine });
    assert.equal(r2.headers.get('x-correlation-id'), mine);
    await until('consumer logged the client id', async () => linesWith('messages').length > 0 && [...t.lines.values()].flat().some((l) => l.includes(mine) && l.includes('consumed message')));

    // One that is not short and plain is replaced at the door: the fresh id travels; the sent one is in no line of any service.
    const odd = `<b>odd id</b> ${'o'.repeat(10_000)}`;
    const r3 = await postJson(`${t.facade}/messages`, { msg: 'trace odd' }, { 'x-correlation-id': odd });
    assert.equal(r3.status, 201);
    const fresh = r3.headers.get('x-correlation-id') ?? '';
    assert.match(fresh, /^[0-9a-f-]{36}$/);
    assert.equal(r3.headers.get('x-correlation-id-replaced'), 'longer than 128 characters');
    await until('consumer logged the fresh id', async () => [...t.lines.values()].flat().some((l) => l.includes(fresh) && l.includes('consumed message')));
    const leaked = [...t.lines.values()].flat().filter((l) => l.includes('odd id') || l.includes('o'.repeat(40)));
    assert.deepEqual(leaked, [], 'no log line holds the id the client sent');
  });

  it('serves the API description and docs', async () => {
    const spec = await http<{ openapi: string; paths: Record<string, unknown> }>(`${t.facade}/openapi.json`);
    assert.equal(spec.status, 200);
    assert.match(spec.body.openapi, /^3\./);
    assert.ok(spec.body.paths['/messages']);
    assert.ok(spec.body.paths['/instances']);
    const docs = await http<string>(`${t.facade}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(docs.body, /swagger/i);
    // The page's Swagger UI files, and nothing else from that folder.
    for (const src of [...docs.body.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((m) => m[1]!)) {
      const r = await fetch(`${t.facade}${src}`);
      assert.equal(r.status, 200, src);
      assert.ok((await r.arrayBuffer()).byteLength > 0, `${src} has content`);
    }
    for (const bad of ['/docs/static/package.json', '/docs/static/constructor', '/docs/static/..%2F..%2Fpackage.json']) {
      const r = await http<{ error: string }>(`${t.facade}${bad}`);
      assert.equal(r.status, 404, bad);
      assert.equal(r.body.error, 'Not Found');
    }
  });
});
