import type { Logger } from 'pino';
import type { KvMap } from '../../engine/ports.js';
import { sleep } from '../../lib/wait.js';
import { listInstances, type InstanceRecord, type ServiceName } from '../../shared/registry.js';

/**
 * The facade's view of the registry: a cached list of live instances,
 * refreshed by short polling. The facade knows no instance address except
 * through this.
 */
export class InstanceDirectory {
  private cache: InstanceRecord[] = [];
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
  lastError: string | undefined;
  lastRefresh = 0;

  constructor(
    private readonly kv: KvMap<InstanceRecord>,
    private readonly refreshMs: number,
    private readonly log: Logger,
    /** Told about each instance that left, e.g. to close its connection pool. */
    private readonly onLeft?: (record: InstanceRecord) => void,
  ) {}

  async refresh(): Promise<void> {
    try {
      const next = await listInstances(this.kv);
      const before = new Set(this.cache.map((r) => `${r.service}/${r.instance}`));
      const after = new Set(next.map((r) => `${r.service}/${r.instance}`));
      for (const k of after) if (!before.has(k)) this.log.info({ registered: k }, 'instance appeared');
      for (const r of this.cache) {
        const k = `${r.service}/${r.instance}`;
        if (after.has(k)) continue;
        this.log.info({ registered: k }, 'instance left');
        this.onLeft?.(r);
      }
      this.cache = next;
      this.lastError = undefined;
      this.lastRefresh = Date.now();
    } catch (err) {
      // Keep the last known list: a registry outage must not stop traffic.
      this.lastError = (err as Error).message;
    }
  }

  start(): void {
    if (this.loop) return;
    this.loop = (async () => {
      while (!this.ac.signal.aborted) {
        await this.refresh();
        await sleep(this.refreshMs, this.ac.signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await this.loop;
  }

  all(): InstanceRecord[] {
    return this.cache;
  }

  /** Live instances of one service; refreshes first when the cache holds none. */
  async of(service: ServiceName): Promise<InstanceRecord[]> {
    let list = this.cache.filter((r) => r.service === service);
    if (list.length === 0) {
      await this.refresh();
      list = this.cache.filter((r) => r.service === service);
    }
    return list;
  }
}
