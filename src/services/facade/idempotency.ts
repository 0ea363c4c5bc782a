import { createHash } from 'node:crypto';
import type { KvMap } from '../../engine/ports.js';

/** What the facade keeps under an Idempotency-Key. */
export interface IdempotencyRecord {
  id: string;
  state: 'pending' | 'done';
  /** When the request holding the key started (0: it ended without success). */
  startedAt?: number;
  /** Fingerprint of the message the key was first used for; absent in records written before it was kept. */
  fingerprint?: string;
}

/** What to do with a request that carries a key, given what the key already holds. */
export type IdempotencyDecision =
  /** The key is new (it now holds this request): go on. */
  | { kind: 'new' }
  /** The same request was accepted before: answer its id again, store nothing. */
  | { kind: 'repeat'; id: string }
  /** The key was used for another message: refuse, keep the first. */
  | { kind: 'conflict'; id: string }
  /** The same request is still running elsewhere: ask to retry later. */
  | { kind: 'in-progress'; id: string }
  /** The same request started but did not finish: complete it under its id. */
  | { kind: 'take-over'; id: string };

/**
 * A fingerprint of a message: the same text sent as JSON or as text/plain is
 * the same request.
 */
export function fingerprintOf(msg: string): string {
  return createHash('sha256').update(msg, 'utf8').digest('hex');
}

/**
 * Decides from the record the key already held (`prior`, from set-if-absent)
 * and the new request's fingerprint. A different message under a used key is
 * a conflict whatever the state of the first: answering it as a repeat would
 * drop the new text silently.
 */
export function decide(prior: IdempotencyRecord | undefined, fingerprint: string, now: number, inProgressMs: number): IdempotencyDecision {
  if (prior === undefined) return { kind: 'new' };
  if (prior.fingerprint !== undefined && prior.fingerprint !== fingerprint) return { kind: 'conflict', id: prior.id };
  if (prior.state === 'done') return { kind: 'repeat', id: prior.id };
  if (now - (prior.startedAt ?? 0) < inProgressMs) return { kind: 'in-progress', id: prior.id };
  return { kind: 'take-over', id: prior.id };
}

/** What a request holding a key does next: go on under `id`, or answer at once. */
export type Claim = { go: true; id: string } | { go: false; decision: Exclude<IdempotencyDecision, { kind: 'new' | 'take-over' }> };

/**
 * The facade's Idempotency-Key handling as one unit over a shared map: a
 * request claims its key (set-if-absent), then marks it done or failed.
 * `inProgressMs` is how long a claim counts as running (the request deadline).
 */
export class IdempotencyKeys {
  constructor(
    private readonly kv: KvMap<IdempotencyRecord>,
    private readonly ttlMs: number,
    private readonly inProgressMs: number,
  ) {}

  /** Claims the key for a message with a fresh id; an engine failure rejects (EngineUnavailableError). */
  async claim(key: string, msg: string, freshId: string, now = Date.now()): Promise<Claim> {
    const fingerprint = fingerprintOf(msg);
    const prior = await this.kv.setIfAbsent(key, { id: freshId, state: 'pending', startedAt: now, fingerprint }, this.ttlMs);
    const decision = decide(prior, fingerprint, now, this.inProgressMs);
    switch (decision.kind) {
      case 'new':
        return { go: true, id: freshId };
      case 'take-over':
        // A repeat of a request that did not finish: complete it under the same id.
        await this.kv.set(key, { id: decision.id, state: 'pending', startedAt: now, fingerprint }, this.ttlMs).catch(() => undefined);
        return { go: true, id: decision.id };
      default:
        return { go: false, decision };
    }
  }

  /** The request failed: not in progress any more, so a repeat may take over at once, under the same id. */
  async failed(key: string, id: string, msg: string): Promise<void> {
    await this.kv.set(key, { id, state: 'pending', startedAt: 0, fingerprint: fingerprintOf(msg) }, this.ttlMs).catch(() => undefined);
  }

  /** The request succeeded: a repeat answers this id. */
  async done(key: string, id: string, msg: string): Promise<void> {
    await this.kv.set(key, { id, state: 'done', fingerprint: fingerprintOf(msg) }, this.ttlMs);
  }
}
