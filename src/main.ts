#!/usr/bin/env node
/**
 * Entry for one service instance: `node dist/main.js <facade|logging|messages> [--flag value ...]`.
 * Parses which service, reads its config, builds the engine and calls the
 * service's factory; on SIGINT/SIGTERM (or the launcher's end) stops it and
 * then the engine, within a bound.
 */
import { createEngine } from './engine/factory.js';
import type { Engine } from './engine/ports.js';
import { isConfigError } from './lib/errors.js';
import { isServiceName, loadServiceConfig, SETTINGS_TABLES, validateSettings, type ServiceConfig, type ServiceName } from './services/config.js';
import { createFacade } from './services/facade/index.js';
import { createLogging } from './services/logging/index.js';
import { createMessages } from './services/messages/index.js';
import { isListenError, type Service, type ServiceDeps } from './services/runtime.js';
import { SETTINGS_MAP } from './shared/common-config.js';
import { createLogger, type Logger } from './shared/logger.js';
import { Metrics } from './shared/metrics.js';
import { formatHelp, processSource, readOrExit, type Source } from './shared/settings.js';

const USAGE = 'usage: npm run service -- <facade|logging|messages> [--flag value ...]   (--help after a service lists its settings)';

function build(config: ServiceConfig, engine: Engine, deps: ServiceDeps): Service {
  switch (config.service) {
    case 'facade':
      return createFacade(config, engine, deps);
    case 'logging':
      return createLogging(config, engine, deps);
    case 'messages':
      return createMessages(config, engine, deps);
  }
}

async function main(): Promise<void> {
  const src = processSource();
  const service = src.positional[0];
  if (!isServiceName(service)) {
    console.error(`${service ? `unknown service "${service}"; ` : ''}${USAGE}`);
    process.exit(src.flags.has('help') && !service ? 0 : 2);
  }
  if (src.flags.has('help')) {
    console.log(formatHelp(`usage: npm run service -- ${service} [--flag value ...]`, SETTINGS_TABLES[service]));
    return;
  }
  const isTty = process.stdout.isTTY === true;
  let config = readOrExit(service, () => loadServiceConfig(service, src, isTty));
  const logger = createLogger(config.name, config.logLevel, config.logPretty);
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  const metrics = new Metrics({ service, instance: config.name });
  const engine = metrics.instrument(await createEngine(config.engine, logger, config.name));
  config = await withEngineSettings(service, config, engine, src, isTty, logger);
  const running = build(config, engine, { logger, metrics });
  try {
    await running.start();
  } catch (err) {
    if (isListenError(err)) {
      console.error(`${service}: ${err.message}`);
      await running.stop();
      await engine.close().catch(() => undefined);
      process.exit(2);
    }
    throw err;
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    await running.stop();
    await engine.close().catch((err: unknown) => logger.warn({ err }, 'engine close failed'));
    logger.info('stopped');
    if (signal === 'launcher exited') {
      // stdout was the launcher's pipe and is broken now: exiting normally
      // would wait forever for the logger to flush into it.
      process.kill(process.pid, 'SIGKILL');
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  if (config.exitWithParent) {
    // Started by the launcher: its end closes our stdin.
    process.stdin.on('end', () => void shutdown('launcher exited'));
    process.stdin.on('error', () => void shutdown('launcher exited'));
    process.stdin.resume();
  }
}

/**
 * Settings kept in the engine's `settings` map (keys are the env names, e.g.
 * QUEUE_NAME, ATTEMPT_TIMEOUT_MS) apply where neither a flag nor the
 * environment set a value. They are validated like any other setting.
 */
async function withEngineSettings(service: ServiceName, config: ServiceConfig, engine: Engine, src: Source, isTty: boolean, logger: Logger): Promise<ServiceConfig> {
  let stored: Array<[string, string]>;
  try {
    stored = await engine.kv<string>(SETTINGS_MAP).entries();
  } catch (err) {
    logger.warn({ err }, 'could not read settings from the engine; using flags and env only');
    return config;
  }
  // Only names this service has: a setting stored for another service is not this one's concern.
  // A secret is never taken from the engine (`settings set` refuses one): anyone who reaches the engine could have put it there.
  const table = Object.values(SETTINGS_TABLES[service]);
  const mine = new Set(table.filter((s) => !s.secret).map((s) => s.env));
  const ignored = stored.filter(([k]) => table.some((s) => s.secret && s.env === k)).map(([k]) => k);
  if (ignored.length > 0) logger.warn({ ignored }, 'secret settings found in the engine are not used; give them by flag, file or environment');
  const applicable = stored.filter(([k]) => mine.has(k) && src.env[k] === undefined);
  if (applicable.length === 0) return config;
  const merged: Source = { flags: src.flags, env: { ...Object.fromEntries(applicable.map(([k, v]) => [k, String(v)])), ...src.env } };
  const next = readOrExit(`${service} (with the engine's settings)`, () => {
    validateSettings(service, merged);
    return loadServiceConfig(service, merged, isTty);
  });
  logger.info({ fromEngine: applicable.map(([k]) => k) }, 'settings read from the engine');
  return next;
}

main().catch((err: unknown) => {
  console.error(isConfigError(err) ? `error: ${err.message}` : `fatal: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
