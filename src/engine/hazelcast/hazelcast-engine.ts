import { randomUUID } from 'node:crypto';
import {
  Client,
  ClientNotActiveError,
  ClientOfflineError,
  HazelcastError,
  HazelcastInstanceNotActiveError,
  IllegalStateError,
  IOError,
  LifecycleState,
  LogLevel,
  OperationTimeoutError,
  Predicates,
  ReconnectMode,
  SplitBrainProtectionError,
  TargetDisconnectedError,
  type ClientConfig,
  type IMap,
  type ILogger,
  type IQueue,
} from 'hazelcast-client';
import { EngineUnavailableError, isEngineUnavailable, ProtectionError, type Delivery, type Engine, type KvMap, type LogEntry, type MessageLog, type MessageQueue, type QueueItem } from '../ports.js';
import { TurnBatch, type Waiting } from '../../lib/turn-batch.js';
import { DeliveryLedger, LedgerReconciler, ledgerMapFor, LOCK_MAP, type LedgerEntry, type LedgerLog, type RemovingQueue } from './delivery-ledger.js';
import { LogMirror } from './log-mirror.js';
import { hazelcastQueueDetails, memberHealthOf } from './queue-describe.js';
import type { HazelcastQueueDetails } from '../../contracts/queue-info.js';
import { configuredHeartbeatTimeoutS, MemberWatch, probeMember } from './member-watch.js';
import { pageOf, pageStart } from './log-order.js';
import { partitionOwnerAddress } from './partition-owner.js';

export interface HazelcastEngineOptions {
  /** Member addresses, 'host:port'. At least one. */
  members: string[];
  clusterName: string;
  /** Longest an operation or ping waits for a (re)connection before failing. Default 5000. */
  connectTimeoutMs?: number;
  /** 'host:port' tried first (the lab pairs logging i with member i). Default: members in the given order. */
  preferredMember?: string;
  /** Client instance name, shown in member logs. Default: the client's own. */
  instanceName?: string;
  /**
   * What the members' queue max-size is believed to be (config/hazelcast.yaml).
   * Informational only: the bound is enforced by the members. Default 100000.
   */
  queueCapacityHint?: number;
  /**
   * How long the client keeps retrying an invocation (e.g. while a dead member's
   * partitions move) before failing it. Default 15000.
   */
  invocationTimeoutMs?: number;
  /** How long a received item may stay unacknowledged before the delivery ledger offers it again. Default 20000. */
  leaseMs?: number;
  /** How often a consuming process's ledger reconciler scans (one at a time cluster-wide). Default 2000. */
  ledgerScanMs?: number;
  /** Where the ledger reconciler reports redeliveries. Default: nowhere. */
  log?: LedgerLog;
  /** Receives the client's own warnings and errors. Default: the client logs nothing (failures reach callers as errors). */
  onClientLog?: (level: 'warn' | 'error', message: string) => void;
}

/** The cluster did not answer within the connect timeout. */
export class HazelcastUnreachableError extends EngineUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HazelcastUnreachableError';
  }
}

/** Longest single blocking poll, so an aborted poll returns within about this long. */
const POLL_SLICE_MS = 500;
/** Most offers sent in one addAll. */
const MAX_OFFER_BATCH = 256;
/** Longest close() waits for the client to shut down. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * Engine over a Hazelcast cluster via hazelcast-client.
 *
 * - log(name): IMap<id, JSON>; put is putIfAbsent, so a retried put keeps the first entry.
 *   Whole-log reads and pages are served from a LogMirror (a local ordered copy fed by
 *   the map's events, checked against the map's size on every read); so are the
 *   newest entries and the count per logging instance, which the mirror keeps as entries arrive.
 * - queue(name): IQueue<JSON>; its bound is the member config's max-size (items waiting, not
 *   those taken and not yet acknowledged); depth counts both, from the delivery ledger.
 * - kv(name): IMap<key, JSON> with per-entry TTL.
 *
 * Values are JSON strings: every JS string survives (incl. \u0000 and emoji), and
 * members need no class definitions.
 *
 * The constructor returns at once; the client connects in the background for
 * up to connectTimeoutMs. Each call waits at most connectTimeoutMs for a
 * connection and then fails with HazelcastUnreachableError naming the members
 * and cluster. A client that gave up is replaced on the next call, so services
 * started before the cluster, or outliving all its members, recover by themselves.
 */
export class HazelcastEngine implements Engine {
  readonly kind = 'hazelcast';
  readonly queueCapacity: number;
  private readonly opts: Required<Pick<HazelcastEngineOptions, 'members' | 'clusterName' | 'connectTimeoutMs' | 'invocationTimeoutMs'>> &
    HazelcastEngineOptions;
  private client: Promise<Client> | undefined;
  private connected = false;
  /** Which client start the lifecycle events belong to. */
  private generation = 0;
  private lastProblem: string | undefined;
  private readonly connectWaiters = new Set<() => void>();
  private closing: Promise<void> | undefined;
  private readonly mirrors = new Map<string, LogMirror>();
  private readonly queues = new Map<string, MessageQueue>();
  private readonly reconcilers: LedgerReconciler[] = [];
  /** Counts events that may have cost a log mirror events or entries: lost connections, members leaving or joining. */
  private disruptions = 0;

  constructor(options: HazelcastEngineOptions) {
    if (!Array.isArray(options.members) || options.members.length === 0) throw new RangeError('HazelcastEngine: members must list at least one host:port');
    for (const m of options.members) {
      if (!/^\S+:\d{1,5}$/.test(m)) throw new RangeError(`HazelcastEngine: bad member address '${m}', expected host:port`);
    }
    if (!options.clusterName) throw new RangeError('HazelcastEngine: clusterName is required');
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    const invocationTimeoutMs = options.invocationTimeoutMs ?? 15_000;
    if (!(connectTimeoutMs > 0)) throw new RangeError(`HazelcastEngine: connectTimeoutMs must be > 0, got ${connectTimeoutMs}`);
    if (!(invocationTimeoutMs > 0)) throw new RangeError(`HazelcastEngine: invocationTimeoutMs must be > 0, got ${invocationTimeoutMs}`);
    this.opts = { ...options, connectTimeoutMs, invocationTimeoutMs };
    this.queueCapacity = options.queueCapacityHint ?? 100_000;
    this.startClient();
  }

  /** What the member watch last said; its loop starts on the first call of waiting(). */
  private watch: { lines: string[]; first: Promise<void>; timer?: NodeJS.Timeout } | undefined;

  /**
   * Members the cluster is waiting on, in words: one not answering (the
   * cluster has not declared it gone yet, and calls whose partition it owns
   * wait), or one in the minority. Probed every second from the first call on.
   */
  async waiting(): Promise<string[]> {
    if (!this.watch) {
      const watch = new MemberWatch({
        configured: this.opts.members,
        listed: () => this.listedMembers(),
        probe: probeMember,
        heartbeatTimeoutS: configuredHeartbeatTimeoutS(),
      });
      const state: NonNullable<HazelcastEngine['watch']> = { lines: [], first: Promise.resolve() };
      const tick = async (): Promise<void> => {
        try {
          state.lines = await watch.check();
        } catch {
          state.lines = [];
        }
        if (!this.closing) state.timer = setTimeout(() => void tick(), 1000).unref();
      };
      this.watch = state;
      state.first = tick();
    }
    await this.watch.first;
    return this.watch.lines;
  }

  /** 'host:port' of the members in the client's member list; none while it is not connected. */
  private async listedMembers(): Promise<string[]> {
    if (!this.connected || !this.client) return [];
    const client = await this.client;
    return client.getCluster().getMembers().map((m) => `${m.address.host}:${m.address.port}`);
  }

  /** The member that owns this queue's partition ('host:port'), if the client knows the partition table yet. */
  async queueOwner(name: string): Promise<string | undefined> {
    return partitionOwnerAddress(await this.ready(), name);
  }

  /**
   * The queue's describe data: each configured member (numbered as
   * configured, so `kill-member N` targets it), the cluster's safety as the
   * members report it, the owner of the queue's partition and its backup.
   * Reused for a second (the dashboard asks every second per viewer).
   */
  describeQueue(name: string): Promise<HazelcastQueueDetails> {
    const had = this.described.get(name);
    if (had && Date.now() - had.at < 1000) return had.details;
    const details = (async () => {
      const [listed, health, owner] = await Promise.all([
        this.listedMembers().catch(() => []),
        Promise.all(this.opts.members.map((a) => memberHealthOf(a, 1500))),
        this.connected ? this.queueOwner(name).catch(() => undefined) : Promise.resolve(undefined),
      ]);
      return hazelcastQueueDetails({ queue: name, configured: this.opts.members, listed, health, owner });
    })();
    this.described.set(name, { at: Date.now(), details });
    return details;
  }

  private readonly described = new Map<string, { at: number; details: Promise<HazelcastQueueDetails> }>();

  /** Items waiting in the queue's IQueue: depth() without those taken and not yet acknowledged (what a promoted backup holds; tests and diagnostics). */
  async queueWaiting(name: string): Promise<number> {
    return this.call(async (c) => (await c.getQueue<string>(name)).size());
  }

  log(name: string): MessageLog {
    const onMap = <T>(fn: (m: IMap<string, string>) => Promise<T>) => this.call((c) => c.getMap<string, string>(name).then(fn));
    const mirror = this.mirrorOf(name, onMap);
    return {
      put: (entry) =>
        onMap(async (m) => {
          const prev = await m.putIfAbsent(entry.id, JSON.stringify(entry));
          return prev == null ? { created: true, entry } : { created: false, entry: JSON.parse(prev) as LogEntry };
        }),
      get: (id) => onMap(async (m) => parseOr(await m.get(id), undefined) as LogEntry | undefined),
      list: async () => (await mirror.read()).map((k) => JSON.parse(k.text) as LogEntry),
      listJson: () => mirror.readJson(),
      page: async (limit, after) => {
        const from = pageStart(limit, after);
        return pageOf(await mirror.read(), limit, from);
      },
      newest: (limit) => mirror.newest(limit),
      size: () => onMap((m) => m.size()),
      countByLogger: () => mirror.countByLogger(),
    };
  }

  /** One mirror per log map, shared by every log(name) view of it. */
  private mirrorOf(name: string, onMap: <T>(fn: (m: IMap<string, string>) => Promise<T>) => Promise<T>): LogMirror {
    let mirror = this.mirrors.get(name);
    if (!mirror) {
      mirror = new LogMirror({
        subscribe: (onAdded) =>
          this.call(async (c) => {
            // The client this listener lives on (taken before any await): when it is replaced, so is the listener.
            const client = this.client;
            const m = await c.getMap<string, string>(name);
            const id = await m.addEntryListener({ added: (e) => onAdded(e.value) }, undefined, true);
            return {
              stale: () => this.client !== client,
              stop: async () => {
                await m.removeEntryListener(id);
                forgetListener(c, id);
              },
            };
          }),
        values: () => onMap((m) => m.values()),
        size: () => onMap((m) => m.size()),
        disruptions: () => this.disruptions,
      });
      this.mirrors.set(name, mirror);
    }
    return mirror;
  }

  /**
   * IQueue's poll removes the item, so acknowledged delivery is kept beside
   * it by a delivery ledger (see delivery-ledger.ts): offer records the item
   * with the offer, ack records the acknowledgement, and a reconciler in each
   * consuming process (one at a time, by a lease) offers again what was
   * taken and never acknowledged within the lease.
   */
  queue(name: string): MessageQueue {
    const had = this.queues.get(name);
    if (had) return had;
    const onQueue = <T>(fn: (q: IQueue<string>) => Promise<T>) => this.call((c) => c.getQueue<string>(name).then(fn));
    const offerOne = (text: string, timeoutMs: number) => onQueue((q) => q.offer(text, Math.max(0, timeoutMs)));
    // Offers made in one event-loop turn go to the member as one addAll. The
    // queue lives on one partition, so every operation on it waits its turn on
    // that partition's thread, and each costs this client an invocation; a
    // batch costs one of each. addAll adds all or nothing and never waits: when
    // the queue has no room for the whole batch, each offer is made on its own,
    // with its own timeout, as an unbatched offer would be.
    const offers = new TurnBatch<{ text: string; timeoutMs: number }, boolean>(
      (batch) => {
        const alone = (w: Waiting<{ text: string; timeoutMs: number }, boolean>) => offerOne(w.value.text, w.value.timeoutMs).then(w.resolve, w.reject);
        if (batch.length === 1) {
          void alone(batch[0]!);
          return;
        }
        onQueue((q) => q.addAll(batch.map((w) => w.value.text))).then(
          (added) => (added ? batch.forEach((w) => w.resolve(true)) : batch.forEach(alone)),
          // The member answers "Queue full" (IllegalStateError) when the batch does not fit.
          (err: unknown) => (err instanceof IllegalStateError || (err as { cause?: unknown }).cause instanceof IllegalStateError ? batch.forEach(alone) : batch.forEach((w) => w.reject(err))),
        );
      },
      { maxItems: MAX_OFFER_BATCH },
    );
    const raw: RemovingQueue = {
      offer: (item: QueueItem, timeoutMs: number) => offers.add({ text: JSON.stringify(item), timeoutMs }),
      peek: () => onQueue(async (q) => parseOr(await q.peek(), null) as QueueItem | null),
    };
    const pollOne = async (timeoutMs: number, signal?: AbortSignal): Promise<QueueItem | null> => {
      // Blocking polls run in short slices so an abort is seen within one slice.
      // An in-flight slice is awaited, not abandoned: the member would still hand
      // it an item, which would then be lost.
      const deadline = Date.now() + Math.max(0, timeoutMs);
      for (;;) {
        if (signal?.aborted) return null;
        const left = deadline - Date.now();
        let v: string | null;
        try {
          v = await onQueue((q) => q.poll(Math.max(0, Math.min(POLL_SLICE_MS, left))));
        } catch (e) {
          if (this.closing) return null;
          throw e;
        }
        if (v != null) return JSON.parse(v) as QueueItem;
        if (left <= POLL_SLICE_MS) return null;
      }
    };
    const ledgerKv = this.kv<LedgerEntry>(ledgerMapFor(name));
    const ledger = new DeliveryLedger(ledgerKv);
    let reconciler: LedgerReconciler | undefined;
    const queue: MessageQueue = {
      offer: (item: QueueItem, timeoutMs: number) => ledger.recordAndOffer(item, raw, timeoutMs),
      receive: async (max: number, timeoutMs: number, signal?: AbortSignal) => {
        if (!reconciler && !this.closing) {
          // This process consumes: it takes its turn at offering again what consumers lost.
          reconciler = new LedgerReconciler(ledgerKv, this.kv<string>(LOCK_MAP), raw, this.opts.log ?? quiet, {
            // Unique per engine object: two clients in one process (or two instances given one name) must not both take the lease as their own.
            instance: `${this.opts.instanceName ?? 'client'}-${process.pid}-${randomUUID().slice(0, 8)}`,
            queueName: name,
            intervalMs: this.opts.ledgerScanMs ?? 2000,
            redeliverAfterMs: this.opts.leaseMs ?? 20_000,
          });
          this.reconcilers.push(reconciler);
          reconciler.start();
        }
        const first = await pollOne(timeoutMs, signal);
        if (!first) return [];
        const items = [first];
        if (max > 1) {
          // What else is waiting comes in one more round trip.
          const rest: string[] = [];
          try {
            await onQueue((q) => q.drainTo(rest, max - 1));
          } catch (e) {
            // The first item is in hand: hand it over rather than lose it.
            if (rest.length === 0) return [deliveryOf(first)];
            throw e;
          }
          for (const v of rest) {
            // A body that does not parse (only a foreign writer could make one) is skipped, not allowed to sink the batch.
            try {
              items.push(JSON.parse(v) as QueueItem);
            } catch {
              process.emitWarning(`skipped a queue item that is not JSON: ${v.slice(0, 80)}`);
            }
          }
        }
        const ds = items.map(deliveryOf);
        // A traced item says which member held the queue (a local lookup in the client's partition table).
        if (items.some((i) => i.traceparent !== undefined)) {
          const owner = await this.queueOwner(name).catch(() => undefined);
          if (owner) return ds.map((d) => (d.item.traceparent === undefined ? d : { ...d, from: `member ${owner}` }));
        }
        return ds;
      },
      ack: async (deliveries) => {
        await Promise.all(deliveries.map((d) => ledger.ack(d.tag)));
      },
      // Waiting and leased alike: the ledger holds every item offered and not acknowledged (the IQueue's size
      // would leave out the items taken and not yet acknowledged). Not on the offer path: the members keep the bound.
      depth: () => ledger.unacknowledged(),
      describe: async () => {
        const details = await this.describeQueue(name);
        const owner = details.owner === undefined ? undefined : this.opts.members[details.owner - 1];
        return { details, ...(owner ? { owner } : {}), redelivered: reconciler?.redelivered ?? 0 };
      },
    };
    this.queues.set(name, queue);
    return queue;
  }

  kv<V>(name: string): KvMap<V> {
    const onMap = <T>(fn: (m: IMap<string, string>) => Promise<T>) => this.call((c) => c.getMap<string, string>(name).then(fn));
    // TTL resolution on the members is one second (rounded up). No TTL = the map's default (none).
    // Members keep entry times in whole seconds, so a TTL of t ms can end up to
    // 1 s early. Rounding up and adding a second makes it "at least t": an
    // entry may outlive its TTL by < 2 s, never die before it.
    const ttl = (ttlMs?: number) => (ttlMs !== undefined && ttlMs > 0 ? Math.ceil(ttlMs / 1000) * 1000 + 1000 : undefined);
    return {
      set: (key, value, ttlMs) => onMap((m) => m.set(key, JSON.stringify(value), ttl(ttlMs))),
      get: (key) => onMap(async (m) => parseOr(await m.get(key), undefined) as V | undefined),
      // Atomic on the key's partition owner; an expired entry counts as absent.
      setIfAbsent: (key, value, ttlMs) => onMap(async (m) => parseOr(await m.putIfAbsent(key, JSON.stringify(value), ttl(ttlMs)), undefined) as V | undefined),
      delete: (key) => onMap((m) => m.delete(key)),
      // With a prefix the members filter (a LIKE on the key): only those entries travel. LIKE's pattern is the
      // prefix up to its first '%', '_' or backslash (no escape there covers all three), the rest checked here.
      entries: (prefix) =>
        onMap(async (m) =>
          (await (prefix ? m.entrySetWithPredicate(Predicates.like('__key', `${prefix.split(/[%_\\]/)[0]}%`)) : m.entrySet()))
            .filter(([k]) => prefix === undefined || k.startsWith(prefix))
            .map(([k, v]) => [k, JSON.parse(v) as V] as [string, V])
            .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)),
        ),
    };
  }

  async ping(): Promise<void> {
    // One real round trip, to the member owning the key's partition.
    await this.call((c) =>
      withTimeout(
        c.getMap<string, string>('__hazel-lab-ping').then((m) => m.containsKey('ping')),
        this.opts.connectTimeoutMs,
        () => this.unreachable('no answer to ping'),
      ),
    );
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.watch?.timer);
      this.wakeWaiters();
      // Stopped while the client still serves them: a reconciler hands back its lease.
      await Promise.all(this.reconcilers.map((r) => r.stop().catch(() => undefined)));
      // Their listeners end with the client, shut down below.
      for (const m of this.mirrors.values()) void m.close();
      this.mirrors.clear();
      const pending = this.client;
      this.client = undefined;
      if (!pending) return;
      try {
        // A start in progress settles within its own connect timeout.
        const client = await withTimeout(pending, this.opts.connectTimeoutMs + 1000, () => new Error('client start still pending'));
        await withTimeout(client.shutdown(), CLOSE_TIMEOUT_MS, () => new Error('client shutdown timed out'));
      } catch {
        // Start failed (the client then shut itself down) or shutdown hung: nothing more to release.
      }
    })();
    return this.closing;
  }

  // --- connection handling ---
  //
  // asyncStart is deliberately off. In hazelcast-client 5.6.0 an async start never
  // opens connections to the other members (connectToAllClusterMembers only runs
  // on a blocking start), so every write waited the 5 s backup-ack timeout for
  // acks from members it had no connection to. Instead the blocking start runs
  // in the background, bounded by clusterConnectTimeoutMillis; when it gives up,
  // or a connected client gives up reconnecting, the next call starts a new one.

  private startClient(): void {
    const { members, preferredMember, clusterName, connectTimeoutMs } = this.opts;
    const ordered = preferredMember ? [preferredMember, ...members.filter((m) => m !== preferredMember)] : members;
    const onLog = this.opts.onClientLog;
    const generation = ++this.generation;
    const config: ClientConfig = {
      clusterName,
      ...(this.opts.instanceName ? { instanceName: this.opts.instanceName } : {}),
      network: {
        clusterMembers: ordered,
        connectionTimeout: Math.min(connectTimeoutMs, 5000),
        // A request cut off by a dying member is re-sent: a duplicate offer or
        // put is harmless (ids dedupe downstream), a failed one is a lost message.
        redoOperation: true,
      },
      connectionStrategy: {
        asyncStart: false,
        reconnectMode: ReconnectMode.ON,
        connectionRetry: {
          initialBackoffMillis: 200,
          maxBackoffMillis: 1000,
          multiplier: 1.5,
          jitter: 0.2,
          clusterConnectTimeoutMillis: connectTimeoutMs,
        },
      },
      lifecycleListeners: [(state) => this.onLifecycle(generation, state)],
      membershipListeners: [{ memberAdded: () => this.disruptions++, memberRemoved: () => this.disruptions++ }],
      properties: {
        'hazelcast.client.invocation.timeout.millis': this.opts.invocationTimeoutMs,
        'hazelcast.client.invocation.retry.pause.millis': 250,
        // Keep the preferred member first.
        'hazelcast.client.shuffle.member.list': false,
        'hazelcast.client.heartbeat.timeout': 15_000,
        'hazelcast.logging.level': onLog ? 'WARN' : 'OFF',
      },
      ...(onLog ? { customLogger: routedLogger(onLog) } : {}),
    };
    this.connected = false;
    const started = Client.newHazelcastClient(config);
    this.client = started;
    started.then(
      () => {
        if (generation === this.generation) this.connected = true;
        this.wakeWaiters();
      },
      (e: unknown) => {
        if (generation === this.generation) {
          this.lastProblem = e instanceof Error ? e.message : String(e);
          this.client = undefined;
        }
        this.wakeWaiters();
      },
    );
  }

  private onLifecycle(generation: number, state: LifecycleState): void {
    if (generation !== this.generation) return;
    if (state === LifecycleState.CONNECTED) {
      this.connected = true;
      this.lastProblem = undefined;
      this.wakeWaiters();
    } else if (state === LifecycleState.DISCONNECTED) {
      this.connected = false;
      this.disruptions++;
      this.lastProblem = 'lost the connection to the cluster';
    } else if (state === LifecycleState.SHUTDOWN && !this.closing) {
      // The client gave up (start or reconnect timed out): start afresh on next use.
      this.connected = false;
      this.lastProblem ??= 'client gave up connecting';
      this.client = undefined;
      this.wakeWaiters();
    }
  }

  private wakeWaiters(): void {
    for (const w of this.connectWaiters) w();
    this.connectWaiters.clear();
  }

  private unreachable(detail?: string): HazelcastUnreachableError {
    const why = detail ?? this.lastProblem;
    return new HazelcastUnreachableError(
      `Hazelcast cluster '${this.opts.clusterName}' unreachable at ${this.opts.members.join(', ')} ` +
        `(no connection within ${this.opts.connectTimeoutMs} ms${why ? `; ${why}` : ''})`,
    );
  }

  /** The connected client, waiting at most connectTimeoutMs for a (re)connection. */
  private async ready(): Promise<Client> {
    const deadline = Date.now() + this.opts.connectTimeoutMs;
    for (;;) {
      if (this.closing) throw new Error('Hazelcast engine closed');
      if (!this.client) this.startClient();
      const pending = this.client!;
      const left = deadline - Date.now();
      if (left <= 0) throw this.unreachable();
      let client: Client;
      try {
        client = await withTimeout(pending, left, () => this.unreachable());
      } catch (e) {
        if (isEngineUnavailable(e)) throw e;
        throw this.unreachable(e instanceof Error ? e.message : String(e));
      }
      if (this.connected && pending === this.client) return client;
      // Reconnecting: wait for CONNECTED, or for SHUTDOWN and then a fresh start.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.connectWaiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.max(0, deadline - Date.now()));
        this.connectWaiters.add(done);
      });
    }
  }

  /** Runs fn on a connected client; connection-level failures become HazelcastUnreachableError. */
  private async call<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.ready();
    try {
      return await fn(client);
    } catch (e) {
      // The member this client reaches is on a side of a partition smaller
      // than the structure's split-brain protection allows: nothing is
      // written there. Another instance, on the other side, can serve it.
      if (e instanceof SplitBrainProtectionError) {
        throw new ProtectionError(`Hazelcast cluster '${this.opts.clusterName}' refused the call: this side of a partition is too small (${e.message})`, { cause: e });
      }
      if (isConnectionFailure(e)) {
        throw new HazelcastUnreachableError(
          `Hazelcast cluster '${this.opts.clusterName}' at ${this.opts.members.join(', ')} failed the request: ${(e as Error).message}`,
          { cause: e },
        );
      }
      // Whatever else the cluster answered (a refusal, a timeout of its own): the call could not be served now.
      if (e instanceof HazelcastError && !isEngineUnavailable(e)) throw new EngineUnavailableError(`Hazelcast: ${e.message}`, { cause: e });
      throw e;
    }
  }
}

/**
 * hazelcast-client 5.6.0 (pinned) keeps a removed listener's registration and
 * adds it again on every new connection, so each listener added and removed
 * would come back, sending events, after the next reconnect. This drops it
 * from the client's internal table; if that table is not where 5.6.0 keeps
 * it, nothing is done.
 */
function forgetListener(client: Client, id: string): void {
  const service = (client as unknown as { getListenerService?: () => { registrations?: unknown } }).getListenerService?.();
  if (service?.registrations instanceof Map) service.registrations.delete(id);
}

function isConnectionFailure(e: unknown): boolean {
  return (
    e instanceof ClientNotActiveError ||
    e instanceof ClientOfflineError ||
    e instanceof IOError ||
    e instanceof TargetDisconnectedError ||
    e instanceof OperationTimeoutError ||
    e instanceof HazelcastInstanceNotActiveError
  );
}

const quiet: LedgerLog = { warn: () => {} };

/** A received item as a delivery: the ledger marks an item it offers again (`redelivery`), which the consumer sees as `redelivered`. */
function deliveryOf(got: QueueItem & { redelivery?: number }): Delivery {
  if (got.redelivery === undefined) return { item: got, tag: got.id };
  const { redelivery: _n, ...item } = got;
  return { item, tag: item.id, redelivered: true };
}

function parseOr<T>(v: string | null | undefined, none: T): unknown {
  return v == null ? none : JSON.parse(v);
}

// --- small utilities ---

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Sends the client's warnings and errors to the caller; drops the chatter below. */
function routedLogger(onLog: (level: 'warn' | 'error', message: string) => void): ILogger {
  const fmt = (objectName: string, message: string, furtherInfo?: unknown) =>
    `[hazelcast-client ${objectName}] ${message}${furtherInfo instanceof Error ? ` - ${furtherInfo.message}` : furtherInfo ? ` - ${String(furtherInfo)}` : ''}`;
  const none = () => {};
  return {
    log: (level, objectName, message, furtherInfo) => {
      if (level === LogLevel.ERROR) onLog('error', fmt(objectName, message, furtherInfo));
      else if (level === LogLevel.WARN) onLog('warn', fmt(objectName, message, furtherInfo));
    },
    error: (objectName, message, furtherInfo) => onLog('error', fmt(objectName, message, furtherInfo)),
    warn: (objectName, message, furtherInfo) => onLog('warn', fmt(objectName, message, furtherInfo)),
    info: none,
    debug: none,
    trace: none,
  };
}
