/**
 * The facade's HTTP caller (undici dispatch) against a real local server.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { UndiciCaller } from '../../../src/services/facade/caller.js';
import { freePort } from '../../../src/topology/topology.js';

describe('UndiciCaller', () => {
  let server: Server;
  let base: string;
  const hanging: ServerResponse[] = [];
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  const caller = new UndiciCaller(1); // one connection: a hanging request makes the next one wait for it

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        if (req.url === '/json') {
          res.writeHead(201, { 'content-type': 'application/json; charset=utf-8', 'x-extra': 'yes' });
          res.end(JSON.stringify({ got: JSON.parse(body || 'null'), text: 'żółw ✓' }));
        } else if (req.url === '/big') {
          // Several chunks, with a multi-byte character split across writes.
          res.writeHead(200, { 'content-type': 'application/json' });
          const item = JSON.stringify('é'.repeat(10_000));
          res.write('[');
          for (let i = 0; i < 20; i++) res.write((i ? ',' : '') + item);
          res.end(']');
        } else if (req.url === '/text') {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('busy');
        } else if (req.url === '/bad-json') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{not json');
        } else if (req.url === '/hang') {
          hanging.push(res);
        } else {
          res.writeHead(404).end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const r of hanging) r.destroy();
    await caller.close();
    await new Promise((r) => server.close(r));
  });

  it('sends a JSON body and parses a JSON answer, with status and headers', async () => {
    const res = await caller.call(base, { method: 'POST', path: '/json', body: { id: 'a', msg: 'żółw' }, headers: { 'x-correlation-id': 'c1' } });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { got: { id: 'a', msg: 'żółw' }, text: 'żółw ✓' });
    assert.equal(res.headers['x-extra'], 'yes');
    const req = seen.at(-1)!;
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-correlation-id'], 'c1');
  });

  it('raw keeps JSON as text; a body in many chunks arrives whole', async () => {
    const raw = await caller.call(base, { method: 'GET', path: '/json', raw: true });
    assert.equal(typeof raw.body, 'string');
    const big = await caller.call(base, { method: 'GET', path: '/big' });
    assert.equal((big.body as string[]).length, 20);
    assert.ok((big.body as string[]).every((s) => s === 'é'.repeat(10_000)));
  });

  it('a non-JSON answer stays text; a broken JSON answer rejects', async () => {
    const res = await caller.call(base, { method: 'GET', path: '/text' });
    assert.deepEqual([res.status, res.body], [503, 'busy']);
    await assert.rejects(caller.call(base, { method: 'GET', path: '/bad-json' }), SyntaxError);
  });

  it('an abort settles the call at once, also while it waits for the only connection', async () => {
    const first = new AbortController();
    const p1 = caller.call(base, { method: 'GET', path: '/hang', signal: first.signal });
    const second = new AbortController();
    const p2 = caller.call(base, { method: 'GET', path: '/json', signal: second.signal }); // queued behind /hang
    const reason = new DOMException('no answer in 50 ms', 'TimeoutError');
    setTimeout(() => second.abort(reason), 50);
    const t0 = Date.now();
    await assert.rejects(p2, (e) => e === reason);
    assert.ok(Date.now() - t0 < 1000);
    first.abort(new Error('stop waiting'));
    await assert.rejects(p1, /stop waiting/);
    // The connection is usable again afterwards.
    assert.equal((await caller.call(base, { method: 'GET', path: '/json' })).status, 201);
  });

  it('an already aborted signal rejects without sending', async () => {
    const n = seen.length;
    const ac = new AbortController();
    ac.abort(new Error('too late'));
    await assert.rejects(caller.call(base, { method: 'GET', path: '/json', signal: ac.signal }), /too late/);
    assert.equal(seen.length, n);
  });

  it('with an internal token, every call carries it in x-internal-token; without one, none is sent', async () => {
    const withToken = new UndiciCaller(1, '0123456789abcdef0123');
    try {
      await withToken.call(base, { method: 'POST', path: '/json', body: { id: 't' } });
      assert.equal(seen.at(-1)!.headers['x-internal-token'], '0123456789abcdef0123');
      await withToken.call(base, { method: 'GET', path: '/text' });
      assert.equal(seen.at(-1)!.headers['x-internal-token'], '0123456789abcdef0123');
    } finally {
      await withToken.close();
    }
    await caller.call(base, { method: 'GET', path: '/text' });
    assert.equal(seen.at(-1)!.headers['x-internal-token'], undefined);
  });

  it('a refused connection rejects with ECONNREFUSED', async () => {
    const port = await freePort();
    const other = new UndiciCaller(1);
    try {
      await assert.rejects(other.call(`http://127.0.0.1:${port}`, { method: 'GET', path: '/' }), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED');
    } finally {
      await other.close();
    }
  });
});
