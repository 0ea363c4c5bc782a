import type { FastifyInstance, FastifyReply, FastifySchema } from 'fastify';

export interface HealthCheck {
  /** Resolves with details when ready; rejects with the reason when not. */
  ready(): Promise<Record<string, unknown>>;
}

/**
 * `/health/live`: the process answers. `/health/ready` and `/health`: the
 * engine answers and the instance is registered — 503 with the reason otherwise.
 */
export function healthRoutes(app: FastifyInstance, info: { service: string; instance: string }, check: HealthCheck): void {
  // Kept out of the API docs: probes, not API.
  const hide = { hide: true } as FastifySchema;
  app.get('/health/live', { schema: hide }, async () => ({ status: 'live', ...info }));
  const ready = async (_req: unknown, reply: FastifyReply) => {
    try {
      const details = await check.ready();
      return { status: 'ready', ...info, ...details };
    } catch (err) {
      return reply.code(503).send({ status: 'not-ready', ...info, error: 'Service Unavailable', message: (err as Error).message, statusCode: 503 });
    }
  };
  app.get('/health/ready', { schema: hide }, ready);
  app.get('/health', { schema: hide }, ready);
}
