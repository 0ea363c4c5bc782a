import type { KvMap } from '../engine/ports.js';
import type { Logger } from 'pino';
import { sleep } from '../lib/wait.js';
import type { ServiceName } from '../contracts/http.js';

export type { ServiceName } from '../contracts/http.js';

/** One instance as written in the registry. */
export interface InstanceRecord {
  service: ServiceName;
  instance: string;
  /** Base URL others call, from the advertised host. */
  url: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  /** The entry counts as gone this long after heartbeatAt, whatever the engine's own expiry does. */
  ttlMs: number;
}

export const REGISTRY_MAP = 'registry';
const key = (r: Pick<InstanceRecord, 'service' | 'instance'>) => `${r.service}/${r.instance}`;

/**
 * Keeps this instance's registry entry alive: writes it with a TTL, renews it
 * every third of the TTL, removes it on stop. An entry not renewed in time
 * expires by itself, so a killed instance drops out within one TTL.
 */
export class RegistryMembership {
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
  registered = false;
  lastError: string | undefined;

  constructor(
    private readonly kv: KvMap<InstanceRecord>,
    private readonly record: Omit<InstanceRecord, 'heartbeatAt' | 'ttlMs'>,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  private beating: Promise<void> | undefined;

  /** One heartbeat; a call while one is in flight shares it. */
  private beat(): Promise<void> {
    this.beating ??= this.writeBeat().finally(() => (this.beating = undefined));
    return this.beating;
  }

  /**
   * A heartbeat now, outside the schedule: readiness asks for one when the
   * engine answers again but the last heartbeat failed (e.g. during a
   * partition), so a failure from before is not reported as current for up
   * to a third of the TTL. Nothing once stopped or before start.
   */
  renew(): Promise<void> {
    if (!this.loop || this.ac.signal.aborted) return Promise.resolve();
    return this.beat();
  }

  private async writeBeat(): Promise<void> {
    try {
      await this.kv.set(key(this.record), { ...this.record, heartbeatAt: new Date().toISOString(), ttlMs: this.ttlMs }, this.ttlMs);
      if (!this.registered) this.log.info({ url: this.record.url }, 'registered');
      this.registered = true;
      this.lastError = undefined;
    } catch (err) {
      this.registered = false;
      this.lastError = (err as Error).message;
      this.log.warn({ err }, 'registry heartbeat failed');
    }
  }

  start(): void {
    if (this.loop) return;
    const every = Math.max(100, Math.floor(this.ttlMs / 3));
    this.loop = (async () => {
      while (!this.ac.signal.aborted) {
        await this.beat();
        await sleep(every, this.ac.signal);
      }
    })();
  }

  /** Stops renewing and removes the entry. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.ac.signal.aborted) return;
    this.ac.abort();
    await this.loop;
    try {
      await this.kv.delete(key(this.record));
      this.log.info('deregistered');
    } catch (err) {
      this.log.warn({ err }, 'deregister failed; the entry expires by its TTL');
    }
    this.registered = false;
  }
}

/**
 * Live entries. An entry past heartbeatAt + ttlMs is left out even if the
 * engine has not expired it yet (Hazelcast expires in whole seconds).
 */
export async function listInstances(kv: KvMap<InstanceRecord>, service?: ServiceName, now = Date.now()): Promise<InstanceRecord[]> {
  const all = (await kv.entries()).map(([, v]) => v).filter((r) => !(r.ttlMs > 0) || Date.parse(r.heartbeatAt) + r.ttlMs >= now);
  return (service ? all.filter((r) => r.service === service) : all).sort((a, b) => a.instance.localeCompare(b.instance));
}
