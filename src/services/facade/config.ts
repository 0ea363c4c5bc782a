import { commonFrom, commonSettings, type CommonConfig } from '../../shared/common-config.js';
import { readSettings, setting, type Source } from '../../shared/settings.js';

/** The facade's settings, declared once: validation, --help and the README's table all come from here. */
export const facadeSettings = {
  ...commonSettings('facade', 8000),
  bodyLimit: setting.int('body-limit', 'BODY_LIMIT', 65_536, 16, 64 * 1024 * 1024, 'largest accepted request body in bytes'),
  // lan: longer than a call waits on a cut-off member (~10 s), so healthy instances are slow, not failed.
  attemptTimeoutMs: { ...setting.int('attempt-timeout-ms', 'ATTEMPT_TIMEOUT_MS', 1000, 10, 600_000, 'longest one call to one logging/messages instance may take'), profiles: { lan: 10_000 } },
  requestDeadlineMs: { ...setting.int('request-deadline-ms', 'REQUEST_DEADLINE_MS', 5000, 10, 600_000, 'longest one request may spend across all attempts'), profiles: { lan: 15_000 } },
  offerTimeoutMs: setting.int('offer-timeout-ms', 'OFFER_TIMEOUT_MS', 500, 0, 600_000, 'longest wait for room in a full queue before answering 503'),
  retryAfterSeconds: setting.int('retry-after-s', 'RETRY_AFTER_S', 1, 1, 3600, 'Retry-After of a 503'),
  breakerThreshold: setting.int('breaker-threshold', 'BREAKER_THRESHOLD', 3, 1, 1000, 'consecutive failures that open an instance\'s breaker'),
  breakerHalfOpenMs: setting.int('breaker-half-open-ms', 'BREAKER_HALF_OPEN_MS', 5000, 10, 600_000, 'how long an open breaker waits before one trial call'),
  registryRefreshMs: setting.int('registry-refresh-ms', 'REGISTRY_REFRESH_MS', 500, 50, 600_000, 'how often the registry is read again'),
  traceSampleRatio: setting.text('trace-sample-ratio', 'TRACE_SAMPLE_RATIO', '0', 'share of messages traced without being asked (0: only those sent with a sampled traceparent header, e.g. the dashboard\'s "Send and trace"; 1: all)', { pattern: /^(0(\.\d{1,6})?|1(\.0{1,6})?|\.\d{1,6})$/, expected: 'a number from 0 to 1, such as 0.01', range: '0–1' }),
  idempotencyTtlMs: setting.int('idempotency-ttl-ms', 'IDEMPOTENCY_TTL_MS', 24 * 3600_000, 1000, 30 * 24 * 3600_000, 'how long an Idempotency-Key is remembered'),
  consoleChannel: setting.choice('console-channel', 'CONSOLE_CHANNEL', 'none', ['none', 'ipc'] as const, "the launcher's channel for the dashboard's lab controls (set by npm start; none: a facade started alone, no controls)"),
  consoleToken: setting.secret('console-token', 'CONSOLE_TOKEN', "secret the dashboard's lab controls demand (x-console-token) when the facade listens beyond loopback; without it they are off there; never printed"),
} as const;

export interface FacadeConfig extends CommonConfig {
  service: 'facade';
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
  /** Share of messages traced without a sampled traceparent header (0–1). */
  traceSampleRatio: number;
  /** What the console's controls demand when the facade listens beyond loopback; undefined: none. Never logged. */
  consoleToken: string | undefined;
  /** ipc: the launcher gave this process an IPC channel for the console; none: started alone. */
  consoleChannel: 'none' | 'ipc';
}

export function loadFacadeConfig(src: Source, isTty = false): FacadeConfig {
  const v = readSettings(facadeSettings, src);
  return Object.freeze({
    service: 'facade',
    ...commonFrom(v, isTty),
    bodyLimit: v.bodyLimit,
    attemptTimeoutMs: v.attemptTimeoutMs,
    requestDeadlineMs: v.requestDeadlineMs,
    offerTimeoutMs: v.offerTimeoutMs,
    retryAfterSeconds: v.retryAfterSeconds,
    breakerThreshold: v.breakerThreshold,
    breakerHalfOpenMs: v.breakerHalfOpenMs,
    registryRefreshMs: v.registryRefreshMs,
    idempotencyTtlMs: v.idempotencyTtlMs,
    traceSampleRatio: Number(v.traceSampleRatio),
    consoleToken: v.consoleToken || undefined,
    consoleChannel: v.consoleChannel,
  });
}
