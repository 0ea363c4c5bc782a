/**
 * The launcher's one command shell, fed by the terminal and by the dashboard:
 * actions come from the facade over its console channel, each is answered at
 * once (taken, or refused while another runs), and everything the shell
 * prints, each scenario step and each verdict go to the terminal and back to
 * the facade, which pushes them to the page. The launcher's view of its
 * processes, members and brokers (up or down, who owns the queue, who leads
 * what) is sent to the facade whenever it changes.
 */
import type { ClusterNodeCard, ConsoleEvent, FacadeToLauncher, LauncherToFacade, LauncherView, ScenarioName } from '../contracts/console.js';
import { actionText, parseConsoleAction } from '../contracts/console.js';
import { isSafe, type MemberHealth } from '../engine/hazelcast/cluster.js';
import { runScenario, scenariosFor } from '../scenarios/index.js';
import { topologyActions } from '../scenarios/topology-actions.js';
import type { Topology } from '../topology/topology.js';
import { CommandShell, type CommandShellOptions } from './commands.js';

export interface LauncherConsoleOptions extends Pick<CommandShellOptions, 'queueOwner' | 'kafkaQueue' | 'waiting'> {
  /** Where the terminal's lines go. */
  out: (line: string) => void;
  /** How often the view is refreshed; the cluster questions (owner, health, leaders) every second time. Default 1000. */
  refreshMs?: number;
}

export class LauncherConsole {
  readonly shell: CommandShell;
  private readonly offMessages: () => void;
  private timer: NodeJS.Timeout | undefined;
  private lastSent = '';
  private lastSentAt = 0;
  private ticks = 0;
  private asking = false;
  private owner: number | undefined;
  private leads = new Map<number, number>();
  private partitions = 0;
  private health: MemberHealth | undefined;
  private readonly scenarios: ScenarioName[];
  private closed = false;

  constructor(
    private readonly topo: Topology,
    private readonly opts: LauncherConsoleOptions,
  ) {
    const actions = topologyActions(topo, opts.queueOwner ? { queueOwner: async () => (await opts.queueOwner!()).owner } : {});
    this.scenarios = scenariosFor(actions);
    this.shell = new CommandShell(topo, opts.out, {
      ...(opts.queueOwner ? { queueOwner: opts.queueOwner } : {}),
      ...(opts.kafkaQueue ? { kafkaQueue: opts.kafkaQueue } : {}),
      ...(opts.waiting ? { waiting: opts.waiting } : {}),
      onEvent: (e) => this.event(e),
      scenario: (name, report) => runScenario(name, actions, report),
      scenarios: this.scenarios,
    });
    this.offMessages = topo.onFacadeMessage((m) => this.message(m));
    const every = opts.refreshMs ?? 1000;
    const tick = () => {
      if (this.closed) return;
      void this.refresh().finally(() => {
        if (!this.closed) this.timer = setTimeout(tick, every);
      });
    };
    tick();
  }

  /** A line typed in the terminal. */
  submit(line: string): Promise<void> {
    return this.shell.submit(line, 'terminal');
  }

  private send(m: LauncherToFacade): void {
    this.topo.sendToFacade(m);
  }

  private event(e: ConsoleEvent): void {
    this.send({ type: 'console-event', event: e });
    // Begin and end change what the page may press.
    if (e.kind === 'begin' || e.kind === 'end') this.pushView(true);
  }

  private message(raw: unknown): void {
    const m = raw as FacadeToLauncher;
    if (typeof m !== 'object' || m === null || m.type !== 'console-action' || typeof m.requestId !== 'number') return;
    // The facade checked it; checked again here, the launcher trusting no one with its processes.
    const action = parseConsoleAction(m.action);
    const answer =
      typeof action === 'string' ? { accepted: false, action: '', message: action } : this.shell.offer(actionText(action));
    this.send({ type: 'console-answer', requestId: m.requestId, answer });
  }

  /** The view now, from what the launcher knows of its processes and what the cluster last said. */
  view(): LauncherView {
    const t = this.topo;
    const nodes: ClusterNodeCard[] = [];
    const c = t.cluster;
    if (c) {
      c.addresses.forEach((address, i) => {
        const up = c.member(i).running;
        nodes.push({
          kind: 'member',
          number: i + 1,
          name: `member-${i + 1}`,
          address,
          up,
          roles: this.owner === i && t.opts.queue !== 'kafka' ? ['owns the queue'] : [],
          facts: [`paired with ${t.byService('logging')[i]?.name ?? 'no logging instance'}`],
        });
      });
    }
    const k = t.kafka;
    if (k) {
      const controller = k.activeController();
      k.bootstrap.forEach((address, i) => {
        const b = k.broker(i);
        const roles: string[] = [];
        if (b.nodeId === controller) roles.push('active controller');
        const n = this.leads.get(i) ?? 0;
        if (b.running && n > 0) roles.push(`leads ${n} of ${this.partitions} partitions`);
        nodes.push({ kind: 'broker', number: i + 1, name: `broker-${i + 1}`, address, up: b.running && b.started, roles, facts: b.running && !b.started ? ['starting'] : [] });
      });
    }
    const view: LauncherView = {
      engine: t.opts.engine ?? 'embedded',
      queue: t.opts.queue ?? 'engine',
      processes: [...t.procs.values()].map((p) => ({ name: p.name, service: p.service, running: t.isRunning(p.name) })),
      nodes,
      busy: this.shell.busy,
      scenarios: this.scenarios,
    };
    if (c && this.health) {
      const safe = isSafe(this.health);
      view.cluster = { safe, text: safe ? `safe: ${this.health.clusterSize} member(s), backups in sync` : `NOT safe: ${this.health.migrationQueueSize} migration(s) queued; a crash now can lose data` };
    }
    return view;
  }

  private pushView(force = false): void {
    const v = JSON.stringify(this.view());
    // Resent now and then: a facade started again has not seen it.
    if (!force && v === this.lastSent && Date.now() - this.lastSentAt < 3000) return;
    this.lastSent = v;
    this.lastSentAt = Date.now();
    this.send({ type: 'console-view', view: JSON.parse(v) as LauncherView });
  }

  /** Sends the view if it changed; asks the cluster in the background (every second tick, never two at once: a dead broker can make an answer slow). */
  private async refresh(): Promise<void> {
    if (this.ticks++ % 2 === 0 && !this.asking) {
      this.asking = true;
      void Promise.all([this.askMembers(), this.askBrokers()])
        .catch(() => undefined)
        .finally(() => (this.asking = false));
    }
    this.pushView();
  }

  private async askMembers(): Promise<void> {
    const c = this.topo.cluster;
    if (!c) return;
    const running = c.addresses.map((_, i) => i).filter((i) => c.member(i).running);
    this.health = (await Promise.all(running.map((i) => c.health(i).catch(() => undefined)))).find((h) => h !== undefined);
    if (this.opts.queueOwner && this.topo.opts.queue !== 'kafka') {
      const o = await this.opts.queueOwner().catch(() => undefined);
      const i = o?.owner === undefined ? -1 : c.indexOf(o.owner);
      this.owner = i >= 0 ? i : undefined;
    }
  }

  private async askBrokers(): Promise<void> {
    const k = this.topo.kafka;
    if (!k || !k.bootstrap.some((_, i) => k.broker(i).running)) return;
    try {
      const parts = await k.partitions();
      this.partitions = parts.length;
      this.leads = new Map();
      for (const p of parts) {
        const i = p.leader < 0 ? -1 : k.indexOfNode(p.leader);
        if (i >= 0) this.leads.set(i, (this.leads.get(i) ?? 0) + 1);
      }
    } catch {
      // Leaders unknown for now (a broker just died): the cards keep the last answer.
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.offMessages();
  }
}
