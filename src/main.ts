#!/usr/bin/env node
/**
 * Entry for one service instance: `node dist/main.js <facade|logging|messages> [--flag value ...]`.
 * Reads config once, wires the engine adapter to the service, listens,
 * registers, and on SIGINT/SIGTERM shuts down in order within a bound.
 */
import type { FastifyInstance } from 'fastify';
import { createEngine } from './engine/factory.js';
import type { Engine } from './engine/ports.js';
import { SETTINGS_MAP, type CommonConfig } from './shared/common-config.js';
import { createLogger, type Logger } from './shared/logger.js';
import { Metrics } from './shared/metrics.js';
import { REGISTRY_MAP, RegistryMembership, type InstanceRecord, type ServiceName } from './shared/registry.js';
import { parseArgv, readOrExit, type Source } from './shared/settings.js';
import { loadFacadeConfig, type FacadeConfig } from './services/facade/config.js';
import { loadLoggingConfig } from './services/logging/config.js';
import { loadMessagesConfig, type MessagesConfig } from './services/messages/config.js';

const USAGE = 'usage: main <facade|logging|messages> [--port P] [--engine embedded|hazelcast] [--data-dir DIR] ...';

interface Running {
  app: FastifyInstance;
  membership?: RegistryMembership;
  /** Extra cleanup after the HTTP server closed. */
  after?: () => Promise<void>;
  /** Background work that starts once the server listens. */
  start?: () => void;
}

async function main(): Promise<void> {
  const { flags, positional } = parseArgv(process.argv.slice(2));
  const service = positional[0] as ServiceName | undefined;
  if (service !== 'facade' && service !== 'logging' && service !== 'messages') {
    console.error(`${service ? `unknown service "${service}"; ` : ''}${USAGE}`);
    process.exit(2);
  }
  const src = { flags, env: process.env };
  let config: CommonConfig = readOrExit(service, () => loadConfig(service, src));

  const logger = createLogger(config.name, config.logLevel, process.env.LOG_PRETTY === '1' || process.stdout.isTTY === true);
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  const metrics = new Metrics({ service, instance: config.name });
  const engine = metrics.instrument(await createEngine(config.engine, logger, config.name));
  config = await withEngineSettings(service, config, engine, flags, logger);
  const running = await build(service, config, engine, logger, metrics);
  try {
    await running.app.listen({ host: config.host, port: config.port });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      console.error(`${service}: cannot listen on ${config.host}:${config.port} (${code}${code === 'EADDRINUSE' ? ': the port is taken' : ''})`);
      await engine.close().catch(() => undefined);
      process.exit(2);
    }
    throw err;
  }
  const addr = running.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  logger.info({ url: `http://${config.host}:${port}`, engine: engine.kind, service }, 'listening');
  running.membership?.start();
  running.start?.();

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
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['deregister', async () => running.membership?.stop()],
      ['http', async () => running.app.close()],
      ['service', async () => running.after?.()],
      ['engine', async () => engine.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        logger.warn({ step: name, err: (err as Error).message }, 'shutdown step failed');
      }
    }
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
  if (process.env.EXIT_WITH_PARENT === '1') {
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
async function withEngineSettings(service: ServiceName, config: CommonConfig, engine: Engine, flags: Map<string, string>, logger: Logger): Promise<CommonConfig> {
  let stored: Array<[string, string]>;
  try {
    stored = await engine.kv<string>(SETTINGS_MAP).entries();
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not read settings from the engine; using flags and env only');
    return config;
  }
  if (stored.length === 0) return config;
  const env = { ...Object.fromEntries(stored.map(([k, v]) => [k, String(v)])), ...process.env };
  const next = readOrExit(`${service} (with the engine's settings)`, () => loadConfig(service, { flags, env }));
  logger.info({ fromEngine: stored.map(([k]) => k).filter((k) => process.env[k] === undefined) }, 'settings read from the engine');
  return next;
}

function loadConfig(service: ServiceName, src: Source): CommonConfig {
  return service === 'facade' ? loadFacadeConfig(src) : service === 'logging' ? loadLoggingConfig(src) : loadMessagesConfig(src);
}

async function build(service: ServiceName, config: CommonConfig, engine: Engine, logger: Logger, metrics: Metrics): Promise<Running> {
  const registryKv = engine.kv<InstanceRecord>(REGISTRY_MAP);
  const membershipFor = (): RegistryMembership =>
    new RegistryMembership(
      registryKv,
      {
        service,
        instance: config.name,
        url: `http://${config.advertiseHost.includes(':') ? `[${config.advertiseHost}]` : config.advertiseHost}:${config.port}`,
        pid: process.pid,
        startedAt: new Date().toISOString(),
      },
      config.registryTtlMs,
      logger,
    );

  if (service === 'logging') {
    const { buildLoggingApp } = await import('./services/logging/app.js');
    const membership = membershipFor();
    const app = buildLoggingApp(config, {
      log: engine.log(config.mapName),
      logger,
      metrics,
      health: { ready: () => readiness(engine, membership) },
    });
    return { app, membership };
  }

  if (service === 'messages') {
    const cfg = config as MessagesConfig;
    const { buildMessagesApp } = await import('./services/messages/app.js');
    const { QueueConsumer } = await import('./services/messages/consumer.js');
    const { ConsumedStore } = await import('./services/messages/store.js');
    const store = new ConsumedStore(cfg.storeFile);
    const queue = engine.queue(cfg.queueName);
    const consumedTotal = metrics.counter('messages_consumed_total', 'Messages this instance stored.');
    const duplicatesTotal = metrics.counter('messages_duplicates_skipped_total', 'Deliveries skipped because this instance already held the id.');
    const consumer = new QueueConsumer({
      instance: cfg.name,
      queue,
      store,
      logger,
      pollTimeoutMs: cfg.pollTimeoutMs,
      onStored: (_item, created) => (created ? consumedTotal : duplicatesTotal).inc(),
    });
    const membership = membershipFor();
    const app = buildMessagesApp(cfg, { store, consumer, logger, metrics, queue, health: { ready: () => readiness(engine, membership) } });
    logger.info({ store: cfg.storeFile, alreadyHeld: store.count() }, 'opened store');
    return {
      app,
      membership,
      start: () => consumer.start(),
      after: async () => {
        await consumer.stop();
        store.close();
      },
    };
  }

  const cfg = config as FacadeConfig;
  const { buildFacadeApp } = await import('./services/facade/app.js');
  const { InstanceDirectory } = await import('./services/facade/directory.js');
  const { UndiciCaller } = await import('./services/facade/caller.js');
  const caller = new UndiciCaller();
  // An instance that left has its connection pool closed; one is made again if it comes back.
  const directory = new InstanceDirectory(registryKv, cfg.registryRefreshMs, logger, (r) => caller.forget(r.url));
  const app = buildFacadeApp(cfg, {
    queue: engine.queue(cfg.queueName),
    idempotency: engine.kv('idempotency'),
    directory,
    caller,
    logger,
    metrics,
    health: {
      ready: async () => {
        await engine.ping();
        return { engine: engine.kind, instances: directory.all().length };
      },
    },
  });
  directory.start();
  return {
    app,
    after: async () => {
      await directory.stop();
      await caller.close();
    },
  };
}

async function readiness(engine: Engine, membership: RegistryMembership): Promise<Record<string, unknown>> {
  try {
    await engine.ping();
  } catch (err) {
    throw new Error(`engine unreachable: ${(err as Error).message}`);
  }
  if (!membership.registered) throw new Error(`not registered${membership.lastError ? `: ${membership.lastError}` : ' yet'}`);
  return { engine: engine.kind, registered: true };
}

main().catch((err) => {
  console.error(`fatal: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
