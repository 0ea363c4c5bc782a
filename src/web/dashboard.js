// @ts-check
// hazel-lab live dashboard. Plain browser JavaScript, no build step; type-checked
// against the facade's contracts (src/contracts/dashboard.ts) by tsconfig.web.json.
// Rule: data from the services is only ever put into the page as text
// (textContent / text nodes), never as HTML.
'use strict';

/** @typedef {import('../contracts/dashboard.js').DashboardState} DashboardState */
/** @typedef {import('../contracts/dashboard.js').DashboardInstance} DashboardInstance */
/** @typedef {import('../contracts/dashboard.js').DashboardEntry} DashboardEntry */
/** @typedef {import('../contracts/dashboard.js').DashboardEvent} DashboardEvent */
/** @typedef {import('../contracts/dashboard.js').FacadePostResponse} FacadePostResponse */
/** @typedef {import('../contracts/dashboard.js').FacadeReadResponse} FacadeReadResponse */
/** @typedef {import('../contracts/dashboard.js').ErrorResponse} ErrorResponse */
/** @typedef {import('../contracts/trace.js').MessageTraceResponse} MessageTraceResponse */
/** @typedef {import('../contracts/trace.js').TraceSpan} TraceSpan */
/** @typedef {import('../contracts/console.js').ConsoleState} ConsoleState */
/** @typedef {import('../contracts/console.js').ConsoleEvent} ConsoleEvent */
/** @typedef {import('../contracts/console.js').ConsoleAnswer} ConsoleAnswer */
/** @typedef {import('../contracts/console.js').ClusterNodeCard} ClusterNodeCard */
/** @typedef {import('../contracts/console.js').ScenarioStep} ScenarioStep */
/** @typedef {import('../contracts/console.js').ScenarioName} ScenarioName */
/** @typedef {import('../contracts/queue-info.js').QueueDetails} QueueDetails */
/** @typedef {import('../contracts/queue-info.js').KafkaQueueDetails} KafkaQueueDetails */
/** @typedef {{ text: string, kind: 'owner' | 'backup' | 'leader' | 'controller' | 'out' | 'info' }} Mark */
/** @typedef {'logging' | 'messages'} Shown */

(() => {
  /**
   * The page's element with this id; the page and this script ship together, so a missing one is a bug.
   * @param {string} id
   * @returns {HTMLElement}
   */
  const $ = (id) => {
    const el = document.getElementById(id);
    if (!el) throw new Error(`#${id} is missing from the page`);
    return el;
  };
  /**
   * @template {HTMLElement} T
   * @param {string} id
   * @param {{ new (): T }} type
   * @returns {T}
   */
  const $as = (id, type) => {
    const el = $(id);
    if (!(el instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
    return el;
  };
  /** @param {unknown} err */
  const messageOf = (err) => (err instanceof Error ? err.message : String(err));
  const MAX_MINE = 12;

  /** Sent from this page, newest first. @type {Array<{ id: string, msg: string }>} */
  const mine = [];
  /** @type {string | null} */
  let latestId = null;
  /** @type {DashboardState | null} */
  let lastState = null;

  /**
   * Creates an element. Children: nodes, or strings that become text nodes.
   * @template {keyof HTMLElementTagNameMap} K
   * @param {K} tag
   * @param {{ className?: string, testid?: string, title?: string, dataset?: Record<string, string> } | null} props
   * @param {...(Node | string | number | null | undefined | false)} children
   * @returns {HTMLElementTagNameMap[K]}
   */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    if (props) {
      if (props.className) el.className = props.className;
      if (props.testid) el.dataset.testid = props.testid;
      if (props.title) el.title = props.title;
      if (props.dataset) for (const [k, v] of Object.entries(props.dataset)) el.dataset[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return el;
  }

  /**
   * @param {string} id
   * @param {string | number} text
   */
  function setText(id, text) {
    const el = $(id);
    if (el.textContent !== String(text)) el.textContent = String(text);
  }

  /** @param {number | null | undefined} ms */
  function age(ms) {
    if (ms === null || ms === undefined) return '—';
    if (ms < 1000) return `${(ms / 1000).toFixed(1)} s`;
    if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
    return `${Math.round(ms / 60_000)} min`;
  }

  /** @param {string | undefined} iso */
  function clock(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour12: false });
  }

  // ---- status line -------------------------------------------------------

  /**
   * @param {string} text
   * @param {'info' | 'ok' | 'error'} kind
   */
  function status(text, kind = 'info') {
    const el = $('status');
    el.textContent = text;
    el.dataset.kind = kind;
  }

  /** @param {Response} res */
  async function errorText(res) {
    let detail = '';
    try {
      /** @type {ErrorResponse | null} */
      const body = await res.json();
      detail = body && typeof body.message === 'string' ? body.message : JSON.stringify(body);
    } catch {
      detail = res.statusText;
    }
    const retry = res.headers.get('retry-after');
    return `${res.status} ${res.statusText || ''}`.trim() + (detail ? `: ${detail}` : '') + (retry ? ` (retry after ${retry} s)` : '');
  }

  // ---- sending -----------------------------------------------------------

  /**
   * @param {string} msg
   * @param {boolean} traced send a sampled W3C traceparent, so the message's path is recorded
   */
  async function send(msg, traced = false) {
    /** @type {Record<string, string>} */
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (traced) headers.traceparent = newTraceparent();
    const res = await fetch('/messages', { method: 'POST', headers, body: JSON.stringify({ msg }) });
    if (res.status !== 201 && res.status !== 200) throw new Error(await errorText(res));
    /** @type {FacadePostResponse} */
    const body = await res.json();
    mine.unshift({ id: body.id, msg });
    if (mine.length > MAX_MINE) mine.length = MAX_MINE;
    latestId = body.id;
    setText('sent-id', body.id);
    renderMine();
    if (lastState) render(lastState);
    return body.id;
  }

  /** @param {boolean} on */
  function busy(on) {
    for (const id of ['send-button', 'send-traced', 'run-lab']) $as(id, HTMLButtonElement).disabled = on;
  }

  $('send-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $as('msg-input', HTMLInputElement);
    const msg = input.value;
    if (!msg.trim()) return;
    busy(true);
    status('Sending…');
    try {
      const id = await send(msg);
      input.value = '';
      status(`Accepted: ${id}`, 'ok');
    } catch (err) {
      status(`Send failed — ${messageOf(err)}`, 'error');
    } finally {
      busy(false);
      input.focus();
    }
  });

  // ---- one message's path: "Send and trace", and the timeline ---------------

  /** A fresh sampled traceparent (version 00, random ids, flags 01). */
  function newTraceparent() {
    /** @param {number} n */
    const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
    return `00-${hex(16)}-${hex(8)}-01`;
  }

  /** @param {string} msg */
  async function sendTraced(msg) {
    busy(true);
    status('Sending (traced)…');
    try {
      const id = await send(msg, true);
      status(`Accepted (traced): ${id}`, 'ok');
      await showTrace(id, true);
    } catch (err) {
      status(`Send failed — ${messageOf(err)}`, 'error');
    } finally {
      busy(false);
    }
  }

  $('send-traced').addEventListener('click', () => {
    const input = $as('msg-input', HTMLInputElement);
    const msg = input.value;
    if (!msg.trim()) return void input.focus();
    input.value = '';
    void sendTraced(msg);
  });

  /** The message whose path is shown. @type {string | null} */
  let traceShown = null;

  /** @param {number} ms */
  const dur = (ms) => (ms < 1 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);

  /**
   * The lane a span is drawn in: its process, or "queue" for the offer and the wait in the queue.
   * @param {TraceSpan} s
   */
  const laneOf = (s) => (s.kind === 'producer' ? 'queue' : s.instance);

  /**
   * What one span says as a step of the path.
   * @param {TraceSpan} s
   */
  function stepText(s) {
    const a = s.attributes;
    const took = dur(s.end - s.start);
    if (s.kind === 'server' && s.service === 'facade') return `${s.instance} received POST /messages (answered ${a['http.response.status_code'] ?? '?'}, ${took})`;
    if (s.kind === 'client') return `${s.instance} → ${a['hazel.instance']}: attempt ${s.ok ? 'ok' : `failed (${s.error})`}, ${took}${Number(a['hazel.batch_size']) > 1 ? ` (batch of ${a['hazel.batch_size']})` : ''}`;
    if (s.name === 'log store') return `${s.instance} stored it in the log${a['hazel.created'] === false ? ' (already there)' : ''}, ${took}`;
    if (s.kind === 'producer') return `queued on ${a['messaging.system'] ?? 'the queue'} ${a['messaging.destination.name'] ?? ''}${s.ok ? '' : ` — ${s.error}`}, ${took}`;
    if (s.kind === 'consumer') return `${s.instance} received it${a['hazel.from'] ? ` (${a['hazel.from']})` : ''}${a['hazel.redelivered'] ? ' — again, after its lease' : ''}`;
    if (s.name === 'store') return `${s.instance} stored it${a['hazel.duplicate'] ? ' — duplicate, skipped' : ''}, ${took}`;
    if (s.name === 'ack') return `${s.instance} acknowledged it, ${took}${s.ok && a['hazel.ack_waits_for'] ? ` (an ack here waits for ${a['hazel.ack_waits_for']})` : ''}`;
    return `${s.instance}: ${s.name}, ${took}`;
  }

  /** @param {MessageTraceResponse} tr */
  function drawTrace(tr) {
    const spans = tr.spans;
    const t0 = Math.min(...spans.map((s) => s.start));
    const t1 = Math.max(...spans.map((s) => s.end));
    const total = Math.max(t1 - t0, 0.001);
    /** @type {string[]} */
    const lanes = [];
    const rank = (/** @type {string} */ l) => (l.startsWith('facade') ? 0 : l.startsWith('logging') ? 1 : l === 'queue' ? 2 : 3);
    for (const s of spans) if (!lanes.includes(laneOf(s))) lanes.push(laneOf(s));
    lanes.sort((x, y) => rank(x) - rank(y) || x.localeCompare(y));
    /** @param {number} at */
    const pct = (at) => `${(((at - t0) / total) * 100).toFixed(3)}%`;
    const rows = [];
    for (const lane of lanes) {
      const track = h('div', { className: 'lane-track', testid: `lane-${lane}` });
      for (const s of spans.filter((x) => laneOf(x) === lane)) {
        const bar = h('span', { className: `span-bar ${lane === 'queue' ? 'queue' : s.service}${s.ok ? '' : ' failed'}`, title: `${stepText(s)}` });
        bar.style.left = pct(s.start);
        bar.style.width = pct(t0 + (s.end - s.start));
        track.append(bar);
      }
      // The wait in the queue: from the offer to each receive.
      if (lane === 'queue') {
        const offer = spans.find((x) => x.kind === 'producer');
        for (const r of spans.filter((x) => x.kind === 'consumer' && offer && x.start >= offer.end)) {
          const wait = h('span', { className: 'span-bar queue', title: `waited ${dur(r.start - (offer ? offer.end : r.start))} in the queue` });
          wait.style.left = pct(offer ? offer.end : r.start);
          wait.style.width = pct(t0 + (r.start - (offer ? offer.end : r.start)));
          wait.style.opacity = '0.4';
          track.append(wait);
        }
      }
      rows.push(h('span', { className: 'lane-name' }, lane), track);
    }
    $('trace-lanes').replaceChildren(...rows);
    /** @type {HTMLElement[]} */
    const steps = [];
    let prev = t0;
    for (const s of spans) {
      steps.push(h('li', { className: s.ok ? '' : 'failed', testid: 'trace-step' }, stepText(s), h('span', { className: 'gap' }, `+${dur(s.start - prev)}`)));
      for (const e of s.events) steps.push(h('li', { className: 'event', testid: 'trace-event' }, `${s.instance}: ${e.name}`, h('span', { className: 'gap' }, `at +${dur(e.at - t0)}`)));
      prev = s.start;
    }
    $('trace-steps').replaceChildren(...steps);
    setText('trace-sub', `· trace ${tr.traceIds.join(', ')} · ${dur(total)} from first to last step · ${lanes.length} processes`);
  }

  /**
   * What the stores already know of an untraced message, from the lists on the page.
   * @param {string} id
   */
  function knownFacts(id) {
    /** @type {string[]} */
    const facts = [];
    /** @type {string | undefined} */
    let msg = mine.find((m) => m.id === id)?.msg;
    for (const inst of lastState ? lastState.instances : []) {
      const e = inst.messages.find((x) => x.id === id);
      if (!e) continue;
      if (msg === undefined && !e.truncated) msg = e.msg;
      facts.push(`${inst.service === 'logging' ? 'logged' : 'consumed'} by ${inst.instance}${e.at ? ` at ${clock(e.at)}` : ''}`);
    }
    if (facts.length === 0) facts.push('nothing in the lists shown now (it may be older than their newest entries)');
    return { facts, msg };
  }

  /**
   * Opens the timeline of a message. Waits (briefly) for the trace to be complete when asked.
   * @param {string} id
   * @param {boolean} [waitForAck]
   */
  async function showTrace(id, waitForAck = false) {
    traceShown = id;
    const panel = $('trace-panel');
    panel.hidden = false;
    setText('trace-id', id);
    setText('trace-sub', 'loading…');
    const deadline = Date.now() + (waitForAck ? 5000 : 0);
    /** @type {MessageTraceResponse | null} */
    let tr = null;
    for (;;) {
      const res = await fetch(`/messages/${encodeURIComponent(id)}/trace`, { headers: { accept: 'application/json' } });
      if (res.status === 200) tr = await res.json();
      else if (res.status !== 404) throw new Error(await errorText(res));
      const done = tr !== null && tr.spans.some((s) => s.name === 'ack');
      if (done || Date.now() >= deadline || traceShown !== id) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (traceShown !== id) return;
    $('trace-known').hidden = tr !== null;
    if (tr) return drawTrace(tr);
    $('trace-lanes').replaceChildren();
    $('trace-steps').replaceChildren();
    setText('trace-sub', '· not traced');
    const { facts, msg } = knownFacts(id);
    $('trace-facts').replaceChildren(...facts.map((f) => h('li', null, f)));
    const copy = $as('trace-copy', HTMLButtonElement);
    copy.disabled = msg === undefined;
    copy.title = msg === undefined ? 'the text of this message is not on the page' : '';
    copy.onclick = () => msg !== undefined && void sendTraced(msg);
  }

  $('trace-close').addEventListener('click', () => {
    traceShown = null;
    $('trace-panel').hidden = true;
  });

  // Any message in any list (cards, the facade read, the sent table) opens its path.
  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target.closest('li.msg[data-id], #mine-rows tr[data-id]') : null;
    const id = target instanceof HTMLElement ? target.dataset.id : undefined;
    if (!id) return;
    showTrace(id).catch((err) => status(`Trace failed — ${messageOf(err)}`, 'error'));
  });

  $('run-lab').addEventListener('click', async () => {
    busy(true);
    let n = 0;
    try {
      for (let i = 1; i <= 10; i++) {
        status(`Lab experiment: sending msg${i}…`);
        await send(`msg${i}`);
        n++;
      }
      status('Lab experiment: msg1..msg10 sent. Watch them spread over the instances.', 'ok');
    } catch (err) {
      status(`Lab experiment stopped after ${n} of 10 — ${messageOf(err)}`, 'error');
    } finally {
      busy(false);
    }
  });

  $('read-facade').addEventListener('click', async () => {
    status('Reading through the facade…');
    try {
      const res = await fetch('/messages', { headers: { accept: 'application/json' } });
      if (res.status !== 200) throw new Error(await errorText(res));
      /** @type {FacadeReadResponse} */
      const body = await res.json();
      const logging = Array.isArray(body.logging) ? body.logging : [];
      const messages = Array.isArray(body.messages) ? body.messages : [];
      $('read-result').hidden = false;
      setText('read-logging', body.loggingInstance || '—');
      setText('read-messages', body.messagesInstance || 'none');
      setText('read-counts', `— ${logging.length} in the log, ${messages.length} held by ${body.messagesInstance || 'no instance'}`);
      $('read-note').hidden = !body.note;
      setText('read-note', body.note || '');
      $('read-list').replaceChildren(
        ...messages
          .slice(-20)
          .reverse()
          .map((e) => entry({ id: e.id, msg: e.msg, at: e.consumedAt }, 'consumed')),
      );
      status(`Read: log from ${body.loggingInstance}, messages from ${body.messagesInstance || 'none'}.`, 'ok');
    } catch (err) {
      status(`Read failed — ${messageOf(err)}`, 'error');
    }
  });

  // ---- rendering ---------------------------------------------------------

  const mineIds = () => new Set(mine.map((m) => m.id));

  /**
   * @param {DashboardEntry} e
   * @param {string} what
   */
  function entry(e, what) {
    const classes = ['msg'];
    if (e.id === latestId) classes.push('latest');
    else if (mine.some((m) => m.id === e.id)) classes.push('own');
    return h(
      'li',
      { className: classes.join(' '), dataset: { id: e.id }, title: `${e.id}${e.at ? ` · ${what} ${clock(e.at)}` : ''}` },
      h('span', { className: 'text', testid: 'msg-text' }, e.msg + (e.truncated ? '…' : '')),
      h('span', { className: 'meta' }, e.id.slice(0, 8)),
    );
  }

  /**
   * @param {DashboardInstance} inst
   * @param {number} ttlMs
   */
  function badge(inst, ttlMs) {
    if (inst.health.status !== 'up') return h('span', { className: 'badge down', testid: 'health' }, 'down');
    if (inst.heartbeatAgeMs !== null && inst.heartbeatAgeMs > ttlMs) return h('span', { className: 'badge stale', testid: 'health' }, 'stale');
    return h('span', { className: 'badge up', testid: 'health' }, 'up');
  }

  /** What part of the history a card lists: a store's newest; a logging instance's own among the log's newest. */
  /**
   * @param {DashboardInstance} inst
   * @param {DashboardState} state
   */
  function more(inst, state) {
    if (inst.service === 'logging' && state.log.newestRead) {
      return `its ${inst.messages.length} among the log's newest ${state.log.newestRead} · ${inst.count} in all`;
    }
    return `newest ${inst.messages.length} of ${inst.count}`;
  }

  /**
   * @param {DashboardInstance} inst
   * @param {DashboardState} state
   */
  function card(inst, state) {
    const what = inst.service === 'logging' ? 'logged' : 'consumed';
    const facts = h(
      'dl',
      { className: 'facts' },
      h('div', null, h('dt', null, 'heartbeat'), h('dd', { testid: 'heartbeat' }, inst.heartbeatAgeMs === null ? '—' : `${age(inst.heartbeatAgeMs)} ago`)),
      h('div', null, h('dt', null, 'breaker'), h('dd', { testid: 'breaker', className: `breaker ${inst.breaker || 'none'}` }, inst.breaker || '—')),
      h('div', null, h('dt', null, 'probe'), h('dd', { testid: 'probe' }, inst.health.ms !== undefined ? `${inst.health.ms} ms` : '—')),
    );
    const list = h('ol', { className: 'msgs', testid: 'messages' });
    list.reversed = true;
    for (const e of inst.messages) list.append(entry(e, what));
    const body = [
      h('div', { className: 'count' }, h('strong', { testid: 'count' }, inst.count === null ? '—' : String(inst.count)), inst.count === null ? ` ${what} (unknown)` : ` ${what}`),
      inst.health.reason ? h('p', { className: 'reason', testid: 'reason' }, inst.health.reason) : null,
      inst.messagesError && !(inst.health.reason && inst.messagesError.includes(inst.health.reason))
        ? h('p', { className: 'reason', testid: 'messages-error' }, inst.messagesError)
        : null,
      inst.messages.length ? list : inst.count === 0 ? h('p', { className: 'empty' }, `Nothing ${what} yet.`) : null,
      inst.count !== null && inst.count > inst.messages.length ? h('p', { className: 'more', testid: 'more' }, more(inst, state)) : null,
    ];
    return h(
      'article',
      { className: `card ${inst.service} ${inst.health.status}${inst.registered ? '' : ' gone'}`, testid: `instance-${inst.instance}`, dataset: { instance: inst.instance, service: inst.service, health: inst.health.status } },
      h('header', null, h('h3', null, inst.instance), badge(inst, state.registry.ttlMs)),
      h('p', { className: 'url' }, inst.url || 'not registered'),
      h('div', { className: 'controls', testid: 'controls' }),
      facts,
      ...body,
    );
  }

  /**
   * One bar per instance. Logging and messages counts get a scale each: the
   * log holds this run's messages while the stores may hold many earlier
   * ones, and on one scale the smaller group would be slivers.
   */
  /**
   * @param {DashboardState} state
   * @returns {HTMLElement[]}
   */
  function chart(state) {
    const rows = state.instances.filter((i) => i.service === 'logging' || i.service === 'messages');
    if (rows.length === 0) return [h('p', { className: 'empty' }, 'No instance is registered.')];
    const out = [];
    for (const service of /** @type {const} */ (['logging', 'messages'])) {
      const xs = rows.filter((i) => i.service === service);
      if (xs.length === 0) continue;
      const max = Math.max(1, ...xs.map((i) => i.count || 0));
      out.push(
        h(
          'div',
          { className: `bar-group ${service}`, testid: `bar-group-${service}` },
          h('span', null, service === 'logging' ? 'logged by' : 'consumed by'),
          h('span', { className: 'scale', testid: 'bar-scale' }, `scale 0–${max}`),
        ),
      );
      for (const i of xs) {
        const fill = h('span', { className: 'fill' });
        fill.style.width = `${((i.count || 0) / max) * 100}%`;
        out.push(
          h(
            'div',
            { className: `bar ${service} ${i.health.status}`, testid: `bar-${i.instance}` },
            h('span', { className: 'label' }, i.instance),
            h('span', { className: 'track' }, fill),
            h('span', { className: 'value', testid: 'bar-value' }, i.count === null ? '?' : String(i.count)),
          ),
        );
      }
    }
    return out;
  }

  /** Where each message sent from this page was seen; kept once known (it never moves), so a later outage does not blank it. */
  /** @type {Record<Shown, Map<string, string>>} */
  const seenAt = { logging: new Map(), messages: new Map() };
  function renderMine() {
    const table = $('mine-table');
    table.hidden = mine.length === 0;
    const ids = mineIds();
    if (lastState) {
      for (const inst of lastState.instances) {
        if (inst.service !== 'logging' && inst.service !== 'messages') continue;
        const at = seenAt[inst.service];
        for (const e of inst.messages) if (ids.has(e.id)) at.set(e.id, inst.instance);
      }
    }
    const logged = seenAt.logging;
    const consumed = seenAt.messages;
    $('mine-rows').replaceChildren(
      ...mine.map((m) =>
        h(
          'tr',
          { dataset: { id: m.id }, className: m.id === latestId ? 'latest' : '' },
          h('td', { className: 'text', title: m.id }, m.msg),
          h('td', { testid: 'logged-by' }, logged.get(m.id) || '…'),
          h('td', { testid: 'consumed-by' }, consumed.get(m.id) || '…'),
        ),
      ),
    );
  }

  /**
   * Cards are kept between updates and rebuilt only when what they show
   * changed, so a list keeps its scroll position and hover; the ticking
   * numbers (heartbeat age, probe time) are updated in place.
   */
  /** @type {Map<string, { el: HTMLElement, sig: string }>} */
  const cards = new Map();
  /**
   * @param {Element} el
   * @param {string} testid
   * @param {string} text
   */
  function setIn(el, testid, text) {
    const target = el.querySelector(`[data-testid="${testid}"]`);
    if (target) target.textContent = text;
  }
  /**
   * @param {DashboardInstance} inst
   * @param {DashboardState} state
   */
  function upsertCard(inst, state) {
    const key = `${inst.service}/${inst.instance}`;
    const stale = inst.heartbeatAgeMs !== null && inst.heartbeatAgeMs > state.registry.ttlMs;
    const sig = JSON.stringify([inst.health.status, inst.health.reason, stale, inst.breaker, inst.count, inst.messagesError, inst.registered, inst.url, inst.messages.map((e) => e.id), latestId, mine.length]);
    const had = cards.get(key);
    if (had && had.sig === sig) {
      setIn(had.el, 'heartbeat', inst.heartbeatAgeMs === null ? '—' : `${age(inst.heartbeatAgeMs)} ago`);
      setIn(had.el, 'probe', inst.health.ms !== undefined ? `${inst.health.ms} ms` : '—');
      instanceControls(had.el, inst.instance, state.console);
      return had.el;
    }
    const el = card(inst, state);
    instanceControls(el, inst.instance, state.console);
    const oldList = had && had.el.querySelector('.msgs');
    const newList = el.querySelector('.msgs');
    if (oldList && newList) requestAnimationFrame(() => (newList.scrollTop = oldList.scrollTop));
    cards.set(key, { el, sig });
    return el;
  }

  /**
   * @param {HTMLElement} parent
   * @param {HTMLElement[]} children
   */
  function setChildren(parent, children) {
    const same = parent.children.length === children.length && children.every((c, i) => parent.children[i] === c);
    if (!same) parent.replaceChildren(...children);
  }

  /** @param {DashboardState} state */
  function render(state) {
    lastState = state;
    /** @type {Record<Shown, DashboardInstance[]>} */
    const groups = { logging: [], messages: [] };
    for (const inst of state.instances) if (inst.service === 'logging' || inst.service === 'messages') groups[inst.service].push(inst);
    const seen = new Set(state.instances.map((i) => `${i.service}/${i.instance}`));
    for (const key of cards.keys()) if (!seen.has(key)) cards.delete(key);
    for (const service of /** @type {const} */ (['logging', 'messages'])) {
      const xs = groups[service];
      const el = $(`${service}-columns`);
      if (xs.length) setChildren(el, xs.map((i) => upsertCard(i, state)));
      else el.replaceChildren(h('p', { className: 'empty' }, `No ${service} instance is registered.`));
      if (el.parentElement) el.parentElement.style.flexGrow = String(Math.max(1, xs.length));
      setText(`n-${service}`, xs.filter((i) => i.registered).length);
    }
    $('chart').replaceChildren(...chart(state));
    const depth = $('queue-depth');
    depth.textContent = state.queue.depth === null ? 'n/a' : String(state.queue.depth);
    depth.title = state.queue.error || '';
    // The cards below draw the cluster; the header keeps one short line of it.
    const d = state.queue.details;
    const about = state.queue.about || [];
    setText(
      'queue-about',
      d && d.kind === 'hazelcast'
        ? about.slice(-1).join('')
        : d && d.kind === 'kafka'
          ? `topic ${d.topic}: ${d.partitions.length} partitions · group ${d.group} lag ${d.totalLag}${d.unconsumed.length ? ` · ${d.unconsumed.length} partition(s) without a live consumer` : ''}`
          : about.join(' · '),
    );
    const waiting = (state.cluster && state.cluster.waiting) || [];
    setText('cluster-waiting', waiting.join(' · '));
    $('cluster-waiting').hidden = waiting.length === 0;
    setText('total-logged', state.log.total === null ? 'n/a' : state.log.total);
    // A messages instance that does not answer: its store is unknown, so the total is a lower bound.
    const consumed = groups.messages.reduce((n, i) => n + (i.count || 0), 0);
    setText('total-consumed', groups.messages.some((i) => i.count === null) ? `≥ ${consumed}` : consumed);
    const notes = [`Updated ${clock(state.at)}`, `snapshot ${state.tookMs} ms`];
    if (state.log.readFrom) notes.push(`log read from ${state.log.readFrom}`);
    if (state.log.error) notes.push(`log: ${state.log.error}`);
    if (state.registry.error) notes.push(`registry: ${state.registry.error}`);
    setText('footer-text', notes.join(' · '));
    renderMine();
    renderConsole(state);
  }


  // ---- the lab console: controls, scenarios, the launcher's output --------

  const TOKEN_KEY = 'hazel-lab console token';
  const tokenInput = $as('console-token', HTMLInputElement);
  tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || '';
  tokenInput.addEventListener('change', () => sessionStorage.setItem(TOKEN_KEY, tokenInput.value));

  /**
   * Sends one action to the launcher through the facade.
   * @param {string} command
   * @param {string} target
   */
  async function act(command, target) {
    status(`${command} ${target}…`);
    try {
      /** @type {Record<string, string>} */
      const headers = { 'content-type': 'application/json', accept: 'application/json', 'x-lab-console': '1' };
      if (lastState && lastState.console.tokenRequired && tokenInput.value) headers['x-console-token'] = tokenInput.value;
      const res = await fetch('/console/actions', { method: 'POST', headers, body: JSON.stringify({ command, target }) });
      if (res.status !== 202 && res.status !== 409) throw new Error(await errorText(res));
      /** @type {ConsoleAnswer} */
      const answer = await res.json();
      status(answer.accepted ? `${answer.action}: started — follow it in the lab console` : `${answer.action}: refused — ${answer.message}`, answer.accepted ? 'info' : 'error');
    } catch (err) {
      status(`${command} ${target} failed — ${messageOf(err)}`, 'error');
    }
  }

  /**
   * A row of action buttons.
   * @param {Array<{ command: string, target: string, label?: string, enabled: boolean, danger?: boolean }>} buttons
   */
  function buttonRow(buttons) {
    return buttons.map((b) => {
      const el = h('button', { className: `act${b.danger ? ' danger' : ''}`, testid: `action-${b.command}`, title: `${b.command} ${b.target}` }, b.label || b.command);
      el.type = 'button';
      el.disabled = !b.enabled;
      el.addEventListener('click', () => void act(b.command, b.target));
      return el;
    });
  }

  /**
   * The stop / kill / start buttons of an instance card, rebuilt only when what they allow changed.
   * @param {HTMLElement} el
   * @param {string} name
   * @param {ConsoleState} c
   */
  function instanceControls(el, name, c) {
    const box = el.querySelector('[data-testid="controls"]');
    if (!(box instanceof HTMLElement)) return;
    const p = c.view ? c.view.processes.find((x) => x.name === name) : undefined;
    const sig = JSON.stringify([c.enabled, !!p, p && p.running, c.view && c.view.busy]);
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    if (!c.enabled || !p) return void box.replaceChildren();
    const free = !(c.view && c.view.busy);
    box.replaceChildren(
      ...buttonRow([
        { command: 'stop', target: name, enabled: free && p.running },
        { command: 'kill', target: name, enabled: free && p.running, danger: true },
        { command: 'start', target: name, enabled: free && !p.running },
      ]),
    );
  }

  /**
   * What the queue's describe data says of one member or broker: owner and
   * backup of the queue, partitions led, replicas out of sync.
   * @param {ClusterNodeCard} n
   * @param {QueueDetails | undefined} d
   * @returns {Mark[]}
   */
  function marksOf(n, d) {
    /** @type {Mark[]} */
    const marks = [];
    if (!d) return marks;
    if (d.kind === 'hazelcast' && n.kind === 'member') {
      if (d.owner === n.number) marks.push({ text: 'owns the queue', kind: 'owner' });
      if (d.backup === n.number) marks.push({ text: 'holds its backup', kind: 'backup' });
      else if (d.backupAmong.includes(n.number)) marks.push({ text: 'may hold its backup', kind: 'info' });
    }
    if (d.kind === 'kafka' && n.kind === 'broker') {
      const b = d.brokers.find((x) => x.id === n.number);
      if (b && b.controller) marks.push({ text: 'active controller', kind: 'controller' });
      const leads = d.partitions.filter((p) => p.leader === n.number).map((p) => p.partition);
      if (leads.length) marks.push({ text: `leads p${leads.join(', p')} (${leads.length} of ${d.partitions.length})`, kind: 'leader' });
      const out = d.partitions.filter((p) => p.outOfSync.includes(n.number)).map((p) => p.partition);
      if (out.length) marks.push({ text: `out of sync on p${out.join(', p')}`, kind: 'out' });
    }
    return marks;
  }

  /**
   * The cards: the launcher's (with its controls) or, without a launcher, the
   * members or brokers the queue's describe data lists.
   * @param {ConsoleState} c
   * @param {QueueDetails | undefined} d
   * @returns {ClusterNodeCard[]}
   */
  function clusterNodes(c, d) {
    if (c.view && c.view.nodes.length) {
      // Owner and leaders come from the describe data when there is one (the launcher's own readings would repeat
      // them); the active controller only the launcher knows.
      const fromDetails = d && (d.kind === 'hazelcast' || d.kind === 'kafka');
      return c.view.nodes.map((n) => (fromDetails ? { ...n, roles: n.roles.filter((r) => r !== 'owns the queue' && !/^leads /.test(r)) } : n));
    }
    if (d && d.kind === 'hazelcast') {
      return d.members.map((m) => ({ kind: /** @type {const} */ ('member'), number: m.number, name: `member-${m.number}`, address: m.address, up: m.up, roles: [], facts: [] }));
    }
    if (d && d.kind === 'kafka') {
      return d.brokers.map((b) => ({ kind: /** @type {const} */ ('broker'), number: b.id, name: `broker-${b.id}`, address: b.address || 'not listed', up: b.up, roles: [], facts: [] }));
    }
    return [];
  }

  /**
   * Each partition: its leader, each replica in sync or not (a broker down is
   * marked so), its lag; then the group's consumers and the partitions no live
   * consumer reads.
   * @param {KafkaQueueDetails} d
   */
  function kafkaPanel(d) {
    const down = new Set(d.brokers.filter((b) => !b.up).map((b) => b.id));
    const rows = d.partitions.map((p) =>
      h(
        'tr',
        { testid: `partition-${p.partition}`, dataset: { leader: String(p.leader), isr: p.isr.join(','), outOfSync: p.outOfSync.join(',') } },
        h('td', null, `p${p.partition}`),
        h('td', { className: p.leader < 0 ? 'bad' : '' }, p.leader < 0 ? 'no leader' : `broker-${p.leader}${p.leader !== p.preferredLeader ? ` (preferred broker-${p.preferredLeader})` : ''}`),
        h(
          'td',
          { className: 'replicas' },
          ...p.replicas.map((r) => {
            const inSync = p.isr.includes(r);
            return h(
              'span',
              { className: `replica ${inSync ? 'in-sync' : 'out-of-sync'}${down.has(r) ? ' down' : ''}${r === p.leader ? ' leader' : ''}`, title: `broker-${r}: ${inSync ? 'in sync' : 'out of sync'}${down.has(r) ? ', down' : ''}${r === p.leader ? ', leader' : ''}` },
              `${r}${r === p.leader ? '★' : ''}${inSync ? '' : down.has(r) ? ' down' : ' behind'}`,
            );
          }),
        ),
        h('td', { className: 'num' }, String(p.lag)),
      ),
    );
    const now = Date.now();
    return [
      h(
        'table',
        { className: 'partitions', testid: 'partitions' },
        h('thead', null, h('tr', null, h('th', null, 'partition'), h('th', null, 'leader'), h('th', null, 'replicas (★ leader)'), h('th', null, 'lag'))),
        h('tbody', null, ...rows),
      ),
      h(
        'ul',
        { className: 'consumers', testid: 'consumers' },
        h('li', { className: 'head' }, `group ${d.group} (${d.groupState.toLowerCase()}), lag ${d.totalLag}${d.unassignedLag ? `, ${d.unassignedLag} on partitions no consumer holds` : ''}`),
        ...(d.consumers.length
          ? d.consumers.map((m) => h('li', { testid: `consumer-${m.clientId}`, dataset: { lag: String(m.lag) } }, `${m.clientId}: lag ${m.lag}, partitions ${m.partitions.join(', ') || 'none'}`))
          : [h('li', null, 'no consumer')]),
      ),
      h(
        'p',
        { className: d.unconsumed.length ? 'unconsumed bad' : 'unconsumed', testid: 'unconsumed' },
        d.unconsumed.length
          ? `no live consumer: ${d.unconsumed.map((u) => `p${u.partition} (${u.why}, ${u.lag} waiting, for ${Math.max(0, Math.round((now - u.since) / 1000))} s)`).join('; ')}`
          : 'every partition has a live consumer',
      ),
    ];
  }

  /**
   * A member's or broker's card.
   * @param {ClusterNodeCard} n
   * @param {ConsoleState} c
   * @param {Mark[]} [marks]
   */
  function nodeCard(n, c, marks = []) {
    const free = c.enabled && !!c.view && !c.view.busy;
    const k = n.kind;
    /** @type {Array<{ command: string, target: string, label?: string, enabled: boolean, danger?: boolean }>} */
    const buttons = [
      { command: `stop-${k}`, target: String(n.number), label: 'stop', enabled: free && n.up },
      { command: `kill-${k}`, target: String(n.number), label: 'kill', enabled: free && n.up, danger: true },
      { command: `start-${k}`, target: String(n.number), label: 'start', enabled: free && !n.up },
    ];
    if (k === 'member') {
      buttons.push(
        { command: 'stop-pair', target: String(n.number), label: 'stop pair', enabled: free && n.up },
        { command: 'start-pair', target: String(n.number), label: 'start pair', enabled: free && !n.up },
      );
    }
    return h(
      'article',
      { className: `card node ${k} ${n.up ? 'up' : 'down'}`, testid: `node-${n.name}`, dataset: { up: String(n.up), roles: n.roles.join(','), marks: marks.map((m) => m.kind).join(',') } },
      h('header', null, h('h3', null, n.name), h('span', { className: `badge ${n.up ? 'up' : 'down'}`, testid: 'health' }, n.up ? 'up' : 'down')),
      h('p', { className: 'url' }, n.address),
      marks.length ? h('p', { className: 'marks', testid: 'marks' }, ...marks.map((m) => h('span', { className: `mark ${m.kind}` }, m.text))) : null,
      n.roles.length ? h('p', { className: 'roles', testid: 'roles' }, ...n.roles.map((r) => h('span', { className: 'role' }, r))) : null,
      ...n.facts.map((f) => h('p', { className: 'fact' }, f)),
      c.enabled ? h('div', { className: 'controls', testid: 'controls' }, ...buttonRow(buttons)) : null,
    );
  }

  let consoleSig = '';
  /** @param {DashboardState} state */
  function renderConsole(state) {
    const c = state.console;
    const v = c.view;
    const d = state.queue.details;
    // "for N s" of a partition without a live consumer moves on even when nothing else changes.
    const sig = JSON.stringify([c, d, d && d.kind === 'kafka' && d.unconsumed.length ? Math.floor(Date.now() / 1000) : 0]);
    if (sig === consoleSig) return;
    consoleSig = sig;
    const panel = $('console');
    panel.dataset.enabled = String(c.enabled);
    setText('console-reason', c.enabled ? (v ? `${v.engine}${v.queue === 'kafka' ? ' + kafka' : ''} · ${c.reason}` : 'waiting for the launcher…') : `no controls: ${c.reason}`);
    $('token-box').hidden = !c.tokenRequired;
    setText('console-busy', v && v.busy ? `running: ${v.busy}` : 'idle');
    // Safe or not, before anyone kills something: the members' own word (the describe data), else the launcher's.
    const safe = $('cluster-safe');
    if (d && d.kind === 'hazelcast') {
      safe.hidden = false;
      const up = d.members.filter((m) => m.up).length;
      safe.textContent = d.safe
        ? `cluster safe: ${up} of ${d.members.length} member(s) up, backups in sync`
        : `cluster NOT safe: ${d.migrationsPending ? `${d.migrationsPending} migration(s) pending` : 'no member says it is safe'}; a crash now can lose data`;
      safe.dataset.safe = String(d.safe);
    } else {
      safe.hidden = !(v && v.cluster);
      if (v && v.cluster) {
        safe.textContent = `cluster ${v.cluster.text}`;
        safe.dataset.safe = String(v.cluster.safe);
      }
    }
    const free = c.enabled && !!v && !v.busy;
    $('scenarios').replaceChildren(
      ...(c.enabled && v
        ? v.scenarios.map((name) => {
            const b = h('button', { className: 'primary scenario', testid: `scenario-${name}` }, SCENARIO_LABELS[name]);
            b.type = 'button';
            b.disabled = !free;
            b.addEventListener('click', () => void act('scenario', name));
            return b;
          })
        : []),
    );
    const nodes = clusterNodes(c, d);
    $('cluster-group').hidden = nodes.length === 0;
    if (nodes.length) {
      setText('cluster-kind', nodes.every((n) => n.kind === 'member') ? 'Hazelcast members' : nodes.every((n) => n.kind === 'broker') ? 'Kafka brokers' : 'Members and brokers');
      setText('cluster-note', v && v.nodes.length ? 'as the launcher sees its processes, marked as the cluster describes the queue' : 'as the cluster describes the queue');
      $('cluster-columns').replaceChildren(...nodes.map((n) => nodeCard(n, c, marksOf(n, d))));
    }
    $('queue-details').replaceChildren(...(d && d.kind === 'kafka' ? kafkaPanel(d) : []));
  }

  /** @type {Record<ScenarioName, string>} */
  const SCENARIO_LABELS = { msgs: 'msg1..msg10', lab4: 'lab 4', 'map-durability': 'map durability', 'fail-over': 'fail-over' };

  /** @param {string} text */
  function logLine(text) {
    const log = $('console-log');
    log.append(h('li', null, text));
    while (log.children.length > 200) log.firstElementChild?.remove();
    log.scrollTop = log.scrollHeight;
  }

  /** @param {ScenarioStep} step */
  function stepItem(step) {
    const time = step.ms !== undefined ? `${(step.ms / 1000).toFixed(1)} s` : '…';
    return h(
      'li',
      { className: `step ${step.state}`, dataset: { n: String(step.n), state: step.state } },
      h('span', { className: 'title' }, step.title),
      h('span', { className: 'time', testid: 'step-time' }, time),
      step.detail ? h('span', { className: 'detail' }, step.detail) : null,
    );
  }

  /** @param {ConsoleEvent} e */
  function onConsoleEvent(e) {
    switch (e.kind) {
      case 'begin':
        logLine(`▶ ${e.action}${e.source === 'page' ? ' (from a page)' : ' (typed)'}`);
        if (e.action.startsWith('scenario ')) {
          const name = /** @type {ScenarioName} */ (e.action.slice(9));
          setText('scenario-title', `Running: ${SCENARIO_LABELS[name] || name}`);
          $('scenario-steps').replaceChildren();
          const v = $('verdict');
          v.hidden = true;
          v.replaceChildren();
        }
        break;
      case 'line':
        for (const l of e.text.split('\n')) logLine(l);
        break;
      case 'step': {
        const list = $('scenario-steps');
        const item = stepItem(e.step);
        const had = list.querySelector(`li[data-n="${e.step.n}"]`);
        if (had) had.replaceWith(item);
        else list.append(item);
        break;
      }
      case 'verdict': {
        const v = $('verdict');
        v.hidden = false;
        v.dataset.ok = String(e.verdict.ok);
        v.replaceChildren(
          h('strong', { testid: 'verdict-summary' }, `${e.verdict.ok ? '✔' : '✘'} ${e.verdict.summary}`),
          h('ul', null, ...e.verdict.lines.map((l) => h('li', null, l))),
        );
        setText('scenario-title', `${SCENARIO_LABELS[e.scenario] || e.scenario}: ${e.verdict.ok ? 'passed' : 'did not pass'}`);
        break;
      }
      case 'end':
        logLine(`${e.ok ? '✔' : '✘'} ${e.action} ${e.ok ? 'done' : 'failed'} in ${(e.ms / 1000).toFixed(1)} s`);
        break;
    }
  }

  // ---- live updates: server-sent events, polling as the fallback ----------

  /**
   * @param {'live' | 'polling' | 'down'} kind
   * @param {string} text
   */
  function connection(kind, text) {
    $('connection').dataset.state = kind;
    setText('conn-text', text);
  }

  /** @type {ReturnType<typeof setTimeout> | null} */
  let pollTimer = null;
  async function poll() {
    try {
      const res = await fetch('/dashboard/state', { headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(await errorText(res));
      /** @type {DashboardState} */
      const state = await res.json();
      render(state);
      connection('polling', 'polling');
    } catch (err) {
      connection('down', 'facade unreachable');
      $('connection').title = messageOf(err);
    }
    pollTimer = setTimeout(poll, 2000);
  }

  function live() {
    if (typeof EventSource !== 'function') return void poll();
    const es = new EventSource('/dashboard/events');
    let failures = 0;
    es.addEventListener('state', (ev) => {
      failures = 0;
      /** @type {DashboardEvent} */
      const state = JSON.parse(ev.data);
      if ('error' in state) return connection('down', `state unavailable: ${state.error}`);
      render(state);
      connection('live', 'live');
    });
    es.addEventListener('console', (ev) => {
      /** @type {ConsoleEvent} */
      const e = JSON.parse(ev.data);
      onConsoleEvent(e);
    });
    es.addEventListener('error', () => {
      failures++;
      connection('down', 'reconnecting…');
      // A proxy that breaks event streams: fall back to polling.
      if (failures >= 5 && pollTimer === null) {
        es.close();
        void poll();
      }
    });
  }

  live();
})();
