/**
 * The launcher's typed commands: stop/start instances and members by hand, as
 * the lab's demonstrations do. Every command answers with what it did (or why
 * it did nothing). Commands that change something run one at a time, in the
 * order typed: a second one typed while the first still waits (a member
 * rejoining can take a minute) is told so and runs after it. `ps` and `help`
 * only read, and answer at once.
 */
import { isSafe, type LocalCluster, type MemberHealth } from '../engine/hazelcast/cluster.js';
import type { KafkaCluster } from '../engine/kafka/cluster.js';
import type { Topology } from '../topology/topology.js';
import { SCENARIO_NAMES, type ConsoleAnswer, type ConsoleEvent, type ScenarioName, type ScenarioVerdict } from '../contracts/console.js';
import type { ScenarioReport } from '../scenarios/runner.js';

/** What the commands use of a running topology. */
export type ShellTopology = Pick<Topology, 'procs' | 'byService' | 'isRunning' | 'signal' | 'startProc' | 'tail' | 'tailNames' | 'logFile'> & {
  cluster: LocalCluster | undefined;
  kafka?: KafkaCluster | undefined;
};

export interface CommandShellOptions {
  /**
   * 'host:port' of the member owning the messages queue's partition, and the
   * queue's name (Hazelcast only). Undefined owner: not known yet.
   */
  queueOwner?: () => Promise<{ queue: string; owner: string | undefined }>;
  /** What the Hazelcast cluster is waiting for (Engine.waiting): members not answering and not yet declared gone, a minority. */
  waiting?: () => Promise<string[]>;
  /** Lines on the Kafka queue (each partition's leader and in-sync replicas, the group's lag per consumer), when it is on Kafka. */
  kafkaQueue?: () => Promise<string[]>;
  /** Each action's beginning, printed lines, scenario steps and end, as they happen (the page's console). */
  onEvent?: (e: ConsoleEvent) => void;
  /** Runs one of the lab's scenarios (`scenario NAME`), reporting its steps. */
  scenario?: (name: ScenarioName, report: ScenarioReport) => Promise<ScenarioVerdict>;
  /** Scenarios this lab can run. Default: all. */
  scenarios?: readonly ScenarioName[];
}

const MUTATING = new Set(['stop', 'kill', 'start', 'stop-member', 'kill-member', 'start-member', 'stop-pair', 'start-pair', 'stop-broker', 'kill-broker', 'start-broker', 'scenario']);

const now = () => new Date().toISOString();

export class CommandShell {
  /** Commands that change something, typed and not yet finished; the first is in progress. */
  private readonly pending: string[] = [];
  private tail: Promise<void> = Promise.resolve();
  /** The action whose lines are being printed (null: a read-only command's). */
  private current: string | null = null;

  constructor(
    private readonly topo: ShellTopology,
    private readonly out: (line: string) => void,
    private readonly opts: CommandShellOptions = {},
  ) {}

  /** Prints a line in the terminal, and passes it on to the page. */
  private print(line: string): void {
    this.out(line);
    this.opts.onEvent?.({ kind: 'line', action: this.current, text: line, at: now() });
  }

  /** The action in progress, if any. */
  get busy(): string | null {
    return this.pending[0] ?? null;
  }

  /**
   * An action from the page: refused while another runs (the page is told
   * which), or when its target does not exist here; else started, and its
   * progress reported through onEvent.
   */
  offer(line: string): ConsoleAnswer {
    const input = line.trim();
    const [cmd, arg] = input.split(/\s+/);
    if (!cmd || !MUTATING.has(cmd)) return { accepted: false, action: input, message: `"${cmd ?? ''}" is not an action of the console` };
    if (this.pending.length > 0) return { accepted: false, action: input, message: `"${this.pending[0]}" is in progress; one action at a time: try again when it is done` };
    try {
      this.validate(cmd, arg);
    } catch (err) {
      return { accepted: false, action: input, message: (err as Error).message };
    }
    this.out(`(from the page) ${input}`);
    void this.submit(input, 'page');
    return { accepted: true, action: input, message: `${input}: started` };
  }

  /** Throws what is wrong with the target, as the command itself would. */
  private validate(cmd: string, arg: string | undefined): void {
    if (cmd === 'stop' || cmd === 'kill' || cmd === 'start') this.checkName(arg);
    else if (cmd.endsWith('-member')) this.member(arg);
    else if (cmd.endsWith('-pair')) {
      this.member(arg);
      this.loggingName(arg);
    } else if (cmd.endsWith('-broker')) this.broker(arg);
    else if (cmd === 'scenario') this.scenarioName(arg);
  }

  private scenarioName(name: string | undefined): ScenarioName {
    const known = this.opts.scenarios ?? SCENARIO_NAMES;
    if (!this.opts.scenario) throw new Error('no scenarios in this shell');
    if (!known.includes(name as ScenarioName)) throw new Error(`no scenario "${name ?? ''}" here; scenarios: ${known.join(', ')}`);
    return name as ScenarioName;
  }

  help(): string {
    return (
      'commands: ps | logs NAME [N] | stop NAME | kill NAME | start NAME' +
      (this.topo.kafka ? ' | stop-broker N | kill-broker N | start-broker N' : '') +
      (this.topo.cluster ? ' | stop-member I | kill-member I | start-member I | stop-pair I | start-pair I  (pair I = logging instance I with member I)' : '') +
      (this.opts.scenario ? ` | scenario ${(this.opts.scenarios ?? SCENARIO_NAMES).join('|')}` : '')
    );
  }

  /** Takes one typed line; resolves when its command has answered. */
  submit(line: string, source: 'terminal' | 'page' = 'terminal'): Promise<void> {
    const input = line.trim();
    if (!input) return Promise.resolve();
    const cmd = input.split(/\s+/)[0]!;
    if (!MUTATING.has(cmd)) return this.run(input).then(() => undefined);
    if (this.pending.length > 0) this.print(`"${this.pending[0]}" is still in progress; "${input}" runs after it`);
    this.pending.push(input);
    const next = this.tail.then(async () => {
      const t0 = Date.now();
      this.current = input;
      this.opts.onEvent?.({ kind: 'begin', action: input, source, at: now() });
      let ok = false;
      try {
        ok = await this.run(input);
      } finally {
        this.opts.onEvent?.({ kind: 'end', action: input, ok, ms: Date.now() - t0, at: now() });
        this.current = null;
        this.pending.shift();
      }
    });
    this.tail = next;
    return next;
  }

  /** Runs one command; false when it failed. */
  private async run(input: string): Promise<boolean> {
    try {
      await this.dispatch(input);
      return true;
    } catch (err) {
      this.print(`error: ${(err as Error).message}`);
      return false;
    }
  }

  private async dispatch(input: string): Promise<void> {
    const [cmd, arg, arg2] = input.split(/\s+/);
    switch (cmd) {
      case 'help':
        return this.print(this.help());
      case 'ps':
        return await this.ps();
      case 'logs':
        return this.logs(arg, arg2);
      case 'stop':
      case 'kill':
        return await this.stopProc(arg, cmd === 'stop' ? 'SIGTERM' : 'SIGKILL');
      case 'start':
        return await this.startProc(arg);
      case 'stop-member':
      case 'kill-member':
        return await this.stopMember(this.member(arg), cmd === 'stop-member' ? 'SIGTERM' : 'SIGKILL');
      case 'start-member':
        return await this.startMember(this.member(arg));
      case 'stop-pair': {
        const i = this.member(arg);
        await this.stopProc(this.loggingName(arg), 'SIGTERM');
        return await this.stopMember(i, 'SIGTERM');
      }
      case 'start-pair': {
        const i = this.member(arg);
        await this.startMember(i);
        return await this.startProc(this.loggingName(arg));
      }
      case 'stop-broker':
      case 'kill-broker':
        return await this.stopBroker(this.broker(arg), cmd === 'stop-broker' ? 'SIGTERM' : 'SIGKILL');
      case 'start-broker':
        return await this.startBroker(this.broker(arg));
      case 'scenario':
        return await this.runScenario(this.scenarioName(arg));
      default:
        return this.print(`unknown command "${cmd ?? ''}"; ${this.help()}`);
    }
  }

  private async runScenario(name: ScenarioName): Promise<void> {
    const action = `scenario ${name}`;
    const verdict = await this.opts.scenario!(name, {
      step: (step) => {
        if (step.state !== 'running') this.out(`  ${step.n}. ${step.title}: ${step.state === 'done' ? 'done' : 'FAILED'} in ${(step.ms! / 1000).toFixed(1)} s${step.detail ? ` — ${step.detail}` : ''}`);
        this.opts.onEvent?.({ kind: 'step', action, scenario: name, step, at: now() });
      },
      line: (text) => this.print(`  ${text}`),
    });
    this.out([`verdict (${name}): ${verdict.ok ? 'OK' : 'NOT OK'} — ${verdict.summary}`, ...verdict.lines.map((l) => `  ${l}`)].join('\n'));
    this.opts.onEvent?.({ kind: 'verdict', action, scenario: name, verdict, at: now() });
    if (!verdict.ok) throw new Error(`${name}: ${verdict.summary}`);
  }

  private names(): string {
    return [...this.topo.procs.keys()].join(', ') || '(none)';
  }

  private checkName(name: string | undefined): string {
    if (!name) throw new Error(`name which process; processes: ${this.names()}`);
    if (!this.topo.procs.has(name)) {
      const memberHint = /^member-\d+$/.test(name) ? ` (members: stop-member ${name.slice(7)} / start-member ${name.slice(7)})` : '';
      throw new Error(`no process named ${name}${memberHint}; processes: ${this.names()}`);
    }
    return name;
  }

  /** The last lines of a process's output (members' and brokers' are not printed as they come, only their warnings). */
  private logs(name: string | undefined, count: string | undefined): void {
    const known = [...new Set([...this.topo.procs.keys(), ...this.topo.tailNames()])];
    if (!name) throw new Error(`name which process; logs of: ${known.join(', ') || '(none)'}`);
    if (count !== undefined && !/^[1-9]\d{0,2}$/.test(count)) throw new Error(`logs ${name} N: N is how many lines, 1..999, not "${count}"`);
    const file = this.topo.logFile(name);
    if (!known.includes(name) && !file) throw new Error(`no process named ${name}; logs of: ${known.join(', ') || '(none)'}`);
    const lines = this.topo.tail(name).slice(-(count === undefined ? 20 : Number(count)));
    const where = file ? `; the whole log: ${file}` : '';
    this.print([`--- ${name}: last ${lines.length} line(s)${where}`, ...lines.map((l) => `  ${l}`)].join('\n'));
  }

  private async stopProc(name: string | undefined, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const n = this.checkName(name);
    if (!this.topo.isRunning(n)) return this.print(`${n} is not running`);
    await this.topo.signal(n, signal);
    this.print(`${n} ${signal === 'SIGTERM' ? 'stopped (SIGTERM)' : 'killed (SIGKILL)'}`);
  }

  private async startProc(name: string | undefined): Promise<void> {
    const n = this.checkName(name);
    if (this.topo.isRunning(n)) return this.print(`${n} is already running`);
    await this.topo.startProc(n);
    this.print(`${n} started and ready`);
  }

  /** Members are numbered from 1 here, as in their names (member-1 …); returns the index. */
  private member(i: string | undefined): number {
    const n = this.topo.cluster?.addresses.length ?? 0;
    if (!n) throw new Error('no Hazelcast members in this topology');
    if (!/^\d+$/.test(i ?? '') || Number(i) < 1 || Number(i) > n) throw new Error(`no member-${i ?? ''}; members are 1..${n}`);
    return Number(i) - 1;
  }

  private loggingName(i: string | undefined): string {
    const p = this.topo.byService('logging')[Number(i) - 1];
    if (!p) throw new Error(`no logging instance ${i ?? ''}; there are ${this.topo.byService('logging').length}`);
    return p.name;
  }

  /** Brokers are numbered from 1, as their KRaft node ids and names (broker-1 …); returns the index. */
  private broker(i: string | undefined): number {
    const n = this.topo.kafka?.bootstrap.length ?? 0;
    if (!n) throw new Error('no local Kafka brokers in this topology');
    if (!/^\d+$/.test(i ?? '') || Number(i) < 1 || Number(i) > n) throw new Error(`no broker-${i ?? ''}; brokers are 1..${n}`);
    return Number(i) - 1;
  }

  private async stopBroker(i: number, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const k = this.topo.kafka!;
    if (!k.broker(i).running) return this.print(`broker-${i + 1} is not running`);
    if (signal === 'SIGKILL') await k.killBroker(i);
    else await k.stopBroker(i);
    this.print(`broker-${i + 1} ${signal === 'SIGTERM' ? 'stopped (SIGTERM: leadership moved first)' : 'killed (SIGKILL: a crash; its partitions get new leaders once it is fenced, ~3 s)'}`);
  }

  private async startBroker(i: number): Promise<void> {
    const k = this.topo.kafka!;
    if (k.broker(i).running) return this.print(`broker-${i + 1} is already running`);
    const t0 = Date.now();
    await k.startBroker(i);
    this.print(`broker-${i + 1} started and back in every in-sync replica set after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  private async stopMember(i: number, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const c = this.topo.cluster!;
    if (!c.member(i).running) return this.print(`member-${i + 1} is not running`);
    if (signal === 'SIGKILL') await this.warnIfUnsafe();
    await c.killMember(i, signal);
    this.print(`member-${i + 1} ${signal === 'SIGTERM' ? 'stopped (SIGTERM: partitions handed over)' : 'killed (SIGKILL: a crash)'}`);
  }

  /** Backup-count 1 covers one crash once backups are in sync; say when that is after a member (re)joined. */
  private async startMember(i: number): Promise<void> {
    const c = this.topo.cluster!;
    if (c.member(i).running) return this.print(`member-${i + 1} is already running`);
    const t0 = Date.now();
    await c.startMember(i);
    const joined = ((Date.now() - t0) / 1000).toFixed(1);
    const t1 = Date.now();
    try {
      await c.waitForSafe(60_000);
      this.print(`member-${i + 1} joined after ${joined} s; cluster safe (backups in sync) after ${((Date.now() - t1) / 1000).toFixed(1)} s more`);
    } catch (err) {
      this.print(`member-${i + 1} joined after ${joined} s; warning: ${(err as Error).message}`);
    }
  }

  private async ps(): Promise<void> {
    const c = this.topo.cluster;
    const lines: string[] = [];
    if (c) {
      const h = await this.clusterHealth();
      c.addresses.forEach((a, i) => lines.push(`  member-${i + 1} ${a} ${c.member(i).running ? 'running' : 'stopped'}`));
      if (h) lines.push(`  cluster: ${h.clusterSize} member(s), ${isSafe(h) ? 'safe (backups in sync)' : `NOT safe yet (${h.migrationQueueSize} migration(s) queued): a crash now can lose data`}`);
    }
    if (this.opts.waiting) {
      try {
        for (const w of await this.opts.waiting()) lines.push(`  waiting: ${w}`);
      } catch (err) {
        lines.push(`  cluster: no answer (${(err as Error).message})`);
      }
    }
    if (this.opts.queueOwner) {
      try {
        const { queue, owner } = await this.opts.queueOwner();
        const i = owner === undefined ? -1 : (c?.indexOf(owner) ?? -1);
        // Right after a member died the client's partition table may still name it, until the cluster sends the new one.
        const stale = i >= 0 && c !== undefined && !c.member(i).running ? ', stopped: its partitions are moving to the others' : '';
        const who = owner === undefined ? 'not known yet' : i >= 0 ? `member-${i + 1} (${owner}${stale})` : owner;
        lines.push(`  queue ${queue}: partition owner ${who}`);
      } catch (err) {
        lines.push(`  queue: owner unknown (${(err as Error).message})`);
      }
    }
    const k = this.topo.kafka;
    if (k) {
      const controller = k.activeController();
      k.bootstrap.forEach((a, i) => {
        const b = k.broker(i);
        lines.push(`  broker-${i + 1} ${a} ${b.running ? (b.started ? 'running' : 'starting') : 'stopped'}${b.nodeId === controller ? ' (active controller)' : ''}`);
      });
    }
    if (this.opts.kafkaQueue) {
      try {
        lines.push(...(await this.opts.kafkaQueue()).map((l) => `  ${l}`));
      } catch (err) {
        lines.push(`  kafka: no answer (${(err as Error).message})`);
      }
    }
    for (const p of this.topo.procs.values()) lines.push(`  ${p.name} ${p.url} ${this.topo.isRunning(p.name) ? 'running' : 'stopped'}`);
    if (this.pending.length > 0) lines.push(`  in progress: ${this.pending[0]}${this.pending.length > 1 ? `; then ${this.pending.slice(1).join(', ')}` : ''}`);
    this.print(lines.join('\n'));
  }

  /** What the first member that answers says of the cluster. */
  private async clusterHealth(): Promise<MemberHealth | undefined> {
    const c = this.topo.cluster;
    if (!c) return undefined;
    return (await Promise.all(c.addresses.map((_, i) => c.health(i)))).find((r) => r !== undefined);
  }

  private async warnIfUnsafe(): Promise<void> {
    const h = await this.clusterHealth();
    if (h && !isSafe(h)) {
      this.print('warning: the cluster is not safe yet (partitions still moving after a member joined or left); a crash now can lose what is being moved');
    }
  }
}
