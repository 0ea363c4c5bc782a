import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runExperiment } from '../../src/cli/demo.js';
import { consumedByInstance, countBy, http, logged, postJson, startTestTopology, until, type Entry, type TestTopology } from '../helpers/cluster-env.js';

const ATTEMPT_TIMEOUT_MS = 1000;

describe('whole system on the embedded engine (real processes)', () => {
  let t: TestTopology;
  before(async () => {
    t = await startTestTopology({
      engine: 'embedded',
      serviceArgs: { facade: ['--attempt-timeout-ms', String(ATTEMPT_TIMEOUT_MS), '--registry-refresh-ms', '200'] },
      extraArgs: ['--registry-ttl-ms', '1500'],
    });
  });
  after(async () => t?.close());

  it("the lab's experiment: msg1..msg10 each logged once and consumed once", async () => {
    const rows = await runExperiment(t.facade, 10, 'msg');
    const logNames = t.topo.byService('logging').map((p) => p.name);
    const msgNames = t.topo.byService('messages').map((p) => p.name);
    for (const r of rows) {
      assert.ok(logNames.includes(r.loggedBy), `${r.msg} logged by ${r.loggedBy}`);
      assert.ok(msgNames.includes(r.consumedBy), `${r.msg} consumed by ${r.consumedBy}`);
    }
    const ids = new Set(rows.map((r) => r.id));
    const log = (await logged(t)).filter((e) => ids.has(e.id));
    assert.equal(log.length, 10, 'each message logged exactly once');
    assert.deepEqual(log.map((e) => e.msg), rows.map((r) => r.msg), 'log keeps arrival order');
    const consumed = [...(await consumedByInstance(t)).values()].flat().filter((e) => ids.has(e.id));
    assert.equal(consumed.length, 10, 'each message consumed exactly once across instances');
    assert.equal(new Set(consumed.map((e) => e.id)).size, 10);
    // Each logging instance printed one line per message it logged.
    // (Log output is buffered for up to 100 ms.)
    const printed = (r: (typeof rows)[number]) => (t.lines.get(r.loggedBy) ?? []).filter((l) => l.includes(r.id) && l.includes('logged message')).length;
    await until('log lines written', async () => rows.every((r) => printed(r) > 0));
    for (const r of rows) assert.equal(printed(r), 1, `${r.loggedBy} printed one line for ${r.msg}`);
    console.log(`distribution — logged: ${JSON.stringify(Object.fromEntries(countBy(rows, (r) => r.loggedBy)))}, consumed: ${JSON.stringify(Object.fromEntries(countBy(rows, (r) => r.consumedBy)))}`);
  });

  it('GET /messages answers both parts; text/plain answers the lab form', async () => {
    const r = await http<{ logging: Entry[]; messages: Entry[]; messagesInstance: string }>(`${t.facade}/messages`);
    assert.equal(r.status, 200);
    assert.ok(r.body.logging.length >= 10);
    assert.ok(t.topo.byService('messages').some((p) => p.name === r.body.messagesInstance));
    const txt = await http<string>(`${t.facade}/messages`, { headers: { accept: 'text/plain' } });
    assert.equal(txt.status, 200);
    assert.match(txt.body, /^== logging \(logging-\d+\) ==\n/);
    assert.match(txt.body, /\n== messages \(messages-\d+\) ==\n/);
    assert.ok(txt.body.includes('\nmsg1\n'));
  });

  it('paged reads: walking ?limit pages gives the full read, for both parts', async () => {
    const full = await http<{ logging: Entry[]; messages: Entry[]; messagesInstance: string }>(`${t.facade}/messages`);
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const r = await http<{ logging: Entry[]; next?: string }>(`${t.facade}/messages?limit=3${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      assert.equal(r.status, 200);
      assert.ok(r.body.logging.length <= 3);
      assert.equal(r.headers.get('x-next-cursor') ?? undefined, r.body.next);
      seen.push(...r.body.logging.map((e) => e.id));
      after = r.body.next;
      pages++;
    } while (after);
    assert.deepEqual(seen, full.body.logging.map((e) => e.id));
    assert.ok(pages >= 4);
    // The messages part pages through one instance's store with its own cursor
    // (the instance holding more: 10+ messages were consumed, so it has 5 or more).
    const holdings = await consumedByInstance(t);
    const [name, all] = [...holdings.entries()].sort((x, y) => y[1].length - x[1].length)[0]!;
    const inst = t.topo.procs.get(name)!;
    assert.ok(all.length >= 5);
    const first = await http<Entry[]>(`${inst.url}/messages?limit=2`);
    assert.deepEqual(first.body.map((e) => e.id), all.slice(0, 2).map((e) => e.id));
    const second = await http<Entry[]>(`${inst.url}/messages?limit=2&after=${first.headers.get('x-next-cursor')}`);
    assert.deepEqual(second.body.map((e) => e.id), all.slice(2, 4).map((e) => e.id));
    const bad = await http<{ error: string }>(`${t.facade}/messages?limit=0`);
    assert.equal(bad.status, 400);
  });

  it('every bad input gets a 4xx JSON error, nothing is stored, nobody crashes', async () => {
    const before = (await logged(t)).length;
    const cases: Array<[string, RequestInit, number]> = [
      ['invalid JSON', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"msg": ' }, 400],
      ['msg is a number', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"msg": 5}' }, 400],
      ['msg empty', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"msg": ""}' }, 400],
      ['msg missing', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text": "x"}' }, 400],
      ['array body', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["x"]' }, 400],
      ['empty text body', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' }, 400],
      ['unsupported content type', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<msg>x</msg>' }, 415],
      ['body over 64 KiB', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msg: 'x'.repeat(70_000) }) }, 413],
      ['wrong method', { method: 'DELETE' }, 405],
    ];
    for (const [what, init, status] of cases) {
      const r = await http<{ error: string; message: string }>(`${t.facade}/messages`, init);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body.error, 'string', `${what} has error`);
      assert.ok(r.body.message.length > 5, `${what} says what was wrong`);
    }
    const nf = await http<{ error: string }>(`${t.facade}/nowhere`);
    assert.equal(nf.status, 404);
    assert.equal(nf.body.error, 'Not Found');
    assert.equal((await logged(t)).length, before, 'nothing stored from bad input');
    for (const p of t.topo.procs.values()) assert.ok(t.topo.isRunning(p.name), `${p.name} still running`);
  });

  it('any Unicode round-trips byte for byte through log and consumer', async () => {
    const text = 'Привіт, світе! 👋🏽 <img src=x onerror=alert(1)> & "quotes" \\ 𝔘𝔫𝔦';
    const r = await postJson(`${t.facade}/messages`, { msg: text });
    assert.equal(r.status, 201);
    const plain = await http<{ id: string }>(`${t.facade}/messages`, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'текст 🙂' });
    assert.equal(plain.status, 201);
    const entry = (await logged(t)).find((e) => e.id === r.body.id);
    assert.equal(entry?.msg, text);
    assert.equal((await logged(t)).find((e) => e.id === plain.body.id)?.msg, 'текст 🙂');
    const consumed = await until('consumed', async () => [...(await consumedByInstance(t)).values()].flat().find((e) => e.id === r.body.id));
    assert.equal(consumed.msg, text);
  });

  it('Idempotency-Key: a repeat returns the same id and stores nothing twice', async () => {
    const key = `key-${Date.now()}`;
    const a = await postJson(`${t.facade}/messages`, { msg: 'once only' }, { 'idempotency-key': key });
    const b = await postJson(`${t.facade}/messages`, { msg: 'once only' }, { 'idempotency-key': key });
    assert.equal(a.status, 201);
    assert.ok(b.status === 200 || b.status === 201);
    assert.equal(b.body.id, a.body.id);
    assert.equal((await logged(t)).filter((e) => e.msg === 'once only').length, 1);
    await until('consumed', async () => [...(await consumedByInstance(t)).values()].flat().some((e) => e.id === a.body.id));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal([...(await consumedByInstance(t)).values()].flat().filter((e) => e.id === a.body.id).length, 1);
  });

  it('kill -9 one logging instance: POSTs keep succeeding, none slower than one attempt timeout plus a little', async () => {
    const victim = t.topo.byService('logging')[0]!.name;
    await t.topo.signal(victim, 'SIGKILL');
    const times: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await postJson(`${t.facade}/messages`, { msg: `after-kill-${i}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      times.push(r.ms);
      ids.push(r.body.id);
    }
    const worst = Math.max(...times);
    console.log(`after kill -9 ${victim}: 30/30 accepted, slowest ${worst.toFixed(0)} ms`);
    assert.ok(worst < ATTEMPT_TIMEOUT_MS + 500, `slowest POST ${worst} ms`);
    const log = await logged(t);
    for (const id of ids) {
      const e = log.find((x) => x.id === id);
      assert.ok(e && e.loggedBy !== victim, 'logged by a live instance');
    }
    await t.topo.startProc(victim);
  });

  it('kill -9 one messages instance: the other consumes everything; restarted, it still holds what it had', async () => {
    // The victim is the instance holding more, so there is something to keep across the restart.
    const holdings = await consumedByInstance(t);
    const [victim, survivor] = t.topo.byService('messages').sort((a, b) => (holdings.get(b.name)?.length ?? 0) - (holdings.get(a.name)?.length ?? 0));
    const held = holdings.get(victim!.name)!;
    await t.topo.signal(victim!.name, 'SIGKILL');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await postJson(`${t.facade}/messages`, { msg: `while-down-${i}` })).body.id);
    const got = await until('survivor consumed all 20', async () => {
      const mine = (await http<Entry[]>(`${survivor!.url}/messages`)).body;
      const ok = ids.every((id) => mine.some((e) => e.id === id));
      return ok ? mine : undefined;
    });
    assert.ok(ids.every((id) => got.find((e) => e.id === id)?.consumedBy === survivor!.name));
    await t.topo.startProc(victim!.name);
    const after = (await http<Entry[]>(`${victim!.url}/messages`)).body;
    assert.ok(held.length > 0, 'the victim had consumed something before');
    assert.deepEqual(after.slice(0, held.length).map((e) => e.id), held.map((e) => e.id), 'restart keeps what it consumed');
  });
});
