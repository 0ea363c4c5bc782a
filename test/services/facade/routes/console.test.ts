import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { ConsoleAction, FacadeToLauncher, LauncherToFacade, LauncherView } from '../../../../src/contracts/console.js';
import type { DashboardState } from '../../../../src/contracts/dashboard.js';
import { MemoryEngine } from '../../../../src/engine/memory/memory-engine.js';
import { messageLink } from '../../../../src/services/facade/console-link.js';
import { buildFacade, type Flags } from '../../../helpers/services.js';

const PORT = 18_080;
const TOKEN = 'a-console-token-of-32-characters';

const VIEW: LauncherView = { engine: 'embedded', queue: 'engine', processes: [], nodes: [], busy: null, scenarios: ['lab4'] };

/**
 * A launcher stand-in at the other end of the facade's console link: it
 * records every action that reaches it and accepts it, or refuses it while
 * one is "running".
 */
function fakeLauncher(view: LauncherView = VIEW) {
  const received: ConsoleAction[] = [];
  const subscribers = new Set<(m: unknown) => void>();
  let busy: string | null = null;
  const deliver = (m: LauncherToFacade) => setImmediate(() => subscribers.forEach((fn) => fn(m)));
  const link = messageLink(
    (m: FacadeToLauncher) => {
      received.push(m.action);
      const action = `${m.action.command} ${m.action.target}`;
      if (busy) {
        deliver({ type: 'console-answer', requestId: m.requestId, answer: { accepted: false, action, message: `"${busy}" is in progress` } });
        return;
      }
      busy = action;
      deliver({ type: 'console-answer', requestId: m.requestId, answer: { accepted: true, action, message: 'accepted' } });
    },
    (fn) => {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  );
  deliver({ type: 'console-view', view });
  return { link, received, done: () => (busy = null) };
}

function facade(t: TestContext, flags: Flags = {}, withLauncher = true, view?: LauncherView) {
  const launcher = fakeLauncher(view);
  const { service } = buildFacade(t, new MemoryEngine(), { port: String(PORT), ...flags }, { console: withLauncher ? launcher.link : null });
  return { app: service.app, launcher };
}

const GOOD_HEADERS = {
  host: `127.0.0.1:${PORT}`,
  origin: `http://127.0.0.1:${PORT}`,
  'sec-fetch-site': 'same-origin',
  'x-lab-console': '1',
  'content-type': 'application/json',
};

type Overrides = Record<string, string | undefined>;

function act(app: ReturnType<typeof facade>['app'], over: Overrides = {}, body: unknown = { command: 'kill', target: 'messages-5001' }, remoteAddress = '127.0.0.1') {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...GOOD_HEADERS, ...over })) if (v !== undefined) headers[k] = v;
  return app.inject({ method: 'POST', url: '/console/actions', headers, payload: typeof body === 'string' ? body : JSON.stringify(body), remoteAddress });
}

describe('console guard: who may press the controls', () => {
  test('a same-origin request from this machine with the header and an allowed action is accepted and reaches the launcher', async (t) => {
    const { app, launcher } = facade(t);
    const res = await act(app);
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(res.json(), { accepted: true, action: 'kill messages-5001', message: 'accepted' });
    assert.deepEqual(launcher.received, [{ command: 'kill', target: 'messages-5001' }]);
    // localhost and [::1] name this machine too; Origin alone (no Sec-Fetch-Site) is enough.
    launcher.done();
    const viaName = await act(app, { host: `localhost:${PORT}`, origin: `http://localhost:${PORT}`, 'sec-fetch-site': undefined });
    assert.equal(viaName.statusCode, 202, viaName.body);
    launcher.done();
    const v6 = await act(app, { host: `[::1]:${PORT}`, origin: undefined }, undefined, '::1');
    assert.equal(v6.statusCode, 202, v6.body);
  });

  const refused: Array<[string, Overrides, unknown?, string?]> = [
    ['a forged Host (DNS rebinding: evil.example resolving to 127.0.0.1)', { host: `evil.example:${PORT}`, origin: `http://evil.example:${PORT}` }],
    ['a Host naming loopback on another port', { host: '127.0.0.1:9999', origin: 'http://127.0.0.1:9999' }],
    ['a foreign Origin', { origin: 'http://evil.example', 'sec-fetch-site': undefined }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
    ['neither Origin nor Sec-Fetch-Site', { origin: undefined, 'sec-fetch-site': undefined }],
    ['no x-lab-console header (a cross-site form cannot send one)', { 'x-lab-console': undefined }],
    ['x-lab-console with another value', { 'x-lab-console': 'yes' }],
    ['a form body, not JSON', { 'content-type': 'application/x-www-form-urlencoded' }, 'command=kill&target=messages-5001'],
    ['an action not on the list', {}, { command: 'rm', target: '-rf' }],
    ['stopping the facade', {}, { command: 'stop', target: 'facade-8000' }],
    ['an unknown scenario', {}, { command: 'scenario', target: 'format-disk' }],
    ['an extra field', {}, { command: 'kill', target: 'messages-5001', shell: 'true' }],
    ['a peer that is not this machine', {}, undefined, '10.0.0.7'],
  ];
  for (const [what, over, body, peer] of refused) {
    test(`${what} → 403 with a JSON reason, and nothing reaches the launcher`, async (t) => {
      const { app, launcher } = facade(t);
      const res = await act(app, over, body, peer);
      assert.equal(res.statusCode, 403, res.body);
      assert.match(res.headers['content-type'] as string, /json/);
      assert.match(res.json().message, /console action refused: \S/);
      assert.deepEqual(launcher.received, []);
    });
  }

  test('a second action while one runs is refused with what is in progress', async (t) => {
    const { app, launcher } = facade(t);
    assert.equal((await act(app)).statusCode, 202);
    const second = await act(app, {}, { command: 'start', target: 'messages-5001' });
    assert.equal(second.statusCode, 409);
    assert.equal(second.json().accepted, false);
    assert.match(second.json().message, /"kill messages-5001" is in progress/);
    assert.equal(launcher.received.length, 2);
  });

  test('bound beyond loopback without --console-token: no controls, every action refused', async (t) => {
    const { app, launcher } = facade(t, { host: '0.0.0.0', 'internal-token': 'an-internal-token-long-enough' });
    const res = await act(app, { host: `10.0.0.5:${PORT}`, origin: `http://10.0.0.5:${PORT}` }, undefined, '10.0.0.7');
    assert.equal(res.statusCode, 403);
    assert.match(res.json().message, /beyond loopback, without --console-token/);
    const local = await act(app);
    assert.equal(local.statusCode, 403, 'not even from loopback');
    assert.deepEqual(launcher.received, []);
    const state = (await app.inject({ url: '/dashboard/state' })).json() as DashboardState;
    assert.equal(state.console.enabled, false);
    assert.match(state.console.reason, /without --console-token/);
  });

  test('bound beyond loopback with --console-token: a wrong or missing token is refused without quoting it; the right one acts', async (t) => {
    const { app, launcher } = facade(t, { host: '0.0.0.0', 'internal-token': 'an-internal-token-long-enough', 'console-token': TOKEN });
    const remote = { host: `10.0.0.5:${PORT}`, origin: `http://10.0.0.5:${PORT}` };
    const wrong = `${TOKEN.slice(0, -1)}X`;
    for (const token of [undefined, wrong, 'short', `${TOKEN}${TOKEN}`]) {
      const res = await act(app, { ...remote, 'x-console-token': token }, undefined, '10.0.0.7');
      assert.equal(res.statusCode, 403, `token ${token === undefined ? 'missing' : 'wrong'}`);
      assert.match(res.json().message, token === undefined ? /missing console token/ : /wrong console token/);
      assert.ok(!res.body.includes(TOKEN.slice(0, 8)), 'the answer never quotes the token');
      if (token) assert.ok(!res.body.includes(token), 'nor what was sent');
    }
    assert.deepEqual(launcher.received, []);
    const state = (await app.inject({ url: '/dashboard/state' })).json() as DashboardState;
    assert.equal(state.console.enabled, true);
    assert.equal(state.console.tokenRequired, true);
    assert.ok(!JSON.stringify(state).includes(TOKEN), 'the state never carries the token');
    // With the token, a foreign Origin is still refused.
    const foreign = await act(app, { ...remote, origin: 'http://evil.example', 'x-console-token': TOKEN }, undefined, '10.0.0.7');
    assert.equal(foreign.statusCode, 403);
    const ok = await act(app, { ...remote, 'x-console-token': TOKEN }, undefined, '10.0.0.7');
    assert.equal(ok.statusCode, 202, ok.body);
    assert.deepEqual(launcher.received, [{ command: 'kill', target: 'messages-5001' }]);
  });

  test('a bad --console-token stops the facade with a message that does not quote it', () => {
    assert.throws(
      () => buildFacade({ after: () => undefined } as unknown as TestContext, new MemoryEngine(), { 'console-token': 'short secret' }),
      (err: Error) => /--console-token \/ CONSOLE_TOKEN: expected at least 16 characters/.test(err.message) && !err.message.includes('short secret'),
    );
  });

  test('a facade started alone has no controls and says why; its actions are refused', async (t) => {
    const { app, launcher } = facade(t, {}, false);
    const state = (await app.inject({ url: '/dashboard/state' })).json() as DashboardState;
    assert.equal(state.console.enabled, false);
    assert.match(state.console.reason, /started alone/);
    assert.equal(state.console.view, null);
    const res = await act(app);
    assert.equal(res.statusCode, 403);
    assert.match(res.json().message, /started alone/);
    assert.deepEqual(launcher.received, []);
  });

  test('under the launcher the state carries its view', async (t) => {
    const { app } = facade(t);
    await new Promise((r) => setImmediate(r));
    const state = (await app.inject({ url: '/dashboard/state' })).json() as DashboardState;
    assert.equal(state.console.enabled, true);
    assert.deepEqual(state.console.view, VIEW);
  });

  test("an instance the launcher stopped keeps its card (not registered, down, why) so the page can start it", async (t) => {
    const view: LauncherView = { ...VIEW, processes: [{ name: 'messages-5001', service: 'messages', running: false }, { name: 'facade-8000', service: 'facade', running: true }] };
    const { app } = facade(t, {}, true, view);
    await new Promise((r) => setImmediate(r));
    const state = (await app.inject({ url: '/dashboard/state' })).json() as DashboardState;
    const card = state.instances.find((i) => i.instance === 'messages-5001');
    assert.ok(card, JSON.stringify(state.instances));
    assert.equal(card.registered, false);
    assert.deepEqual(card.health, { status: 'down', reason: 'not running: the launcher stopped it' });
    assert.ok(!state.instances.some((i) => i.instance === 'facade-8000'), 'the facade gets no card');
  });
});
