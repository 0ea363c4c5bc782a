/**
 * Every error class the services raise or handle, each with a marker property
 * and an `isX` guard. The guards check the marker, not `instanceof`, so an
 * error still counts when it crossed a copy of this module (tsx and dist in
 * one test run) or was wrapped.
 */

const marked = (e: unknown, marker: string): boolean => typeof e === 'object' && e !== null && (e as Record<string, unknown>)[marker] === true;

/** The engine (database file, cluster, broker) could not serve the call now; retrying later may work. Answered with 503. */
export class EngineUnavailableError extends Error {
  readonly isEngineUnavailable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineUnavailableError';
  }
}
export const isEngineUnavailable = (e: unknown): e is EngineUnavailableError => marked(e, 'isEngineUnavailable');

/**
 * The engine refused the call to protect its data: this client's side of a
 * partitioned cluster is too small to write safely (split-brain protection).
 * Another instance, on the other side, may succeed: fail over.
 */
export class ProtectionError extends EngineUnavailableError {
  readonly isProtection = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtectionError';
  }
}
export const isProtectionError = (e: unknown): e is ProtectionError => marked(e, 'isProtection');

/** Thrown by a route to answer a specific 4xx/5xx with a clear message. */
export class HttpError extends Error {
  readonly isHttpError = true;
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
export const isHttpError = (e: unknown): e is HttpError => marked(e, 'isHttpError');

/** A setting has a bad value or an unknown name; its message is one line naming the flag, the variable and the expected form. */
export class ConfigError extends Error {
  readonly isConfigError = true;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
export const isConfigError = (e: unknown): e is ConfigError => marked(e, 'isConfigError');

/** A call another instance would answer the same way (a 400 or 413 about the request itself): not retried, no breaker count. */
export class PermanentCallError extends Error {
  readonly isPermanent = true;
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'PermanentCallError';
  }
}
export const isPermanentCallError = (e: unknown): e is PermanentCallError => marked(e, 'isPermanent');

/** No instance of the service is registered. */
export class NoInstanceError extends Error {
  readonly isNoInstance = true;
  constructor(message: string) {
    super(message);
    this.name = 'NoInstanceError';
  }
}
export const isNoInstanceError = (e: unknown): e is NoInstanceError => marked(e, 'isNoInstance');
