import {
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  isBrokenCircuitError,
  isTaskCancelledError,
  retry,
  timeout,
  TimeoutStrategy,
  type CircuitBreakerPolicy,
  type RetryPolicy,
  type TimeoutPolicy,
} from 'cockatiel';
import { isPermanentCallError, NoInstanceError } from '../../lib/errors.js';
import type { InstanceRecord } from '../../shared/registry.js';

export interface ResilienceOptions {
  /** Longest one call to one instance may take. */
  attemptTimeoutMs: number;
  /** Longest a whole request may spend across attempts. */
  deadlineMs: number;
  /** Consecutive failures that open an instance's breaker. */
  breakerThreshold: number;
  /** How long an open breaker stays open before one trial call. */
  breakerHalfOpenMs: number;
}


export interface AttemptLog {
  instance: string;
  ok: boolean;
  error?: string;
}

/** Watches one attempt (to trace it): made before the attempt, ended with its failure, if any. */
export interface AttemptWatch {
  end(err?: unknown): void;
}

/** What an attempt's failure was, in words for a trace: a breaker that refused it, a timeout, or the error. */
export function attemptFailure(err: unknown): string {
  if (isBrokenCircuitError(err)) return 'breaker open: not called';
  if (isTaskCancelledError(err)) return 'timed out';
  return err instanceof Error ? err.message : String(err);
}

export interface CallOutcome<T> {
  value: T;
  instance: InstanceRecord;
  attempts: AttemptLog[];
}

/**
 * Calls one instance of a service and, on failure, others: instances in
 * random order (those whose breaker is open go last), a timeout per attempt,
 * exponential backoff with jitter between attempts, a circuit breaker per
 * instance and a deadline over the whole call — all cockatiel policies.
 */
export class InstanceCaller {
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();
  /** When each instance's breaker last opened. */
  private readonly openedAt = new Map<string, number>();
  private readonly retryPolicies = new Map<string, RetryPolicy>();
  // Policies are built once and shared by every call: building them per call
  // and aborting each finished attempt's signal (cockatiel's default) cost
  // more CPU than the call itself on a busy facade.
  private readonly perAttempt: TimeoutPolicy;
  private readonly deadline: TimeoutPolicy;
  onRetry: ((service: string) => void) | undefined;

  constructor(private readonly o: ResilienceOptions) {
    this.perAttempt = timeout(o.attemptTimeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
    this.deadline = timeout(o.deadlineMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
  }

  private retryPolicy(service: string, maxAttempts: number): RetryPolicy {
    const key = `${service}/${maxAttempts}`;
    let p = this.retryPolicies.get(key);
    if (!p) {
      p = retry(handleWhen((e) => !isPermanentCallError(e)), {
        maxAttempts,
        backoff: new ExponentialBackoff({ initialDelay: 5, maxDelay: 250 }),
      });
      p.onRetry(() => {
        this.onRetry?.(service);
      });
      this.retryPolicies.set(key, p);
    }
    return p;
  }

  breaker(instance: InstanceRecord): CircuitBreakerPolicy {
    const key = instance.url;
    let b = this.breakers.get(key);
    if (!b) {
      b = circuitBreaker(handleWhen((e) => !isPermanentCallError(e)), {
        halfOpenAfter: this.o.breakerHalfOpenMs,
        breaker: new ConsecutiveBreaker(this.o.breakerThreshold),
      });
      b.onBreak(() => this.openedAt.set(key, Date.now()));
      this.breakers.set(key, b);
    }
    return b;
  }

  breakerState(instance: InstanceRecord): 'closed' | 'open' | 'half-open' | 'isolated' {
    const s = this.breakers.get(instance.url)?.state ?? CircuitState.Closed;
    return s === CircuitState.Open ? 'open' : s === CircuitState.HalfOpen ? 'half-open' : s === CircuitState.Isolated ? 'isolated' : 'closed';
  }

  async call<T, W extends AttemptWatch = AttemptWatch>(
    instances: InstanceRecord[],
    op: (instance: InstanceRecord, signal: AbortSignal, watch: W | undefined) => Promise<T>,
    opts: { rounds?: number; watch?: (instance: InstanceRecord) => W } = {},
  ): Promise<CallOutcome<T>> {
    if (instances.length === 0) throw new NoInstanceError('no instance registered');
    // Open breakers go last, unless their half-open time has come: cockatiel
    // lets one trial call through then, and only a call made to the instance
    // can close its breaker again (were it always last, an instance that
    // failed once would get no traffic while the others answer).
    const now = Date.now();
    const waiting = (r: InstanceRecord) => this.breakerState(r) === 'open' && now - (this.openedAt.get(r.url) ?? 0) < this.o.breakerHalfOpenMs;
    const order = shuffle(instances).sort((a, b) => Number(waiting(a)) - Number(waiting(b)));
    const attempts: AttemptLog[] = [];
    const retryPolicy = this.retryPolicy(instances[0]!.service, order.length * (opts.rounds ?? 2) - 1);
    const perAttempt = this.perAttempt;
    let n = 0;
    let last: InstanceRecord = order[0]!;
    const value = await this.deadline.execute((_ctx, deadlineSignal) =>
      retryPolicy.execute(async () => {
        const inst = order[n++ % order.length]!;
        last = inst;
        // Made before the breaker is asked, so a refusal is seen too.
        const watch = opts.watch?.(inst);
        try {
          const v = await this.breaker(inst).execute(() => perAttempt.execute((_c, signal) => op(inst, signal, watch), deadlineSignal));
          attempts.push({ instance: inst.instance, ok: true });
          watch?.end();
          return v;
        } catch (err) {
          attempts.push({ instance: inst.instance, ok: false, error: (err as Error).message });
          watch?.end(err);
          throw err;
        }
      }, deadlineSignal),
    );
    return { value, instance: last, attempts };
  }
}

export function shuffle<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
