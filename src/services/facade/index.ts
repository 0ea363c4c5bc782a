/**
 * The facade: the one public entry. Built by one factory that the entry and
 * the tests share; each route group is a plugin in routes/.
 */
import type { Engine } from '../../engine/ports.js';
import { createHttpServer } from '../../shared/http.js';
import { healthRoutes } from '../../shared/health.js';
import { REGISTRY_MAP, type InstanceRecord } from '../../shared/registry.js';
import { serviceShell, serviceTracing, type Service, type ServiceDeps } from '../runtime.js';
import { UndiciCaller, type ServiceCaller } from './caller.js';
import type { FacadeConfig } from './config.js';
import { InstanceDirectory } from './directory.js';
import { IdempotencyKeys, type IdempotencyRecord } from './idempotency.js';
import { facadeMetrics } from './metrics.js';
import { InstanceCaller } from './resilience.js';
import { ConsoleGuard } from './console-guard.js';
import { ipcConsoleLink, type ConsoleLink } from './console-link.js';
import { consoleRoute, type FacadeConsole } from './routes/console.js';
import { dashboardRoute, type DashboardOptions } from './routes/dashboard.js';
import { docsRoute } from './routes/docs.js';
import { instancesRoute } from './routes/instances.js';
import { postMessageRoute } from './routes/post-message.js';
import { messageTraceRoute } from './routes/message-trace.js';
import { readMessagesRoute } from './routes/read-messages.js';
import type { TraceSpan } from '../../contracts/trace.js';
import { TRACE_MAP } from '../../shared/tracing/engine-exporter.js';
import type { Tracing } from '../../shared/tracing/tracing.js';
import { ServiceCalls } from './service-calls.js';

export interface FacadeDeps extends ServiceDeps {
  /** How instances are called; default undici pools (tests route calls to `inject`). */
  caller?: ServiceCaller;
  dashboard?: DashboardOptions;
  /**
   * The channel to the launcher that owns the processes (the lab console's
   * controls). Default: this process's IPC channel when the launcher gave it
   * one; null: none (a facade started alone).
   */
  console?: ConsoleLink | null;
}

export interface FacadeService extends Service {
  readonly directory: InstanceDirectory;
  readonly policies: InstanceCaller;
  readonly tracing: Tracing;
}

export function createFacade(config: FacadeConfig, engine: Engine, deps: FacadeDeps): FacadeService {
  const { logger, metrics } = deps;
  const caller = deps.caller ?? new UndiciCaller(64, config.internalToken);
  // An instance that left has its connection pool closed; one is made again if it comes back.
  const directory = new InstanceDirectory(
    engine.kv<InstanceRecord>(REGISTRY_MAP),
    config.registryRefreshMs,
    logger,
    (r) => caller.forget?.(r.url),
    Math.max(10_000, 2 * config.registryTtlMs),
  );
  const policies = new InstanceCaller({
    attemptTimeoutMs: config.attemptTimeoutMs,
    deadlineMs: config.requestDeadlineMs,
    breakerThreshold: config.breakerThreshold,
    breakerHalfOpenMs: config.breakerHalfOpenMs,
  });
  const calls = new ServiceCalls(directory, caller, policies);
  const queue = engine.queue(config.queueName);
  const keys = new IdempotencyKeys(engine.kv<IdempotencyRecord>('idempotency'), config.idempotencyTtlMs, config.requestDeadlineMs);
  facadeMetrics(metrics, { directory, policies, queue });

  // The facade's routes are its public API: no internal token demanded here.
  const app = createHttpServer({ logger, bodyLimit: config.bodyLimit, metrics });
  app.decorate('instanceCaller', policies);
  const port = () => {
    const a = app.server.address();
    return typeof a === 'object' && a ? a.port : config.port;
  };
  const link = deps.console === undefined ? (config.consoleChannel === 'ipc' ? ipcConsoleLink() : undefined) : (deps.console ?? undefined);
  const facadeConsole: FacadeConsole = { guard: new ConsoleGuard({ host: config.host, port, token: config.consoleToken }), link };
  app.register(dashboardRoute, {
    directory,
    caller,
    queue,
    calls: policies,
    registryTtlMs: config.registryTtlMs,
    waiting: engine.waiting && (() => engine.waiting!()),
    console: facadeConsole,
    options: deps.dashboard,
  });
  app.register(consoleRoute, { console: facadeConsole });
  app.register(docsRoute);
  healthRoutes(app, { service: 'facade', instance: config.name }, {
    ready: async () => {
      await engine.ping();
      return { engine: engine.kind, instances: directory.all().length };
    },
  });
  const tracing = serviceTracing('facade', config, engine);
  app.register(postMessageRoute, { config, calls, queue, keys, metrics, tracing, engineKind: engine.kind });
  app.register(messageTraceRoute, { store: engine.kv<TraceSpan[]>(TRACE_MAP) });
  app.register(readMessagesRoute, { config, calls });
  app.register(instancesRoute, { directory, policies, registryTtlMs: config.registryTtlMs });

  const shell = serviceShell({
    service: 'facade',
    config,
    engine,
    app,
    logger,
    register: false,
    onStop: async () => {
      link?.close();
      await directory.stop();
      await caller.close();
      await tracing.close();
    },
  });
  directory.start();
  return Object.assign(shell, { directory, policies, tracing });
}

declare module 'fastify' {
  interface FastifyInstance {
    instanceCaller: InstanceCaller;
  }
}
