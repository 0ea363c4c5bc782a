/**
 * Builds services the way production does: flags through the service's
 * config loader, then its factory, over an engine the test shares between
 * services. Each gets its own Metrics (its own Prometheus registry) and is
 * stopped when the test ends.
 */
import type { TestContext } from 'node:test';
import type { Logger } from 'pino';
import type { Engine } from '../../src/engine/ports.js';
import { createFacade, type FacadeService } from '../../src/services/facade/index.js';
import type { ServiceCaller } from '../../src/services/facade/caller.js';
import { loadFacadeConfig, type FacadeConfig } from '../../src/services/facade/config.js';
import type { DashboardOptions } from '../../src/services/facade/routes/dashboard.js';
import type { ConsoleLink } from '../../src/services/facade/console-link.js';
import { createLogging, type LoggingService } from '../../src/services/logging/index.js';
import { loadLoggingConfig, type LoggingConfig } from '../../src/services/logging/config.js';
import { createMessages, type MessagesService } from '../../src/services/messages/index.js';
import { loadMessagesConfig, type MessagesConfig } from '../../src/services/messages/config.js';
import type { Service } from '../../src/services/runtime.js';
import { Metrics } from '../../src/shared/metrics.js';
import { eventually, silentLogger } from './fakes.js';

/** Flags by their CLI names without dashes, e.g. { name: 'logging-1', 'internal-token': '…' }. */
export type Flags = Record<string, string>;

const source = (flags: Flags) => ({ flags: new Map(Object.entries(flags)), env: {} });

export interface BuildOptions {
  logger?: Logger;
}

/** Any free port unless the test names one: a test that starts the service binds 127.0.0.1:0. */
const withPort = (flags: Flags): Flags => ({ port: '0', ...flags });

function deps(config: { service: string; name: string }, o: BuildOptions) {
  return { logger: o.logger ?? silentLogger(), metrics: new Metrics({ service: config.service, instance: config.name }) };
}

export function buildLogging(t: TestContext, engine: Engine, flags: Flags = {}, o: BuildOptions = {}): { service: LoggingService; config: LoggingConfig } {
  const config = loadLoggingConfig(source(withPort(flags)));
  const service = createLogging(config, engine, deps(config, o));
  t.after(() => service.stop());
  return { service, config };
}

/** A messages service with a `:memory:` store and a short poll unless the flags say otherwise. */
export function buildMessages(t: TestContext, engine: Engine, flags: Flags = {}, o: BuildOptions = {}): { service: MessagesService; config: MessagesConfig } {
  const config = loadMessagesConfig(source(withPort({ 'store-file': ':memory:', 'poll-timeout-ms': '50', ...flags })));
  const service = createMessages(config, engine, deps(config, o));
  t.after(() => service.stop());
  return { service, config };
}

export function buildFacade(
  t: TestContext,
  engine: Engine,
  flags: Flags = {},
  o: BuildOptions & { caller?: ServiceCaller; dashboard?: DashboardOptions; console?: ConsoleLink | null } = {},
): { service: FacadeService; config: FacadeConfig } {
  const config = loadFacadeConfig(source(withPort(flags)));
  const service = createFacade(config, engine, { ...deps(config, o), ...(o.caller ? { caller: o.caller } : {}), ...(o.dashboard ? { dashboard: o.dashboard } : {}), ...(o.console !== undefined ? { console: o.console } : {}) });
  t.after(() => service.stop());
  return { service, config };
}

/**
 * Starts a logging or messages service (it listens on loopback and registers
 * itself) and waits until its readiness says it is registered. Resolves with
 * the URL it registered.
 */
export async function startRegistered(service: Service, timeoutMs = 5000): Promise<string> {
  const url = await service.start();
  const ready = await eventually(async () => (await service.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200, timeoutMs);
  if (!ready) {
    const res = await service.app.inject({ method: 'GET', url: '/health/ready' });
    throw new Error(`${url} did not become ready: ${res.payload}`);
  }
  return url;
}
