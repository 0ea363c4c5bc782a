/**
 * What every service's factory shares: the dependencies it is given, the
 * shape it returns, listening and registering on start, and an orderly stop.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Engine } from '../engine/ports.js';
import type { CommonConfig } from '../shared/common-config.js';
import type { HealthCheck } from '../shared/health.js';
import type { Metrics } from '../shared/metrics.js';
import { REGISTRY_MAP, RegistryMembership, type InstanceRecord, type ServiceName } from '../shared/registry.js';
import type { TraceSpan } from '../contracts/trace.js';
import { TRACE_MAP } from '../shared/tracing/engine-exporter.js';
import { Tracing } from '../shared/tracing/tracing.js';

/** What a factory needs besides its config and engine. Both are required: tests pass a silent logger and a private registry. */
export interface ServiceDeps {
  logger: Logger;
  metrics: Metrics;
}

/** A built service: its HTTP app (usable with `inject` before start), and its life. */
export interface Service {
  readonly app: FastifyInstance;
  /** Listens, registers in the registry (logging, messages), starts background work. Resolves with the URL it listens on. */
  start(): Promise<string>;
  /** Deregisters, closes the HTTP server, stops background work; every step runs even if one fails. Safe to call twice. */
  stop(): Promise<void>;
}

/** The port could not be bound; `code` is EADDRINUSE, EACCES or EADDRNOTAVAIL. */
export class ListenError extends Error {
  readonly isListenError = true;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}
export const isListenError = (e: unknown): e is ListenError => typeof e === 'object' && e !== null && (e as { isListenError?: unknown }).isListenError === true;

interface ShellOptions {
  service: ServiceName;
  config: CommonConfig;
  engine: Engine;
  app: FastifyInstance;
  logger: Logger;
  /** Write this instance into the registry while it runs (the facade finds logging and messages instances there). */
  register: boolean;
  /** Background work, started once the server listens. */
  onStart?: () => void;
  /** Cleanup after the server closed. */
  onStop?: () => Promise<void>;
}

/**
 * The life every service has. The registry entry is written with the port
 * actually bound (a config port of 0 takes any free one).
 */
export function serviceShell(o: ShellOptions): Service & { readonly membership: RegistryMembership | undefined } {
  let membership: RegistryMembership | undefined;
  let stopping: Promise<void> | undefined;
  return {
    app: o.app,
    get membership() {
      return membership;
    },
    async start() {
      const { host, port } = o.config;
      try {
        await o.app.listen({ host, port });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new ListenError(code, `cannot listen on ${host}:${port} (${code}${code === 'EADDRINUSE' ? ': the port is taken' : ''})`);
        }
        throw err;
      }
      const addr = o.app.server.address();
      const bound = typeof addr === 'object' && addr ? addr.port : port;
      const url = `http://${urlHost(o.config.advertiseHost)}:${bound}`;
      if (o.register) {
        membership = new RegistryMembership(
          o.engine.kv<InstanceRecord>(REGISTRY_MAP),
          { service: o.service, instance: o.config.name, url, pid: process.pid, startedAt: new Date().toISOString() },
          o.config.registryTtlMs,
          o.logger,
        );
        membership.start();
      }
      o.onStart?.();
      o.logger.info({ url: `http://${urlHost(host)}:${bound}`, engine: o.engine.kind, service: o.service }, 'listening');
      return url;
    },
    stop() {
      stopping ??= (async () => {
        const steps: Array<[string, () => Promise<unknown>]> = [
          ['deregister', async () => membership?.stop()],
          ['http', async () => o.app.close()],
          ['service', async () => o.onStop?.()],
        ];
        for (const [name, step] of steps) {
          try {
            await step();
          } catch (err) {
            o.logger.warn({ step: name, err }, 'shutdown step failed');
          }
        }
      })();
      return stopping;
    },
  };
}

/** Ready when the engine answers and this instance is in the registry. */
export function registeredReadiness(engine: Engine, shell: { readonly membership: RegistryMembership | undefined }): HealthCheck {
  return {
    ready: async () => {
      try {
        await engine.ping();
      } catch (err) {
        throw new Error(`engine unreachable: ${(err as Error).message}`);
      }
      const m = shell.membership;
      // The engine answers now: a heartbeat that failed before (a partition since healed) is retried at once rather than reported.
      if (m && !m.registered && m.lastError) await m.renew();
      if (!m?.registered) throw new Error(`not registered${m?.lastError ? `: ${m.lastError}` : ' yet'}`);
      return { engine: engine.kind, registered: true };
    },
  };
}

/** A service's tracing: spans of traced messages go to the engine's trace map (and to a collector when one is set). */
export function serviceTracing(service: ServiceName | 'facade', config: Pick<CommonConfig, 'name' | 'otlpEndpoint'>, engine: Engine): Tracing {
  return new Tracing({ service, instance: config.name, store: engine.kv<TraceSpan[]>(TRACE_MAP), ...(config.otlpEndpoint ? { otlpEndpoint: config.otlpEndpoint } : {}) });
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
