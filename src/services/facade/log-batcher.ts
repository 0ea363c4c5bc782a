import type { LogRequest } from '../../contracts/http.js';
import { TurnBatch, type Waiting } from '../../lib/turn-batch.js';

/**
 * Groups the messages the facade hands to logging in one turn of the event
 * loop into one call: under load, one POST /log/batch to one logging instance
 * (chosen at random, failing over like a single call) instead of one request
 * per message. A message arriving alone goes as POST /log, as before.
 *
 * Each message still gets its own answer: the outcome of the call that
 * carried it. When a batch is refused as a bad request, each of its messages
 * is sent again on its own, so only a bad one fails. Any other failure (no
 * instance could store it) fails the whole batch, as it would each message.
 */
export type { LogRequest };

export interface LogBatcherOptions<R> {
  /** Sends one message. */
  one: (r: LogRequest) => Promise<R>;
  /** Sends several in one call; answers one result per request, in order. */
  many: (rs: LogRequest[]) => Promise<R[]>;
  /** A failure that says the request itself is bad (sent again one by one). */
  isPermanent: (err: unknown) => boolean;
  /** Most messages per batch. */
  maxEntries: number;
  /** Most bytes of messages per batch (roughly, as sent); a larger message goes alone. */
  maxBytes: number;
}

export class LogBatcher<R> {
  private readonly batch: TurnBatch<LogRequest, R>;

  constructor(private readonly o: LogBatcherOptions<R>) {
    this.batch = new TurnBatch((b) => this.sendBatch(b), { maxItems: o.maxEntries, maxSize: o.maxBytes });
  }

  send(req: LogRequest): Promise<R> {
    const bytes = sizeOf(req);
    return bytes > this.o.maxBytes ? this.o.one(req) : this.batch.add(req, bytes);
  }

  private sendBatch(batch: Array<Waiting<LogRequest, R>>): void {
    const alone = (w: Waiting<LogRequest, R>) => this.o.one(w.value).then(w.resolve, w.reject);
    if (batch.length === 1) {
      void alone(batch[0]!);
      return;
    }
    this.o.many(batch.map((w) => w.value)).then(
      (results) => batch.forEach((w, i) => w.resolve(results[i]!)),
      (err: unknown) => (this.o.isPermanent(err) ? batch.forEach(alone) : batch.forEach((w) => w.reject(err))),
    );
  }
}

/** JSON size of one entry, near enough: text bytes plus the id and field names. */
function sizeOf(r: LogRequest): number {
  return Buffer.byteLength(r.msg) + r.id.length + (r.correlationId?.length ?? 0) + 48;
}
