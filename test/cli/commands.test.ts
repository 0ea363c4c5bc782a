import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LocalCluster } from '../../src/engine/hazelcast/cluster.js';
import type { KafkaCluster } from '../../src/engine/kafka/cluster.js';
import { CommandShell, type ShellTopology } from '../../src/cli/commands.js';
import type { ConsoleEvent } from '../../src/contracts/console.js';

/**
 * The launcher's member commands over a fake cluster whose member start waits
 * until the test lets it go: what a user sees when typing `start-member 2` and,
 * while it waits, `kill-member 3`. (The real launcher's commands on real
 * processes are driven in test/integration/launcher.test.ts.)
 */
function fakeTopology() {
  const running = [true, false, true];
  const calls: string[] = [];
  let letStart: () => void = () => {};
  const started = new Promise<void>((r) => (letStart = r));
  const cluster = {
    clusterName: 'fake',
    addresses: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'],
    member: (i: number) => ({ index: i, host: '127.0.0.1', port: i + 1, address: `127.0.0.1:${i + 1}`, pid: undefined, running: running[i]!, seesMembers: 0 }),
    indexOf: (a: string) => ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'].indexOf(a),
    async startMember(i: number) {
      calls.push(`start ${i}`);
      await started;
      running[i] = true;
      calls.push(`started ${i}`);
    },
    async killMember(i: number, signal: string) {
      calls.push(`kill ${i} ${signal}`);
      running[i] = false;
    },
    waitForSize: async () => {},
    health: async () => undefined,
    waitForSafe: async () => {},
    stop: async () => {},
  } as unknown as LocalCluster;
  const topo = {
    procs: new Map(),
    byService: () => [],
    isRunning: () => false,
    signal: async () => {},
    startProc: async () => {},
    cluster,
  } as unknown as ShellTopology;
  return { topo, calls, letStart };
}

describe('launcher commands: one at a time, each answered once', () => {
  it('a member command typed while another waits is told so, runs after it, and each result is printed once', async () => {
    const { topo, calls, letStart } = fakeTopology();
    const out: string[] = [];
    const shell = new CommandShell(topo, (l) => out.push(l), { queueOwner: async () => ({ queue: 'messages-queue', owner: '127.0.0.1:3' }) });
    const first = shell.submit('start-member 2');
    const second = shell.submit('kill-member 3');
    assert.deepEqual(out, ['"start-member 2" is still in progress; "kill-member 3" runs after it']);

    await shell.submit('ps');
    const ps = out.at(-1)!;
    assert.match(ps, /member-2 127\.0\.0\.1:2 stopped/);
    assert.match(ps, /queue messages-queue: partition owner member-3 \(127\.0\.0\.1:3\)/);
    assert.match(ps, /in progress: start-member 2; then kill-member 3/);
    assert.deepEqual(calls, ['start 1'], 'the kill waits for the start');

    letStart();
    await Promise.all([first, second]);
    assert.deepEqual(calls, ['start 1', 'started 1', 'kill 2 SIGKILL']);
    const results = out.filter((l) => /^member-/.test(l));
    assert.equal(results.length, 2, results.join('\n'));
    assert.match(results[0]!, /^member-2 joined after \d+\.\d s; cluster safe \(backups in sync\) after \d+\.\d s more$/);
    assert.equal(results[1], 'member-3 killed (SIGKILL: a crash)');

    // The client's table still names the dead owner for a moment: ps says it is stopped.
    await shell.submit('ps');
    assert.match(out.at(-1)!, /queue messages-queue: partition owner member-3 \(127\.0\.0\.1:3, stopped: its partitions are moving to the others\)/);
  });

  it('says when there is nothing to do, or no such member', async () => {
    const { topo } = fakeTopology();
    const out: string[] = [];
    const shell = new CommandShell(topo, (l) => out.push(l));
    await shell.submit('start-member 1');
    await shell.submit('stop-member 2');
    await shell.submit('kill-member 9');
    await shell.submit('stop member-1');
    assert.deepEqual(out, [
      'member-1 is already running',
      'member-2 is not running',
      'error: no member-9; members are 1..3',
      'error: no process named member-1 (members: stop-member 1 / start-member 1); processes: (none)',
    ]);
  });

  it('ps says when the cluster waits for a member to be declared gone, and when it cannot tell', async () => {
    const { topo } = fakeTopology();
    const out: string[] = [];
    const line = 'member-2 (127.0.0.1:2) not answering for 6 s — the cluster waits up to 8 s without a heartbeat to declare it gone; writes whose primary is there wait';
    await new CommandShell(topo, (l) => out.push(l), { waiting: async () => [line] }).submit('ps');
    assert.match(out.at(-1)!, new RegExp(`^  waiting: ${line.replace(/[()]/g, '\\$&')}$`, 'm'));
    await new CommandShell(topo, (l) => out.push(l), { waiting: async () => [] }).submit('ps');
    assert.doesNotMatch(out.at(-1)!, /waiting:/, 'nothing waited for: no line');
    await new CommandShell(topo, (l) => out.push(l), { waiting: () => Promise.reject(new Error('client offline')) }).submit('ps');
    assert.match(out.at(-1)!, /^ {2}cluster: no answer \(client offline\)$/m);
  });
});

/** A fake of the local Kafka brokers: broker 2 (index 1) is down; calls are recorded. */
function fakeKafkaTopology() {
  const running = [true, false, true];
  const calls: string[] = [];
  const kafka = {
    bootstrap: ['127.0.0.1:9092', '127.0.0.1:9093', '127.0.0.1:9094'],
    broker: (i: number) => ({ index: i, nodeId: i + 1, address: `127.0.0.1:${9092 + i}`, controllerAddress: `127.0.0.1:${19092 + i}`, pid: undefined, running: running[i]!, started: running[i]! }),
    activeController: () => 3,
    async killBroker(i: number) {
      calls.push(`kill ${i}`);
      running[i] = false;
    },
    async stopBroker(i: number) {
      calls.push(`stop ${i}`);
      running[i] = false;
    },
    async startBroker(i: number) {
      calls.push(`start ${i}`);
      running[i] = true;
    },
  } as unknown as KafkaCluster;
  const topo = { procs: new Map(), byService: () => [], isRunning: () => false, signal: async () => {}, startProc: async () => {}, cluster: undefined, kafka } as unknown as ShellTopology;
  return { topo, calls };
}

describe('launcher commands on local Kafka brokers', () => {
  it('kill-broker, stop-broker and start-broker answer with what they did; ps lists the brokers and the queue lines', async () => {
    const { topo, calls } = fakeKafkaTopology();
    const out: string[] = [];
    const shell = new CommandShell(topo, (l) => out.push(l), { kafkaQueue: async () => ['topic messages-queue: 6 partitions', '  partition 0: leader broker-1, in-sync 1,3 (out of sync: 2)'] });
    await shell.submit('help');
    assert.match(out.at(-1)!, /stop-broker N \| kill-broker N \| start-broker N/);
    assert.doesNotMatch(out.at(-1)!, /kill-member/, 'no member commands without members');

    await shell.submit('ps');
    const ps = out.at(-1)!;
    assert.match(ps, /^ {2}broker-1 127\.0\.0\.1:9092 running$/m);
    assert.match(ps, /^ {2}broker-2 127\.0\.0\.1:9093 stopped$/m);
    assert.match(ps, /^ {2}broker-3 127\.0\.0\.1:9094 running \(active controller\)$/m);
    assert.match(ps, /^ {4}partition 0: leader broker-1, in-sync 1,3 \(out of sync: 2\)$/m);

    out.length = 0;
    await shell.submit('start-broker 2');
    await shell.submit('kill-broker 1');
    await shell.submit('stop-broker 3');
    await shell.submit('kill-broker 1');
    await shell.submit('start-broker 4');
    await shell.submit('kill-member 1');
    assert.deepEqual(calls, ['start 1', 'kill 0', 'stop 2']);
    assert.match(out[0]!, /^broker-2 started and back in every in-sync replica set after \d+\.\d s$/);
    assert.deepEqual(out.slice(1), [
      'broker-1 killed (SIGKILL: a crash; its partitions get new leaders once it is fenced, ~3 s)',
      'broker-3 stopped (SIGTERM: leadership moved first)',
      'broker-1 is not running',
      'error: no broker-4; brokers are 1..3',
      'error: no Hazelcast members in this topology',
    ]);
  });

  it('ps says when the Kafka cluster does not answer', async () => {
    const { topo } = fakeKafkaTopology();
    const out: string[] = [];
    const shell = new CommandShell(topo, (l) => out.push(l), { kafkaQueue: async () => Promise.reject(new Error('connect ECONNREFUSED')) });
    await shell.submit('ps');
    assert.match(out.at(-1)!, /^ {2}kafka: no answer \(connect ECONNREFUSED\)$/m);
  });
});

describe('launcher commands: logs NAME', () => {
  /** A topology whose processes printed: a messages instance, a broker (its file under the data dir), a jar fetch. */
  function loggingTopology() {
    const tails = new Map<string, string[]>([
      ['messages-5001', ['{"msg":"ready"}']],
      ['broker-2', Array.from({ length: 50 }, (_, i) => `INFO line ${i + 1}`)],
      ['kafka', ['fetching jars']],
    ]);
    return {
      procs: new Map([['messages-5001', {}], ['facade-8000', {}]]),
      byService: () => [],
      isRunning: () => true,
      signal: async () => {},
      startProc: async () => {},
      tail: (name: string) => [...(tails.get(name) ?? [])],
      tailNames: () => [...tails.keys()],
      logFile: (name: string) => (/^broker-[1-3]$/.test(name) ? `/data/kafka/${name}/broker.log` : undefined),
      cluster: undefined,
      kafka: undefined,
    } as unknown as ShellTopology;
  }

  it('shows the last 20 lines, or N, and where the whole log is', async () => {
    const out: string[] = [];
    const shell = new CommandShell(loggingTopology(), (l) => out.push(l));
    await shell.submit('logs broker-2');
    const lines = out.at(-1)!.split('\n');
    assert.equal(lines[0], '--- broker-2: last 20 line(s); the whole log: /data/kafka/broker-2/broker.log');
    assert.deepEqual(lines.slice(1), Array.from({ length: 20 }, (_, i) => `  INFO line ${i + 31}`));
    await shell.submit('logs broker-2 3');
    assert.equal(out.at(-1), '--- broker-2: last 3 line(s); the whole log: /data/kafka/broker-2/broker.log\n  INFO line 48\n  INFO line 49\n  INFO line 50');
    await shell.submit('logs messages-5001');
    assert.equal(out.at(-1), '--- messages-5001: last 1 line(s)\n  {"msg":"ready"}');
    await shell.submit('logs facade-8000');
    assert.equal(out.at(-1), '--- facade-8000: last 0 line(s)');
    await shell.submit('logs broker-3');
    assert.equal(out.at(-1), '--- broker-3: last 0 line(s); the whole log: /data/kafka/broker-3/broker.log');
  });

  it('names the processes it knows when the name is missing or wrong, and refuses a bad count', async () => {
    const out: string[] = [];
    const shell = new CommandShell(loggingTopology(), (l) => out.push(l));
    await shell.submit('logs');
    assert.equal(out.at(-1), 'error: name which process; logs of: messages-5001, facade-8000, broker-2, kafka');
    await shell.submit('logs member-1');
    assert.equal(out.at(-1), 'error: no process named member-1; logs of: messages-5001, facade-8000, broker-2, kafka');
    await shell.submit('logs broker-2 0');
    assert.equal(out.at(-1), 'error: logs broker-2 N: N is how many lines, 1..999, not "0"');
    await shell.submit('help');
    assert.match(out.at(-1)!, /logs NAME \[N\]/);
  });
});

describe('launcher commands from the page: the same shell, one action at a time', () => {
  it('a page action runs in the shell: printed in the terminal and reported to the page; a second one while it runs is refused with what runs', async () => {
    const { topo, calls, letStart } = fakeTopology();
    const out: string[] = [];
    const events: ConsoleEvent[] = [];
    const shell = new CommandShell(topo, (l) => out.push(l), { onEvent: (e) => events.push(e) });

    const first = shell.offer('start-member 2');
    assert.deepEqual(first, { accepted: true, action: 'start-member 2', message: 'start-member 2: started' });
    assert.equal(shell.busy, 'start-member 2');
    const second = shell.offer('kill-member 3');
    assert.equal(second.accepted, false);
    assert.match(second.message, /"start-member 2" is in progress; one action at a time/);
    assert.ok(!calls.includes('kill 2 SIGKILL'), 'the refused action did nothing');
    // A typed command meanwhile waits its turn, as before.
    const typed = shell.submit('kill-member 3');

    letStart();
    await typed;
    assert.equal(shell.busy, null);
    assert.deepEqual(calls, ['start 1', 'started 1', 'kill 2 SIGKILL']);
    // The terminal saw the page's action and its result …
    assert.ok(out.includes('(from the page) start-member 2'));
    assert.ok(out.some((l) => /^member-2 joined after/.test(l)));
    // … and the page saw the typed one's, each action bracketed by begin and end.
    const kinds = events.map((e) => (e.kind === 'line' ? `line:${e.action}` : `${e.kind}:${'action' in e ? e.action : ''}`));
    assert.deepEqual(kinds.filter((k) => !k.startsWith('line:null')), [
      'begin:start-member 2',
      'line:start-member 2',
      'end:start-member 2',
      'begin:kill-member 3',
      'line:kill-member 3',
      'end:kill-member 3',
    ]);
    const begins = events.filter((e): e is Extract<ConsoleEvent, { kind: 'begin' }> => e.kind === 'begin');
    assert.deepEqual(begins.map((e) => e.source), ['page', 'terminal']);
    assert.ok(events.some((e) => e.kind === 'line' && /^member-3 killed/.test(e.text)), 'the typed result reached the page');
  });

  it('an action on something that does not exist here is refused before it starts', () => {
    const { topo } = fakeTopology();
    const shell = new CommandShell(topo, () => undefined);
    for (const [line, why] of [
      ['kill-member 9', /no member-9; members are 1\.\.3/],
      ['kill messages-1', /no process named messages-1/],
      ['stop-broker 1', /no local Kafka brokers/],
      ['scenario lab4', /no scenarios in this shell/],
      ['ps', /not an action/],
    ] as const) {
      const a = shell.offer(line);
      assert.equal(a.accepted, false, line);
      assert.match(a.message, why);
    }
    assert.equal(shell.busy, null);
  });

  it('a scenario reports its steps and verdict to the page and prints them', async () => {
    const { topo } = fakeTopology();
    const out: string[] = [];
    const events: ConsoleEvent[] = [];
    const shell = new CommandShell(topo, (l) => out.push(l), {
      onEvent: (e) => events.push(e),
      scenarios: ['lab4'],
      scenario: async (_name, report) => {
        report.step({ n: 1, title: 'stop the consumers', state: 'running' });
        report.step({ n: 1, title: 'stop the consumers', state: 'done', ms: 1200, detail: 'both down' });
        return { ok: true, summary: '100/100 received', lines: ['messages-1 50, messages-2 50'] };
      },
    });
    assert.equal(shell.offer('scenario lab4').accepted, true);
    await until(() => shell.busy === null);
    assert.ok(out.includes('  1. stop the consumers: done in 1.2 s — both down'));
    assert.match(out.join('\n'), /verdict \(lab4\): OK — 100\/100 received/);
    assert.deepEqual(events.filter((e) => e.kind === 'step').map((e) => (e.kind === 'step' ? e.step.state : '')), ['running', 'done']);
    const v = events.find((e) => e.kind === 'verdict');
    assert.ok(v && v.kind === 'verdict' && v.verdict.summary === '100/100 received');
    assert.ok(events.some((e) => e.kind === 'end' && e.ok));
  });
});

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
