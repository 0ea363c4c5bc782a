import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, test, type TestContext } from 'node:test';
import type { HazelcastQueueDetails } from '../../../../src/contracts/queue-info.js';
import type { Engine, MessageLog, MessageQueue } from '../../../../src/engine/ports.js';
import { queueInfoLines } from '../../../../src/shared/queue-info-lines.js';
import type { CallRequest, CallResponse } from '../../../../src/services/facade/caller.js';
import { MemoryEngine } from '../../../../src/engine/memory/memory-engine.js';
import { defaultWebDir, type DashboardInstance, type DashboardOptions, type DashboardState } from '../../../../src/services/facade/routes/dashboard.js';
import type { ConsumedStore } from '../../../../src/services/messages/store.js';
import { InjectCaller, registerInstance, withQueues } from '../../../helpers/fakes.js';
import { buildFacade, buildLogging, buildMessages, startRegistered } from '../../../helpers/services.js';

const MAP = 'messages-log';
const QUEUE = 'dashboard-queue';
const urlOf = (name: string) => `http://${name}.test`;

interface Setup {
  /** Up: routed to real logging apps. */
  logging?: string[];
  /** Registered but refusing connections. */
  refusing?: string[];
  /** Up: a real messages app with a store. */
  messages?: string[];
  /** Registered but never answering. */
  hanging?: string[];
  queue?: MessageQueue;
  /** The engine's Engine.waiting (a cluster engine's); absent: an engine without a cluster. */
  waiting?: () => Promise<string[]>;
  options?: DashboardOptions;
}

/**
 * A facade built by its factory, reached through `inject`, over logging and
 * messages services built and started by theirs (so they register and are
 * ready, as the dashboard's probes expect); calls to them go through the
 * InjectCaller, which also stands in for the registered-but-broken ones.
 */
async function setup(t: TestContext, s: Setup = {}) {
  const memory = new MemoryEngine();
  // The facade's queue is the one the dashboard shows; a test may give its own.
  const engine = withCountedLogReads(
    { ...withQueues(memory, (n, own) => (n === QUEUE && s.queue ? s.queue : own)), ...(s.waiting ? { waiting: s.waiting } : {}) },
    (n) => (engineRead += n),
  );
  let engineRead = 0;
  const caller = new CountingCaller();
  const urls = new Map<string, string>();
  for (const name of s.logging ?? ['logging-1', 'logging-2']) {
    const { service } = buildLogging(t, engine, { name });
    const url = await startRegistered(service);
    urls.set(name, url);
    caller.route(url, service.app);
  }
  for (const name of s.refusing ?? []) await registerInstance(engine, 'logging', name, urlOf(name), 60_000);
  const stores = new Map<string, ConsumedStore>();
  for (const name of s.messages ?? ['messages-1']) {
    const { service } = buildMessages(t, engine, { name, 'queue-name': `q-${name}` });
    stores.set(name, service.store);
    const url = await startRegistered(service);
    urls.set(name, url);
    caller.route(url, service.app);
  }
  for (const name of s.hanging ?? []) {
    await registerInstance(engine, 'messages', name, urlOf(name), 60_000);
    caller.fail(urlOf(name), { kind: 'hang' });
  }
  const { service: facade } = buildFacade(
    t,
    engine,
    { name: 'facade-1', 'queue-name': QUEUE, 'attempt-timeout-ms': '1000', 'request-deadline-ms': '3000', 'breaker-threshold': '3', 'breaker-half-open-ms': '60000', 'registry-ttl-ms': '60000' },
    // Long enough for a loaded machine to answer a probe; the hanging instances still run into it.
    { caller, dashboard: { probeTimeoutMs: 1000, ...s.options } },
  );
  const { app, directory, policies: calls } = facade;
  await directory.refresh();
  const queue = engine.queue(QUEUE);
  /** Where an instance is called: the URL a started one registered, else its test URL. */
  const urlFor = (name: string) => urls.get(name) ?? urlOf(name);

  let n = 0;
  const logAs = async (loggedBy: string, msg: string) => {
    const id = `id-${++n}`;
    await engine.log(MAP).put({ id, msg, loggedBy, loggedAt: new Date().toISOString(), ts: Date.now() + n / 1000 });
    return id;
  };
  const consumeAs = (consumedBy: string, id: string, msg: string) => stores.get(consumedBy)!.add({ id, msg, consumedBy, consumedAt: new Date().toISOString() });
  const state = async () => {
    const res = await app.inject({ method: 'GET', url: '/dashboard/state' });
    assert.equal(res.statusCode, 200, res.payload);
    return res.json() as DashboardState;
  };
  const find = (st: DashboardState, instance: string): DashboardInstance => {
    const i = st.instances.find((x) => x.instance === instance);
    assert.ok(i, `${instance} is in the state (has: ${st.instances.map((x) => x.instance).join(', ')})`);
    return i;
  };
  /** Entries read so far: taken out of the log by the logging instances, and answered to the facade in list bodies. */
  const read = () => ({ fromLog: engineRead, answered: caller.entriesAnswered });
  return { engine: memory, caller, app, facade, directory, calls, queue, urlFor, logAs, consumeAs, state, find, read };
}

/** Counts the entries every answer carries in a list body. */
class CountingCaller extends InjectCaller {
  entriesAnswered = 0;
  override async call(baseUrl: string, req: CallRequest): Promise<CallResponse> {
    const res = await super.call(baseUrl, req);
    if (Array.isArray(res.body)) this.entriesAnswered += res.body.length;
    return res;
  }
}

/** The engine with every entry its logs hand out counted (whole reads counted as the whole log). */
function withCountedLogReads(engine: Engine, count: (n: number) => void): Engine {
  return {
    ...engine,
    kind: engine.kind,
    ping: () => engine.ping(),
    close: () => engine.close(),
    kv: (n) => engine.kv(n),
    queue: (n) => engine.queue(n),
    log: (n): MessageLog => {
      const l = engine.log(n);
      const counted = async <T>(p: Promise<T>, size: (v: T) => number) => {
        const v = await p;
        count(size(v));
        return v;
      };
      return {
        ...l,
        put: (e) => l.put(e),
        get: (id) => counted(l.get(id), (v) => (v ? 1 : 0)),
        list: () => counted(l.list(), (v) => v.length),
        listJson: () => counted(l.listJson(), (v) => (JSON.parse(v) as unknown[]).length),
        page: (limit, after) => counted(l.page(limit, after), (v) => v.entries.length),
        newest: (limit) => counted(l.newest(limit), (v) => v.length),
        size: () => l.size(),
        countByLogger: () => l.countByLogger(),
      };
    },
  };
}

describe('dashboard: page and assets', () => {
  test('the web folder resolves to <repo>/src/web from src/ and from dist/', () => {
    const root = new URL('../../../../', import.meta.url).pathname.replace(/\/$/, '');
    assert.equal(defaultWebDir(`${root}/src/services/facade`), `${root}/src/web`);
    assert.equal(defaultWebDir(`${root}/dist/services/facade`), `${root}/src/web`);
  });

  test('GET / → the page, with versioned asset links, no-cache, a strict CSP and an ETag', async (t) => {
    const { app } = await setup(t);
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
    assert.doesNotMatch(String(res.headers['content-security-policy']), /unsafe-inline/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.match(res.payload, /<title>hazel-lab/);
    assert.match(res.payload, /src="\/assets\/dashboard\.js\?v=[\w-]{8}"/);
    assert.match(res.payload, /href="\/assets\/dashboard\.css\?v=[\w-]{8}"/);
    const etag = String(res.headers.etag);
    assert.match(etag, /^"[\w-]+"$/);
    const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.payload, '');
  });

  test('GET /assets/<file> → JS and CSS with their types; a versioned URL is cached for good', async (t) => {
    const { app } = await setup(t);
    const js = await app.inject({ method: 'GET', url: '/assets/dashboard.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript; charset=utf-8/);
    assert.equal(js.headers['cache-control'], 'no-cache');
    assert.match(js.payload, /EventSource/);
    // The rule the page lives by: data never goes in as HTML.
    assert.doesNotMatch(js.payload, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    const css = await app.inject({ method: 'GET', url: '/assets/dashboard.css?v=abc' });
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers['content-type']), /^text\/css; charset=utf-8/);
    assert.equal(css.headers['cache-control'], 'public, max-age=31536000, immutable');
  });

  test("the page's script is checked: type-checked against src/contracts (tsconfig.web.json, run by npm run typecheck) and linted", async () => {
    const root = new URL('../../../../', import.meta.url);
    const js = readFileSync(new URL('src/web/dashboard.js', root), 'utf8');
    assert.match(js, /^\/\/ @ts-check\n/);
    assert.match(js, /import\('\.\.\/contracts\/dashboard\.js'\)\.DashboardState/);
    const web = JSON.parse(readFileSync(new URL('tsconfig.web.json', root), 'utf8')) as { include: string[]; compilerOptions: { checkJs?: boolean; strict?: boolean } };
    assert.deepEqual(web.include, ['src/web/*.js']);
    assert.equal(web.compilerOptions.checkJs, true);
    assert.equal(web.compilerOptions.strict, true);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.typecheck!, /tsc -p tsconfig\.web\.json/);
    const eslint = new ESLint({ cwd: fileURLToPath(root) });
    assert.equal(await eslint.isPathIgnored('src/web/dashboard.js'), false, 'ESLint checks the page');
    // The rule that keeps data out of HTML is on for the page.
    const [report] = await eslint.lintText("'use strict';\ndocument.body.innerHTML = 'x';\n", { filePath: 'src/web/dashboard.js' });
    assert.deepEqual(
      report!.messages.map((m) => m.ruleId),
      ['no-restricted-properties'],
    );
  });

  test('only the known asset names are served: traversal and other files → 404', async (t) => {
    const { app } = await setup(t);
    for (const url of [
      '/assets/..%2Fpackage.json',
      '/assets/..%2F..%2F..%2Fpackage.json',
      '/assets/%2e%2e%2fservices%2ffacade%2fdashboard.ts',
      '/assets/../../package.json',
      '/assets/..\\package.json',
      '/assets/index.html',
      '/assets/dashboard.ts',
      '/assets/constructor',
      '/assets/__proto__',
      '/assets/hasOwnProperty',
      '/assets/',
      '/src/web/dashboard.js',
      '/package.json',
    ]) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, `${url} → ${res.statusCode}`);
      assert.doesNotMatch(res.payload, /"devDependencies"|hazel-lab live dashboard|dashboardRoutes/, `${url} leaked a file`);
    }
  });

  test('missing assets: / answers 503 (without the path), the state still works', async (t) => {
    const { app } = await setup(t, { options: { webDir: '/nonexistent/web' } });
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 503);
    assert.match(res.payload, /dashboard assets are missing/);
    assert.doesNotMatch(res.payload, /nonexistent/);
    assert.equal((await app.inject({ method: 'GET', url: '/assets/dashboard.js' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/dashboard/state' })).statusCode, 200);
  });
});

describe('dashboard: state', () => {
  test('every instance with health and its messages; a down one shows as down with the reason', async (t) => {
    const c = await setup(t, { logging: ['logging-1', 'logging-2'], refusing: ['logging-3'], messages: ['messages-1'], hanging: ['messages-2'] });
    const a = await c.logAs('logging-1', 'first');
    const b = await c.logAs('logging-2', 'second');
    const x = await c.logAs('logging-1', '<img src=x onerror=alert(1)>');
    c.consumeAs('messages-1', a, 'first');
    c.consumeAs('messages-1', x, '<img src=x onerror=alert(1)>');
    await c.queue.offer({ id: 'q1', msg: 'waiting', enqueuedAt: new Date().toISOString() }, 10);

    const st = await c.state();
    assert.ok(!Number.isNaN(Date.parse(st.at)));
    assert.equal(st.queue.depth, 1);
    assert.equal(st.log.total, 3);
    assert.ok(['logging-1', 'logging-2', 'logging-3'].includes(st.log.readFrom!));
    assert.deepEqual(
      st.instances.map((i) => [i.service, i.instance]),
      [
        ['logging', 'logging-1'],
        ['logging', 'logging-2'],
        ['logging', 'logging-3'],
        ['messages', 'messages-1'],
        ['messages', 'messages-2'],
      ],
    );

    const l1 = c.find(st, 'logging-1');
    assert.equal(l1.health.status, 'up');
    assert.equal(l1.url, c.urlFor('logging-1'), 'the URL it registered');
    assert.equal(l1.breaker, 'closed');
    assert.equal(typeof l1.heartbeatAt, 'string');
    assert.ok(l1.heartbeatAgeMs! >= 0 && l1.heartbeatAgeMs! < 60_000);
    assert.equal(l1.count, 2);
    assert.deepEqual(
      l1.messages.map((e) => [e.id, e.msg]),
      [
        [x, '<img src=x onerror=alert(1)>'],
        [a, 'first'],
      ],
      'newest first, text as stored',
    );
    assert.deepEqual(
      c.find(st, 'logging-2').messages.map((e) => e.id),
      [b],
    );

    const l3 = c.find(st, 'logging-3');
    assert.equal(l3.health.status, 'down');
    assert.match(l3.health.reason!, /^connection refused \(ECONNREFUSED\)$/);
    assert.equal(l3.count, 0);

    const m1 = c.find(st, 'messages-1');
    assert.equal(m1.health.status, 'up');
    assert.equal(m1.count, 2);
    assert.deepEqual(
      m1.messages.map((e) => e.id),
      [x, a],
    );

    const m2 = c.find(st, 'messages-2');
    assert.equal(m2.health.status, 'down');
    assert.equal(m2.health.reason, 'no answer in time');
    assert.equal(m2.count, null);
    assert.match(m2.messagesError!, /no answer in time/);
    assert.equal(c.caller.hanging, 0, 'every hanging call was released by its timeout');
  });

  test('lists keep the newest 50 but counts stay full; long texts are cut', async (t) => {
    const c = await setup(t, { logging: ['logging-1'], messages: ['messages-1'] });
    for (let i = 1; i <= 60; i++) {
      const id = await c.logAs('logging-1', `m${i}`);
      c.consumeAs('messages-1', id, `m${i}`);
    }
    await c.logAs('logging-1', 'x'.repeat(5000));
    const st = await c.state();
    const l1 = c.find(st, 'logging-1');
    assert.equal(l1.count, 61);
    assert.equal(l1.messages.length, 50);
    assert.equal(l1.messages[0]!.msg.length, 300);
    assert.equal(l1.messages[0]!.truncated, true);
    assert.equal(l1.messages[1]!.msg, 'm60');
    assert.equal(l1.messages[49]!.msg, 'm12');
    const m1 = c.find(st, 'messages-1');
    assert.equal(m1.count, 60);
    assert.equal(m1.messages.length, 50);
    assert.equal(m1.messages[0]!.msg, 'm60');
  });

  test('entries of a logging instance that left the registry are shown under it, as down', async (t) => {
    const c = await setup(t, { logging: ['logging-1'] });
    await c.logAs('logging-1', 'kept');
    await c.logAs('logging-9', 'from a departed instance');
    const st = await c.state();
    const gone = c.find(st, 'logging-9');
    assert.equal(gone.registered, false);
    assert.equal(gone.health.status, 'down');
    assert.match(gone.health.reason!, /not in the registry/);
    assert.equal(gone.count, 1);
    assert.equal(gone.url, null);
    assert.equal(st.log.total, 2);
  });

  test('the queue line says where the queue lives, as the engine describes it (which member owns it, which broker leads what)', async (t) => {
    const memory = new MemoryEngine();
    const details: HazelcastQueueDetails = {
      kind: 'hazelcast',
      queue: QUEUE,
      members: [
        { number: 1, address: '127.0.0.1:5701', up: true, safe: true, migrationsPending: 0, clusterSize: 2 },
        { number: 2, address: '127.0.0.1:5702', up: true, safe: true, migrationsPending: 0, clusterSize: 2 },
        { number: 3, address: '127.0.0.1:5703', up: false },
      ],
      safe: true,
      migrationsPending: 0,
      owner: 2,
      backup: 1,
      backupAmong: [],
    };
    const described: MessageQueue = { ...memory.queue(QUEUE), describe: async () => ({ details }) };
    const c = await setup(t, { queue: described });
    const st = await c.state();
    assert.deepEqual(st.queue.details, details, 'the data, as the engine describes it, for the cards');
    assert.deepEqual(st.queue.about, queueInfoLines(details), 'and the same as lines, for readers of text');
    assert.equal(st.queue.about!.at(-1), `queue ${QUEUE}: partition owner member-2, backup member-1`);
    const { describe: _none, ...silent } = memory.queue(QUEUE);
    const plain = await setup(t, { queue: silent });
    assert.equal((await plain.state()).queue.about, undefined, 'an engine with nothing to say adds no line');
  });

  test('what the cluster waits for (a member not yet declared gone) is in the state; an engine without a cluster adds nothing', async (t) => {
    const line = 'member-2 (10.0.0.2:5701) not answering for 6 s — the cluster waits up to 8 s without a heartbeat to declare it gone; writes whose primary is there wait';
    const c = await setup(t, { waiting: async () => [line] });
    assert.deepEqual((await c.state()).cluster, { waiting: [line] });
    const calm = await setup(t, { waiting: async () => [] });
    assert.deepEqual((await calm.state()).cluster, { waiting: [] }, 'nothing waited for: an empty list');
    const failing = await setup(t, { waiting: () => Promise.reject(new Error('client offline')) });
    assert.deepEqual((await failing.state()).cluster, { waiting: ['cluster: client offline'] });
    const plain = await setup(t, {});
    assert.equal((await plain.state()).cluster, undefined);
  });

  test('nothing reachable: still 200, every part says why', async (t) => {
    const failingQueue: MessageQueue = {
      offer: async () => false,
      receive: async () => [],
      ack: async () => {},
      depth: async () => {
        throw new Error('engine unreachable');
      },
    };
    const c = await setup(t, { logging: [], refusing: ['logging-1', 'logging-2'], messages: [], hanging: ['messages-1'], queue: failingQueue });
    const st = await c.state();
    assert.deepEqual(st.queue, { depth: null, error: 'engine unreachable' });
    assert.equal(st.log.total, null);
    assert.match(st.log.error!, /ECONNREFUSED/);
    for (const i of st.instances) assert.equal(i.health.status, 'down', `${i.instance} is down`);
    assert.match(c.find(st, 'logging-1').messagesError!, /log unreadable/);
  });

  test('no instance registered at all: an empty list and a reason, not an error', async (t) => {
    const c = await setup(t, { logging: [], messages: [] });
    const st = await c.state();
    assert.deepEqual(st.instances, []);
    assert.equal(st.log.error, 'no logging instance is registered');
    assert.equal(st.queue.depth, 0);
  });

  test('concurrent viewers share one snapshot', async (t) => {
    const c = await setup(t, { logging: ['logging-1'], messages: ['messages-1'] });
    const before = c.caller.calls.length;
    await Promise.all([c.state(), c.state(), c.state(), c.state()]);
    // One snapshot: 2 health probes + the log's counts and newest entries + the store's count and newest entries.
    assert.equal(c.caller.calls.length - before, 6);
  });

  test('what a snapshot reads does not grow with the history: the same entries at 10 and at 5 000 messages', async (t) => {
    const readAt = async (n: number) => {
      const c = await setup(t, { logging: ['logging-1', 'logging-2'], messages: ['messages-1'], options: { recent: 5 } });
      for (let i = 1; i <= n; i++) {
        const id = await c.logAs(i % 2 ? 'logging-1' : 'logging-2', `m${i}`);
        c.consumeAs('messages-1', id, `m${i}`);
      }
      const before = c.read();
      const calls = c.caller.calls.length;
      const st = await c.state();
      const after = c.read();
      // What the page shows is still whole: the counts, and each card's newest.
      assert.equal(st.log.total, n);
      assert.equal(c.find(st, 'logging-1').count, n / 2);
      assert.equal(c.find(st, 'logging-2').count, n / 2);
      assert.equal(c.find(st, 'messages-1').count, n);
      assert.deepEqual(
        c.find(st, 'logging-2').messages.map((e) => e.msg),
        [n, n - 2, n - 4, n - 6, n - 8].map((i) => `m${i}`),
      );
      assert.deepEqual(
        c.find(st, 'messages-1').messages.map((e) => e.msg),
        [n, n - 1, n - 2, n - 3, n - 4].map((i) => `m${i}`),
      );
      return { fromLog: after.fromLog - before.fromLog, answered: after.answered - before.answered, calls: c.caller.calls.length - calls };
    };
    const small = await readAt(10);
    const large = await readAt(5000);
    // 10 of the log's newest (5 per logging instance) and 5 of the store's newest, however long the history.
    assert.deepEqual(small, { fromLog: 10, answered: 15, calls: 7 });
    assert.deepEqual(large, small);
  });
});

describe('dashboard: live events', () => {
  test('GET /dashboard/events pushes the state about every second; close() ends open streams', { timeout: 10_000 }, async (t) => {
    const c = await setup(t, { logging: ['logging-1'], messages: ['messages-1'], options: { pushEveryMs: 200 } });
    await c.logAs('logging-1', 'live one');
    const base = await c.app.listen({ port: 0, host: '127.0.0.1' });
    const ac = new AbortController();
    t.after(() => ac.abort());
    const res = await fetch(`${base}/dashboard/events`, { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const events: DashboardState[] = [];
    while (events.length < 3) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream stays open');
      text += value;
      let cut: number;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, cut);
        text = text.slice(cut + 2);
        if (!block.startsWith('event: state\n')) continue;
        events.push(JSON.parse(block.slice(block.indexOf('data: ') + 6)) as DashboardState);
      }
    }
    assert.equal(c.find(events[0]!, 'logging-1').messages[0]!.msg, 'live one');
    assert.ok(Date.parse(events[2]!.at) > Date.parse(events[0]!.at), 'each push is a fresh snapshot');

    // The stream never idles: close() must end it rather than wait for the viewer.
    const t0 = Date.now();
    await c.app.close();
    assert.ok(Date.now() - t0 < 2000, `close took ${Date.now() - t0} ms`);
    const end = await reader.read().catch(() => ({ done: true }));
    assert.equal(end.done, true, 'the server ended the stream');
  });
});
