/**
 * The logging service: stores messages in the shared log (a distributed map
 * keyed by id) and logs a line for each. Built by one factory that the entry
 * and the tests share.
 */
import type { Engine } from '../../engine/ports.js';
import { createHttpServer } from '../../shared/http.js';
import { healthRoutes } from '../../shared/health.js';
import { registeredReadiness, serviceShell, serviceTracing, type Service, type ServiceDeps } from '../runtime.js';
import type { Tracing } from '../../shared/tracing/tracing.js';
import type { LoggingConfig } from './config.js';
import { logRoutes } from './routes/log.js';

export interface LoggingService extends Service {
  readonly tracing: Tracing;
}

export function createLogging(config: LoggingConfig, engine: Engine, deps: ServiceDeps): LoggingService {
  const app = createHttpServer({ logger: deps.logger, metrics: deps.metrics, internalToken: config.internalToken });
  const tracing = serviceTracing('logging', config, engine);
  const shell = serviceShell({ service: 'logging', config, engine, app, logger: deps.logger, register: true, onStop: () => tracing.close() });
  healthRoutes(app, { service: 'logging', instance: config.name }, registeredReadiness(engine, shell));
  app.register(logRoutes, { instance: config.name, log: engine.log(config.mapName), metrics: deps.metrics, tracing });
  return Object.assign(shell, { tracing });
}
