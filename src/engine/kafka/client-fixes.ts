/**
 * Workarounds for @platformatic/kafka 1.35 behaviour seen when a broker dies
 * (see each). Those that are a recovery step rather than a function live
 * where the step is taken, each with a comment naming the behaviour:
 * - the client keeps asking a dead broker from cached metadata (produce,
 *   fetch, ListOffsets, JoinGroup): clearMetadata() and retry
 *   (batch-producer.ts, consumer-session.ts), a new admin client
 *   (admin.ts AdminSession);
 * - it never looks a group coordinator up again once it has one: after
 *   failing heartbeats, commits, a second stream failure or any failed join
 *   (a consume() after "not the correct coordinator" was seen to hang), a new
 *   consumer joins, each join bounded (consumer-session.ts);
 * - a stream it makes for a consumer closed while consume() was in flight
 *   fails its start with "Client is closed" before anyone can listen, and the
 *   unheard 'error' is thrown: quietStreamsOfClosedConsumers below;
 * - an idempotent producer whose sequence numbers went out of step does not
 *   recover, and two sends in flight to one partition put them out of step
 *   (the client moves a partition's sequence on only when a send is
 *   answered): never two sends in flight on one partition, and a new
 *   producer only when the broker says its producer id or sequence is out of
 *   step (producerOutOfStep below; a new producer must first get an id,
 *   which waits on the active controller — right after that controller
 *   died, for up to ~30 s) (batch-producer.ts).
 */
import { kGetConnection, MessagesStream, type Consumer } from '@platformatic/kafka';

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

let streamsQuieted = false;

/**
 * A messages stream whose consumer is closed by the time the stream starts
 * (closed while consume() was in flight: this queue closing, or dropping a
 * consumer to join again) fails its start with the client's "Client is
 * closed" and emits it before the caller of consume() gets the stream to
 * listen, so the process throws. That stream has nothing to read: end it
 * without an error. (The client already does so for a stream closed itself.)
 */
export function quietStreamsOfClosedConsumers(): void {
  if (streamsQuieted) return;
  streamsQuieted = true;
  type Construct = (this: MessagesStream<unknown, unknown, unknown, unknown>, callback: (error?: Error | null) => void) => void;
  const proto = MessagesStream.prototype as unknown as { _construct: Construct };
  const original = proto._construct;
  proto._construct = function (callback) {
    original.call(this, (error) => {
      if (error && (error as { closed?: unknown }).closed === true) {
        callback();
        this.destroy();
        return;
      }
      callback(error);
    });
  };
}
