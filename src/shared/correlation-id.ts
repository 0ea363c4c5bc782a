import { randomUUID } from 'node:crypto';
import { CORRELATION_ID_MAX, CORRELATION_ID_PATTERN } from '../contracts/http.js';

const PLAIN = new RegExp(CORRELATION_ID_PATTERN);

/**
 * Why a correlation id sent by a client is not taken as it is, or undefined
 * when it is short and plain (see CORRELATION_ID_PATTERN). Absent is fine: a
 * fresh id is made without a word.
 */
export function correlationIdProblem(sent: string | string[] | undefined): string | undefined {
  if (sent === undefined) return undefined;
  if (Array.isArray(sent)) return 'sent more than once';
  if (sent.length === 0) return 'empty';
  if (sent.length > CORRELATION_ID_MAX) return `longer than ${CORRELATION_ID_MAX} characters`;
  if (!PLAIN.test(sent)) return 'characters other than letters, digits, ".", "_", "-" or ":"';
  return undefined;
}

/**
 * The correlation id a request carries through the system: the one the client
 * sent when it is short and plain, else a fresh UUID. A long or odd one is
 * replaced rather than refused: the client's message still goes through, and
 * nothing the client wrote into the header reaches a log line or a store.
 */
export function correlationIdOf(sent: string | string[] | undefined): string {
  return typeof sent === 'string' && correlationIdProblem(sent) === undefined ? sent : randomUUID();
}
