import { CORRELATION_HEADER, NEXT_CURSOR_HEADER } from '../../contracts/http.js';
import { PermanentCallError } from '../../lib/errors.js';
import type { InstanceRecord } from '../../shared/registry.js';
import type { ServiceCaller } from './caller.js';
import type { InstanceDirectory } from './directory.js';
import type { AttemptWatch, InstanceCaller } from './resilience.js';

/** A traced call: each attempt starts its spans and says what to send with it. */
export interface CallTrace {
  attempt(instance: InstanceRecord): AttemptTrace;
}

export interface AttemptTrace extends AttemptWatch {
  /** Headers to add to this attempt's request (its traceparent). */
  headers?: Record<string, string>;
  /** The body to send instead (a batch whose entries carry this attempt's traceparents). */
  body?: unknown;
}

export interface ServiceAnswer {
  body: unknown;
  /** The next page's cursor, when the answer is a page. */
  next: string | undefined;
}

/**
 * Calls a logging or messages instance through the resilience policies: one
 * chosen at random, failing over to the others, each behind its breaker.
 */
export class ServiceCalls {
  constructor(
    private readonly directory: InstanceDirectory,
    private readonly caller: ServiceCaller,
    readonly policies: InstanceCaller,
  ) {}

  async call(service: 'logging' | 'messages', method: 'GET' | 'POST', path: string, body: unknown, correlationId: string, raw: boolean | 'buffer' = false, trace?: CallTrace) {
    const instances = await this.directory.of(service);
    const op = async (inst: InstanceRecord, signal: AbortSignal, t: AttemptTrace | undefined): Promise<ServiceAnswer> => {
      const headers = t?.headers ? { [CORRELATION_HEADER]: correlationId, ...t.headers } : { [CORRELATION_HEADER]: correlationId };
      const res = await this.caller.call(inst.url, { method, path, body: t?.body ?? body, signal, raw, headers });
      // A 400 or 413 is about the request itself: every instance would answer the same, so it is
      // not retried and does not count against the instance's breaker. Any other failure may go
      // differently elsewhere.
      const answer = Buffer.isBuffer(res.body) && res.status >= 300 ? res.body.toString('utf8') : res.body;
      if (res.status === 400 || res.status === 413) throw new PermanentCallError(`${inst.instance} answered ${res.status}`, res.status, answer);
      if (res.status >= 300) throw new Error(`${inst.instance} answered ${res.status}`);
      const next = res.headers[NEXT_CURSOR_HEADER];
      return { body: res.body, next: typeof next === 'string' ? next : undefined };
    };
    return trace ? this.policies.call(instances, op, { watch: (inst) => trace.attempt(inst) }) : this.policies.call(instances, op);
  }
}

/** The `message` of another service's error answer (parsed or raw JSON), else the answer itself. */
export function innerMessage(body: unknown): string {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      return b as string;
    }
  }
  const m = (b as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : JSON.stringify(b);
}
