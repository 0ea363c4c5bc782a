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
export interface LogRequest {
  id: string;
  msg: string;
  correlationId: string;
}

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

interface Pending<R> {
  req: LogRequest;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class LogBatcher<R> {
  private pending: Array<Pending<R>> = [];
  private bytes = 0;

  constructor(private readonly o: LogBatcherOptions<R>) {}

  send(req: LogRequest): Promise<R> {
    const bytes = sizeOf(req);
    if (bytes > this.o.maxBytes) return this.o.one(req);
    return new Promise<R>((resolve, reject) => {
      if (this.bytes + bytes > this.o.maxBytes) this.flush();
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ req, resolve, reject });
      this.bytes += bytes;
      if (this.pending.length >= this.o.maxEntries) this.flush();
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.bytes = 0;
    if (batch.length === 0) return;
    if (batch.length === 1) {
      const b = batch[0]!;
      this.o.one(b.req).then(b.resolve, b.reject);
      return;
    }
    const alone = () => batch.forEach((b) => this.o.one(b.req).then(b.resolve, b.reject));
    this.o.many(batch.map((b) => b.req)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i]!)),
      (err: unknown) => (this.o.isPermanent(err) ? alone() : batch.forEach((b) => b.reject(err))),
    );
  }
}

/** JSON size of one entry, near enough: text bytes plus the id and field names. */
function sizeOf(r: LogRequest): number {
  return Buffer.byteLength(r.msg) + r.id.length + r.correlationId.length + 48;
}
