/**
 * Hosts made of Linux network namespaces on one machine: one bridge, one
 * namespace per host, a veth pair each (see `npm run hosts`). Every name
 * starts with a prefix this module owns, so what a crashed run left behind
 * can be found and removed by name alone.
 *
 * The machine's own side of the bridge gets one address (.254): the launcher
 * and tests reach every host from there, like an operator's console; faults
 * cut a host off from the other hosts, not from it. No namespace has a
 * default route, so no traffic leaves the machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface NetPlan {
  /** Prefix of every namespace and link name (letters and digits, ≤ 6 characters: link names are limited to 15). */
  prefix: string;
  /** First three octets of the /24, e.g. '10.203.0'. Host i (1-based) is <subnet>.i. */
  subnet: string;
  /** How many hosts. */
  hosts: number;
}

/** Table the fault commands add inside a host's namespace. */
const FAULT_TABLE = 'hazel_lab_fault';

export const bridgeName = (p: NetPlan) => `${p.prefix}-br`;
export const nsName = (p: NetPlan, i: number) => `${p.prefix}-h${i}`;
const vethName = (p: NetPlan, i: number) => `${p.prefix}-v${i}`;
export const hostAddress = (p: NetPlan, i: number) => `${p.subnet}.${i}`;
/** The machine's own address on the bridge. */
export const controlAddress = (p: NetPlan) => `${p.subnet}.254`;

export function checkPlan(p: NetPlan): void {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(p.prefix)) throw new RangeError(`prefix must be 1–6 lower-case letters or digits, starting with a letter: '${p.prefix}'`);
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(p.subnet);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) throw new RangeError(`subnet must be three octets, e.g. 10.203.0: '${p.subnet}'`);
  const [a, b] = [Number(m[1]), Number(m[2])];
  // Private ranges only: the bed must never shadow a real network.
  if (!(a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168))) throw new RangeError(`subnet must be private (10/8, 172.16/12, 192.168/16): '${p.subnet}'`);
  if (!Number.isInteger(p.hosts) || p.hosts < 3 || p.hosts > 9) throw new RangeError(`hosts must be 3..9, got ${p.hosts}`);
}

/** What this machine lacks to build a bed, or undefined. */
export function netnsMissing(): string | undefined {
  const missing: string[] = [];
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) missing.push('root (run as root, e.g. with sudo)');
  if (!onPath('ip')) missing.push('the ip command (apt-get install -y iproute2)');
  if (!onPath('nft')) missing.push('the nft command (apt-get install -y nftables)');
  if (!existsSync('/proc/self/ns/net')) missing.push('kernel network namespaces');
  return missing.length ? `missing ${missing.join(', ')}` : undefined;
}

export function onPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d && existsSync(`${d}/${cmd}`));
}

/** Runs a command; its stderr becomes the error message. */
function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input !== undefined ? { input } : {}) });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

const ip = (...args: string[]) => run('ip', args);

/** Our namespaces that exist now (from any earlier run with this prefix). */
export function ourNamespaces(prefix: string): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-h`));
}

/** Our links in the machine's namespace (the bridge, host-side veths). */
function ourLinks(prefix: string): string[] {
  return ip('-o', 'link', 'show')
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

/** Pids of every process running in a namespace. */
export function pidsIn(ns: string): number[] {
  try {
    return ip('netns', 'pids', ns)
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Removes everything with this prefix: processes in our namespaces (SIGTERM,
 * SIGKILL after graceMs), the namespaces, the bridge and any veth left, and
 * the FORWARD rule. Works from nothing but the prefix, so it cleans up after
 * a crash too. Returns what it removed, for the caller to print.
 */
export async function destroyNet(prefix: string, graceMs = 5000): Promise<string[]> {
  const done: string[] = [];
  const spaces = ourNamespaces(prefix);
  const signalAll = (sig: NodeJS.Signals) => {
    let n = 0;
    for (const ns of spaces) {
      for (const pid of pidsIn(ns)) {
        try {
          process.kill(pid, sig);
          n++;
        } catch {
          // gone already
        }
      }
    }
    return n;
  };
  const first = signalAll('SIGTERM');
  if (first > 0) {
    done.push(`stopped ${first} process(es)`);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && spaces.some((ns) => pidsIn(ns).length > 0)) await sleepMs(200);
    const left = signalAll('SIGKILL');
    if (left > 0) done.push(`killed ${left} process(es) that did not stop within ${graceMs} ms`);
  }
  for (const ns of spaces) {
    if (tryRun('ip', ['netns', 'del', ns])) done.push(`namespace ${ns}`);
  }
  for (const link of ourLinks(prefix)) {
    if (tryRun('ip', ['link', 'del', link])) done.push(`link ${link}`);
  }
  // `ip netns del` removes a namespace's veths a moment later: wait for them, so names can be reused.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && ourLinks(prefix).length > 0) await sleepMs(100);
  if (forwardRule(prefix, 'check')) {
    forwardRule(prefix, 'delete');
    done.push('iptables FORWARD rule');
  }
  return done;
}

/**
 * Bridged traffic passes the machine's iptables FORWARD chain (with
 * br_netfilter). Where that chain's policy drops, traffic within our bridge
 * is let through by one rule, removed again by destroyNet.
 */
function forwardRule(prefix: string, op: 'check' | 'add' | 'delete'): boolean {
  if (!onPath('iptables')) return false;
  const flag = op === 'check' ? '-C' : op === 'add' ? '-I' : '-D';
  return tryRun('iptables', [flag, 'FORWARD', '-i', `${prefix}-br`, '-o', `${prefix}-br`, '-j', 'ACCEPT']);
}

function forwardDrops(): boolean {
  if (!onPath('iptables')) return false;
  try {
    return /^-P FORWARD (DROP|REJECT)/m.test(run('iptables', ['-S', 'FORWARD']));
  } catch {
    return false;
  }
}

/** Builds the bridge and the hosts, after removing whatever an earlier run with this prefix left. */
export async function createNet(p: NetPlan): Promise<void> {
  checkPlan(p);
  await destroyNet(p.prefix);
  const br = bridgeName(p);
  ip('link', 'add', br, 'type', 'bridge');
  ip('link', 'set', br, 'up');
  ip('addr', 'add', `${controlAddress(p)}/24`, 'dev', br);
  if (forwardDrops()) forwardRule(p.prefix, 'add');
  for (let i = 1; i <= p.hosts; i++) {
    const ns = nsName(p, i);
    ip('netns', 'add', ns);
    ip('link', 'add', vethName(p, i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', vethName(p, i), 'master', br);
    ip('link', 'set', vethName(p, i), 'up');
    ip('-n', ns, 'addr', 'add', `${hostAddress(p, i)}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
}

/** Command prefix that runs a program on host i. */
export const onHost = (p: NetPlan, i: number): string[] => ['ip', 'netns', 'exec', nsName(p, i)];

/**
 * Cuts host i off from every other host except those in `keep` (the
 * facade's host): nft rules inside the host drop what it sends to them and
 * receives from them. The machine's own address (.254) still reaches it.
 */
export function partitionHost(p: NetPlan, i: number, keep: number[]): void {
  const others = [];
  for (let h = 1; h <= p.hosts; h++) if (h !== i && !keep.includes(h)) others.push(hostAddress(p, h));
  if (others.length === 0) throw new Error(`host ${i} has no other host to be cut off from`);
  const set = `{ ${others.join(', ')} }`;
  // Replacing the table makes `partition` idempotent.
  tryRun('ip', ['netns', 'exec', nsName(p, i), 'nft', 'delete', 'table', 'inet', FAULT_TABLE]);
  run(
    'ip',
    ['netns', 'exec', nsName(p, i), 'nft', '-f', '-'],
    `table inet ${FAULT_TABLE} {
  chain input { type filter hook input priority 0; policy accept; ip saddr ${set} drop; }
  chain output { type filter hook output priority 0; policy accept; ip daddr ${set} drop; }
}
`,
  );
}

/** Link down: host i reaches nobody and nobody reaches it. */
export function isolateHost(p: NetPlan, i: number): void {
  ip('-n', nsName(p, i), 'link', 'set', 'eth0', 'down');
}

/** Thrown when netem (the kernel's delay emulation) is not available. */
export class NetemUnavailableError extends Error {
  constructor(detail: string) {
    super(`delay needs the kernel's netem queueing discipline (module sch_netem), which is not available here: ${detail}`);
    this.name = 'NetemUnavailableError';
  }
}

/** Adds `ms` of delay to everything host i sends. */
export function delayHost(p: NetPlan, i: number, ms: number): void {
  if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) throw new RangeError(`delay must be 0..60000 ms, got ${ms}`);
  try {
    run('ip', ['netns', 'exec', nsName(p, i), 'tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', 'delay', `${ms}ms`]);
  } catch (e) {
    const msg = (e as Error).message;
    if (/unknown|not supported|No such file|Operation not supported/i.test(msg) || !onPath('tc')) throw new NetemUnavailableError(msg);
    throw e;
  }
}

/** Undoes every fault on host i: rules, link state, delay. */
export function healHost(p: NetPlan, i: number): void {
  const ns = nsName(p, i);
  tryRun('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', FAULT_TABLE]);
  ip('-n', ns, 'link', 'set', 'eth0', 'up');
  if (onPath('tc')) tryRun('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
}

/** The faults now in force on host i, e.g. ['partitioned'], ['link down', 'delay 200ms']; [] when none. */
export function faultsOn(p: NetPlan, i: number): string[] {
  const ns = nsName(p, i);
  const out: string[] = [];
  if (tryRun('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', FAULT_TABLE])) out.push('partitioned');
  try {
    if (!/[<,]UP[,>]/.test(ip('-n', ns, '-o', 'link', 'show', 'eth0'))) out.push('link down');
  } catch {
    out.push('no link');
  }
  if (onPath('tc')) {
    try {
      const q = /netem.*delay (\S+)/.exec(run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'show', 'dev', 'eth0']));
      if (q) out.push(`delay ${q[1]}`);
    } catch {
      // no qdisc to show
    }
  }
  return out;
}
