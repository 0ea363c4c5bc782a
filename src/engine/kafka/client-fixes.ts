/**
 * Workarounds for @platformatic/kafka 1.35 behaviour seen when a broker dies
 * (see each). Those that are a recovery step rather than a function live
 * where the step is taken, each with a comment naming the behaviour:
 * - the client keeps asking a dead broker from cached metadata (produce,
 *   fetch, ListOffsets, JoinGroup): clearMetadata() and retry
 *   (batch-producer.ts, consumer-session.ts), a new admin client
 *   (admin.ts AdminSession);
 * - it never looks a group coordinator up again once it has one: after
 *   failing heartbeats, commits or a second stream failure, a new consumer
 *   joins (consumer-session.ts);
 * - an idempotent producer whose sequence numbers went out of step does not
 *   recover, and two sends in flight to one partition put them out of step:
 *   one send at a time, and a new producer only when the broker says its
 *   producer id or sequence is out of step (producerOutOfStep below; a new
 *   producer must first get an id, which waits on the active controller —
 *   right after that controller died, for up to ~30 s) (batch-producer.ts).
 */
import { kGetConnection, type Consumer } from '@platformatic/kafka';

type GetConnection = (broker: unknown, callback: (error: Error | null, connection?: unknown) => void) => void;

/**
 * The client looks a broker up by node id in its metadata and reads `.host`
 * of the result: after a broker is fenced (it died) and drops out of the
 * metadata, a cached coordinator id gives undefined and a TypeError thrown
 * from a socket callback, which kills the process. Turn that into an error
 * the client's own retry and our recovery handle.
 */
export function guardUnknownBroker(client: object): void {
  const c = client as Record<symbol, GetConnection>;
  const original = c[kGetConnection]!.bind(client);
  c[kGetConnection] = (broker, callback) => {
    if (broker === undefined || broker === null) {
      callback(new Error('the broker asked for is not in the cluster metadata (it left or died)'));
      return;
    }
    original(broker, callback);
  };
}

/** Closes without waiting for its streams to finish (the promise overload of close() takes no force flag). */
export function forceClose(consumer: Consumer): Promise<void> {
  return new Promise<void>((resolve) => consumer.close(true, () => resolve()));
}


/**
 * The client reports most failures as nested AggregateErrors ("Producing
 * messages failed." around "produce failed 4 times." around the broker's
 * answer): one line with the innermost distinct messages says what happened.
 */
export function errorText(e: unknown): string {
  const seen: string[] = [];
  const walk = (x: unknown, depth: number) => {
    if (!(x instanceof Error) || depth > 4) return;
    const msg = x.message;
    if (msg && !seen.includes(msg)) seen.push(msg);
    const inner = (x as { errors?: unknown[] }).errors;
    if (Array.isArray(inner)) for (const i of inner.slice(0, 4)) walk(i, depth + 1);
  };
  walk(e, 0);
  return seen.length ? seen.join(' ← ') : String(e);
}

/** Broker answers after which an idempotent producer cannot go on: its id or sequence numbers are out of step. */
const OUT_OF_STEP = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

/** True when the error (or one nested in it) is a broker answer that only a new producer gets past. */
export function producerOutOfStep(e: unknown, depth = 0): boolean {
  if (!(e instanceof Error) || depth > 5) return false;
  if (OUT_OF_STEP.has(String((e as { apiId?: unknown }).apiId))) return true;
  const inner = (e as { errors?: unknown[] }).errors;
  return Array.isArray(inner) && inner.some((i) => producerOutOfStep(i, depth + 1));
}
