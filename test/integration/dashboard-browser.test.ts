/**
 * The dashboard in a real browser (Debian's chromium driven by
 * playwright-core) against a topology of real processes: 1 facade,
 * 3 logging, 2 messages on the embedded engine.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { consumedByInstance, http, logged, startTestTopology, until, type TestTopology } from '../helpers/cluster-env.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOT = join(ROOT, 'test-artifacts', 'dashboard.png');
const TIMELINE_SHOT = join(ROOT, 'test-artifacts', 'trace-timeline.png');
// docs/dashboard.png shows the lab console under the launcher: test/integration/console-browser.test.ts makes it.
const XSS = '<img src=x onerror=alert(1)>';
// Long enough that a SIGKILLed instance is still listed (and probed as down) for a while.
const REGISTRY_TTL_MS = 8000;

const missing = !existsSync(CHROMIUM);
const skip = missing && process.env.CI !== 'true' ? `${CHROMIUM} is missing: install it (apt-get install chromium) to run the browser test` : false;
if (skip) console.log(`# dashboard browser test skipped: ${skip}`);

describe('dashboard in a real browser', { skip, timeout: 180_000 }, () => {
  let t: TestTopology;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const requests: string[] = [];

  before(async () => {
    assert.ok(!missing, `CI=true but ${CHROMIUM} is missing; the CI job must install Debian's chromium (apt-get install chromium)`);
    t = await startTestTopology({
      engine: 'embedded',
      serviceArgs: { facade: ['--registry-refresh-ms', '200'] },
      extraArgs: ['--registry-ttl-ms', String(REGISTRY_TTL_MS)],
    });
    const home = await http<string>(`${t.facade}/`);
    assert.equal(home.status, 200, `the facade does not serve the dashboard at / (${home.status}); is the dashboard plugin registered in src/services/facade/index.ts, and dist/ rebuilt?`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(15_000);
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    page.on('request', (r) => requests.push(r.url()));
  });

  after(async () => {
    await browser?.close();
    await t?.close();
  });

  const card = (instance: string) => page.locator(`[data-testid="instance-${instance}"]`);
  const entryIn = (instance: string, id: string) => card(instance).locator(`li[data-id="${id}"]`);

  /** Sends through the page's form; answers the id the page shows. */
  async function sendFromPage(msg: string): Promise<string> {
    const before = await page.locator('[data-testid="sent-id"]').textContent();
    await page.locator('[data-testid="msg-input"]').fill(msg);
    await page.locator('[data-testid="send-button"]').click();
    await page.waitForFunction((prev) => {
      const s = document.querySelector('[data-testid="sent-id"]')?.textContent;
      return s && s !== prev && /^[0-9a-f-]{36}$/.test(s);
    }, before);
    return (await page.locator('[data-testid="sent-id"]').textContent())!;
  }

  /** Who logged and who consumed the id, from the services themselves. */
  async function whoGot(id: string): Promise<{ loggedBy: string; consumedBy: string }> {
    return until(`${id} logged and consumed`, async () => {
      const loggedBy = (await logged(t)).find((e) => e.id === id)?.loggedBy;
      const holders = [...(await consumedByInstance(t))].filter(([, xs]) => xs.some((e) => e.id === id)).map(([name]) => name);
      if (!loggedBy || holders.length === 0) return undefined;
      assert.equal(holders.length, 1, `${id} consumed by exactly one instance (${holders.join(', ')})`);
      return { loggedBy, consumedBy: holders[0]! };
    });
  }

  /** The entry shows under exactly the instances that hold it, as the text sent. */
  async function assertShownUnder(id: string, msg: string, who: { loggedBy: string; consumedBy: string }) {
    for (const inst of [who.loggedBy, who.consumedBy]) {
      const el = entryIn(inst, id);
      await el.waitFor();
      assert.equal(await el.locator('[data-testid="msg-text"]').textContent(), msg, `text under ${inst}`);
    }
    assert.equal(await page.locator(`.card li[data-id="${id}"]`).count(), 2, 'shown under one logging and one messages instance, nowhere else');
    const row = page.locator(`[data-testid="mine-table"] tr[data-id="${id}"]`);
    await page.waitForFunction(
      ([rowId, l, c]) => {
        const tr = document.querySelector(`[data-testid="mine-table"] tr[data-id="${rowId}"]`);
        return tr?.querySelector('[data-testid="logged-by"]')?.textContent === l && tr?.querySelector('[data-testid="consumed-by"]')?.textContent === c;
      },
      [id, who.loggedBy, who.consumedBy] as const,
    );
    assert.equal(await row.locator('td').first().textContent(), msg);
  }

  it('opens with every instance up, live', async () => {
    await page.goto(`${t.facade}/`);
    assert.equal(await page.title(), 'hazel-lab · live dashboard');
    assert.equal(await page.locator('h1').textContent(), 'hazel-lab');
    const names = [...t.topo.byService('logging'), ...t.topo.byService('messages')].map((p) => p.name);
    for (const name of names) {
      await page.locator(`[data-testid="instance-${name}"][data-health="up"]`).waitFor();
      assert.equal(await card(name).locator('[data-testid="health"]').textContent(), 'up');
    }
    assert.equal(await page.locator('[data-testid="logging-columns"] .card').count(), 3);
    assert.equal(await page.locator('[data-testid="messages-columns"] .card').count(), 2);
    await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
    assert.match((await page.locator('[data-testid="queue-depth"]').textContent())!, /^\d+$/);
    // This facade has no launcher console: the page has no controls, and says why.
    await page.locator('[data-testid="console"][data-enabled="false"]').waitFor();
    assert.match((await page.locator('[data-testid="console-reason"]').textContent())!, /^no controls: started alone/);
    assert.equal(await page.locator('[data-testid="action-kill"], [data-testid="scenarios"] button').count(), 0);
    // Without a launcher the page still shows where the queue lives, from the facade's own engine's describe().
    await page.waitForFunction(() => /^queue \S+: file \S+engine\.db, depth \d+, leased \d+$/.test(document.querySelector('[data-testid="queue-about"]')?.textContent ?? ''));
    assert.deepEqual(pageErrors, []);
  });

  it('a message sent from the form shows under the logging instance that logged it and the messages instance that consumed it', async () => {
    const msg = `hello from the browser ${Date.now()}`;
    const id = await sendFromPage(msg);
    assert.match((await page.locator('[data-testid="status"]').textContent())!, /Accepted/);
    const who = await whoGot(id);
    await assertShownUnder(id, msg, who);
    // The counts on the cards and in the chart are the services' own.
    await until('counts match the services', async () => {
      const log = await logged(t);
      const mine = log.filter((e) => e.loggedBy === who.loggedBy).length;
      const onCard = Number(await card(who.loggedBy).locator('[data-testid="count"]').textContent());
      const onBar = Number(await page.locator(`[data-testid="bar-${who.loggedBy}"] [data-testid="bar-value"]`).textContent());
      return onCard === mine && onBar === mine;
    });
  });

  it('message text is shown as text: markup shows literally and runs nothing', async () => {
    const id = await sendFromPage(XSS);
    const who = await whoGot(id);
    await assertShownUnder(id, XSS, who);
    // The facade's read shows it too, as text, when the messages instance it asked holds it.
    await page.locator('[data-testid="read-facade"]').click();
    await page.waitForFunction(() => /^Read: /.test(document.querySelector('[data-testid="status"]')?.textContent ?? ''));
    const readFrom = await page.locator('[data-testid="read-messages-instance"]').textContent();
    const inRead = page.locator(`[data-testid="read-list"] li[data-id="${id}"] [data-testid="msg-text"]`);
    assert.equal(await inRead.count(), readFrom === who.consumedBy ? 1 : 0, `read from ${readFrom}, consumed by ${who.consumedBy}`);
    if (readFrom === who.consumedBy) assert.equal(await inRead.textContent(), XSS);
    // Give an injected handler every chance to fire.
    await page.waitForTimeout(700);
    assert.equal(await page.evaluate(() => document.querySelectorAll('img').length), 0, 'no <img> element was created');
    assert.deepEqual(dialogs, [], 'no dialog fired');
    assert.ok(!requests.some((u) => new URL(u).pathname === '/x'), 'the browser never fetched the img src');
    const html = await entryIn(who.loggedBy, id).locator('[data-testid="msg-text"]').innerHTML();
    assert.equal(html, '&lt;img src=x onerror=alert(1)&gt;');
  });

  it('the lab experiment and the read through the facade', async () => {
    await page.locator('[data-testid="run-lab"]').click();
    await page.waitForFunction(() => /msg1\.\.msg10 sent/.test(document.querySelector('[data-testid="status"]')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const log = await until('msg1..msg10 logged and consumed', async () => {
      const all = await logged(t);
      const lab = all.filter((e) => /^msg\d+$/.test(e.msg));
      const consumed = [...(await consumedByInstance(t)).values()].flat().filter((e) => /^msg\d+$/.test(e.msg));
      return lab.length === 10 && consumed.length === 10 ? all : undefined;
    });
    // Every lab message is on the page under its logging instance.
    for (const e of log.filter((x) => /^msg\d+$/.test(x.msg))) await entryIn(e.loggedBy!, e.id).waitFor();
    await page.waitForFunction((n) => document.querySelector('[data-testid="total-logged"]')?.textContent === String(n), log.length);

    await page.locator('[data-testid="read-facade"]').click();
    await page.waitForFunction(() => /^Read: /.test(document.querySelector('[data-testid="status"]')?.textContent ?? ''));
    const shown = (await page.locator('[data-testid="read-messages-instance"]').textContent())!;
    assert.ok(
      t.topo.byService('messages').some((p) => p.name === shown),
      `the read names the messages instance that answered (${shown})`,
    );
    const readFrom = await page.locator('[data-testid="read-logging-instance"]').textContent();
    assert.ok(
      t.topo.byService('logging').some((p) => p.name === readFrom),
      `the read names the logging instance that answered (${readFrom})`,
    );
    assert.deepEqual(pageErrors, []);

    await page.waitForTimeout(1200); // one more push, so every card shows the final state
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`# screenshot: ${SCREENSHOT}`);
  });

  it('at 1280 px every label on the cards shows whole, and logging and consumed counts each have their own scale', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    try {
      await page.waitForFunction(() => document.querySelectorAll('.card .facts dt').length > 0);
      const cut = await page.evaluate(() =>
        [...document.querySelectorAll('.card .facts dt, .card .facts dd')].filter((el) => el.scrollWidth > el.clientWidth).map((el) => `${el.closest('.card')?.getAttribute('data-instance')}: ${el.textContent}`),
      );
      assert.deepEqual(cut, [], 'labels and values cut or running over');
      const overlapping = await page.evaluate(() => {
        const out: string[] = [];
        for (const card of document.querySelectorAll('.card')) {
          const boxes = [...card.querySelectorAll('.facts > div')].map((d) => d.getBoundingClientRect());
          for (let i = 0; i < boxes.length; i++)
            for (let j = i + 1; j < boxes.length; j++) {
              const [a, b] = [boxes[i]!, boxes[j]!];
              if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) out.push(`${card.getAttribute('data-instance')}: facts ${i} and ${j}`);
            }
        }
        return out;
      });
      assert.deepEqual(overlapping, []);
      // The busiest instance of each group fills its track, whatever the other group counts.
      for (const service of ['logging', 'messages']) {
        await page.waitForFunction((s) => {
          const ratios = [...document.querySelectorAll(`.bar.${s}`)].map((b) => b.querySelector('.fill')!.getBoundingClientRect().width / b.querySelector('.track')!.getBoundingClientRect().width);
          return ratios.length > 0 && Math.max(...ratios) > 0.97;
        }, service);
        const values = (await page.locator(`.bar.${service} [data-testid="bar-value"]`).allTextContents()).map(Number);
        assert.equal(await page.locator(`[data-testid="bar-group-${service}"] [data-testid="bar-scale"]`).textContent(), `scale 0–${Math.max(1, ...values)}`);
      }
      await page.screenshot({ path: join(dirname(SCREENSHOT), 'dashboard-1280.png'), fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1440, height: 900 });
    }
  });

  /** The page, opened and live (these tests also run alone, with --test-name-pattern). */
  async function opened(): Promise<void> {
    if (!page.url().startsWith(t.facade)) await page.goto(`${t.facade}/`);
    await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
  }

  it('a message sent with "Send and trace": clicking it shows a timeline with the facade, logging and messages lanes', async () => {
    await opened();
    await page.locator('[data-testid="msg-input"]').fill('trace me');
    await page.locator('[data-testid="send-traced"]').click();
    await page.waitForFunction(() => /^Accepted \(traced\): [0-9a-f-]{36}$/.test(document.querySelector('[data-testid="status"]')?.textContent ?? ''));
    const id = (await page.locator('[data-testid="sent-id"]').textContent())!;
    const { loggedBy, consumedBy } = await whoGot(id);
    // Close what "Send and trace" opened, then open it again by clicking the message where it was consumed.
    await page.locator('[data-testid="trace-close"]').click();
    await entryIn(consumedBy, id).click();
    const panel = page.locator('[data-testid="trace-panel"]');
    await panel.locator('[data-testid="lane-facade-1"], [data-testid^="lane-facade"]').first().waitFor();
    assert.equal(await panel.locator('[data-testid="trace-message-id"]').textContent(), id);
    for (const lane of [loggedBy, 'queue', consumedBy]) await panel.locator(`[data-testid="lane-${lane}"]`).waitFor();
    const steps = await panel.locator('[data-testid="trace-step"]').allTextContents();
    assert.ok(steps.some((x) => x.includes(`${loggedBy} stored it in the log`)), steps.join('\n'));
    assert.ok(steps.some((x) => x.includes(`${consumedBy} acknowledged it`)), steps.join('\n'));
    assert.equal(await panel.locator('[data-testid="trace-known"]').isHidden(), true);
    mkdirSync(dirname(TIMELINE_SHOT), { recursive: true });
    await panel.screenshot({ path: TIMELINE_SHOT });
  });

  it('a message sent without tracing: the panel says what the stores know and offers a traced copy', async () => {
    await opened();
    const id = await sendFromPage('not traced');
    const { consumedBy } = await whoGot(id);
    await entryIn(consumedBy, id).click();
    const known = page.locator('[data-testid="trace-known"]');
    await known.waitFor();
    await page.waitForFunction(() => (document.querySelector('[data-testid="trace-facts"]')?.textContent ?? '').includes('consumed by'));
    assert.match((await page.locator('[data-testid="trace-facts"]').textContent())!, new RegExp(`consumed by ${consumedBy}`));
    await page.locator('[data-testid="trace-copy"]').click();
    await page.waitForFunction(() => /^Accepted \(traced\)/.test(document.querySelector('[data-testid="status"]')?.textContent ?? ''));
    await page.locator('[data-testid^="lane-messages"]').first().waitFor();
  });

  it('the API docs at /docs render the facade\'s operations, with nothing refused by the page\'s CSP', async () => {
    const docs = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    docs.on('pageerror', (e) => errors.push(e.message));
    docs.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    try {
      await docs.goto(`${t.facade}/docs`);
      assert.equal(new URL(docs.url()).pathname, '/docs/', '/docs leads to the page');
      const post = docs.locator('.opblock-post', { hasText: '/messages' }).first();
      await post.waitFor({ timeout: 30_000 });
      const paths = await docs.locator('.opblock-summary-path').allTextContents();
      for (const p of ['/messages', '/instances']) assert.ok(paths.some((x) => x.replace(/\u200b/g, '') === p), `${p} listed: ${JSON.stringify(paths)}`);
      // An operation opens with its schema (Swagger UI renders it with inline styles, which the CSP allows).
      await post.locator('.opblock-summary').click();
      await post.locator('.opblock-body').waitFor();
      assert.deepEqual(errors, [], 'no script error and nothing refused by the content security policy');
    } finally {
      await docs.close();
    }
  });

  it('a killed instance shows as down with the reason; a 503 shows in the status line', async () => {
    const victim = t.topo.byService('messages')[0]!.name;
    await t.topo.signal(victim, 'SIGKILL');
    // Still in the registry until its heartbeat expires: listed, probed, down.
    await page.locator(`[data-testid="instance-${victim}"][data-health="down"]`).waitFor({ timeout: REGISTRY_TTL_MS });
    assert.equal(await card(victim).locator('[data-testid="health"]').textContent(), 'down');
    assert.match((await card(victim).locator('[data-testid="reason"]').textContent())!, /connection refused \(ECONNREFUSED\)|connection reset \(ECONNRESET\)|connection closed|no answer in time/);
    await page.screenshot({ path: join(dirname(SCREENSHOT), 'dashboard-instance-down.png'), fullPage: true });

    for (const p of t.topo.byService('logging')) await t.topo.signal(p.name, 'SIGTERM');
    await until('the facade sees no logging instance', async () => !(await http<Array<{ service: string }>>(`${t.facade}/instances`)).body.some((r) => r.service === 'logging'));
    await page.locator('[data-testid="msg-input"]').fill('nobody can log this');
    await page.locator('[data-testid="send-button"]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') === 'error');
    const line = (await page.locator('[data-testid="status"]').textContent())!;
    assert.match(line, /503/);
    assert.match(line, /no logging instance/);
    await page.locator('[data-testid="logging-columns"]').getByText('No logging instance is registered.').waitFor();
  });
});
