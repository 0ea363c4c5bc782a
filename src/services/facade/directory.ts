import type { Logger } from 'pino';
import type { KvMap } from '../../engine/ports.js';
import { sleep } from '../../lib/wait.js';
import { listInstances, type InstanceRecord, type ServiceName } from '../../shared/registry.js';

/**
 * The facade's view of the registry: a cached list of live instances,
 * refreshed by short polling. The facade knows no instance address except
 * through this.
 *
 * When the registry lists no live instance of a service, of() answers the
 * ones it last listed, for up to `graceMs` after that. A registry entry is
 * written to one partition of the engine's map: while the engine fails over
 * from a crashed Hazelcast member (seconds), heartbeats to that member's
 * partitions wait, and live instances look expired (measured: 2 of 3 logging
 * instances gone from the list for 4 s after a member's kill -9, all 3 now
 * and then). Calling the last known ones costs little: a dead one refuses
 * the connection and the call fails over or fails as it would have.
 */
export class InstanceDirectory {
  private cache: InstanceRecord[] = [];
  /** Per service, the instances last listed live, and when. */
  private readonly lastSeen = new Map<ServiceName, { records: InstanceRecord[]; at: number }>();
  /** Services answered from lastSeen since the registry last listed them (logged once per gap). */
  private readonly onFallback = new Set<ServiceName>();
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
    /** How long after the registry last listed a service's instances of() still answers them when it lists none. */
    private readonly graceMs = 10_000,
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
      for (const service of new Set(next.map((r) => r.service))) {
        this.lastSeen.set(service, { records: next.filter((r) => r.service === service), at: this.lastRefresh });
        if (this.onFallback.delete(service)) this.log.info({ service }, 'the registry lists live instances again');
      }
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

  /**
   * Live instances of one service; refreshes first when the cache holds none.
   * None after that: the ones last listed, within graceMs of that listing.
   */
  async of(service: ServiceName): Promise<InstanceRecord[]> {
    let list = this.cache.filter((r) => r.service === service);
    if (list.length === 0) {
      await this.refresh();
      list = this.cache.filter((r) => r.service === service);
    }
    if (list.length > 0) return list;
    const seen = this.lastSeen.get(service);
    if (!seen || Date.now() - seen.at > this.graceMs) return [];
    if (!this.onFallback.has(service)) {
      this.onFallback.add(service);
      this.log.warn(
        { service, instances: seen.records.map((r) => r.instance), listedMsAgo: Date.now() - seen.at },
        'the registry lists no live instance of this service; calling the ones it last listed',
      );
    }
    return seen.records;
  }
}
