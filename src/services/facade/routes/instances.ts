import type { FastifyPluginAsync } from 'fastify';
import type { InstanceDirectory } from '../directory.js';
import type { InstanceCaller } from '../resilience.js';

export interface InstancesOptions {
  directory: InstanceDirectory;
  policies: InstanceCaller;
  registryTtlMs: number;
}

/** GET /instances: registered instances with heartbeat age and breaker state. */
export const instancesRoute: FastifyPluginAsync<InstancesOptions> = async (app, { directory, policies, registryTtlMs }) => {
  app.get('/instances', { schema: { summary: 'Registered instances with heartbeat age and breaker state' } }, async () => {
    const now = Date.now();
    return directory.all().map((r) => ({
      ...r,
      heartbeatAgeMs: now - Date.parse(r.heartbeatAt),
      breaker: policies.breakerState(r),
      status: policies.breakerState(r) === 'open' ? 'down' : now - Date.parse(r.heartbeatAt) > registryTtlMs ? 'stale' : 'up',
    }));
  });
};
