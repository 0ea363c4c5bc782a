import { readCommon, type CommonConfig } from '../../shared/common-config.js';
import { SettingsReader, type Source } from '../../shared/settings.js';

export interface FacadeConfig extends CommonConfig {
  /** Largest accepted request body in bytes. */
  bodyLimit: number;
  /** Longest one call to one logging/messages instance may take. */
  attemptTimeoutMs: number;
  /** Longest one request may spend across all attempts. */
  requestDeadlineMs: number;
  /** Longest the facade waits for room in a full queue before answering 503. */
  offerTimeoutMs: number;
  /** Seconds a client is told to wait (Retry-After) when the queue is full. */
  retryAfterSeconds: number;
  breakerThreshold: number;
  breakerHalfOpenMs: number;
  /** How often the registry is re-read. */
  registryRefreshMs: number;
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs: number;
}

export function loadFacadeConfig(src: Source): FacadeConfig {
  const r = new SettingsReader(src);
  const c = readCommon(r, 'facade', 8000);
  const cfg: FacadeConfig = {
    ...c,
    bodyLimit: r.int('body-limit', 'BODY_LIMIT', 65_536, 16, 64 * 1024 * 1024),
    attemptTimeoutMs: r.int('attempt-timeout-ms', 'ATTEMPT_TIMEOUT_MS', 1000, 10, 600_000),
    requestDeadlineMs: r.int('request-deadline-ms', 'REQUEST_DEADLINE_MS', 5000, 10, 600_000),
    offerTimeoutMs: r.int('offer-timeout-ms', 'OFFER_TIMEOUT_MS', 500, 0, 600_000),
    retryAfterSeconds: r.int('retry-after-s', 'RETRY_AFTER_S', 1, 1, 3600),
    breakerThreshold: r.int('breaker-threshold', 'BREAKER_THRESHOLD', 3, 1, 1000),
    breakerHalfOpenMs: r.int('breaker-half-open-ms', 'BREAKER_HALF_OPEN_MS', 5000, 10, 600_000),
    registryRefreshMs: r.int('registry-refresh-ms', 'REGISTRY_REFRESH_MS', 500, 50, 600_000),
    idempotencyTtlMs: r.int('idempotency-ttl-ms', 'IDEMPOTENCY_TTL_MS', 24 * 3600_000, 1000, 30 * 24 * 3600_000),
  };
  r.rejectUnknown();
  return Object.freeze(cfg);
}
