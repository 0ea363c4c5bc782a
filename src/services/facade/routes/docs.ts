import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

/**
 * The API docs: OpenAPI from the routes' schemas at /openapi.json, Swagger UI
 * at /docs. Not encapsulated (like fastify-plugin's skip-override), so the
 * generator sees the routes registered beside it after it.
 */
export const docsRoute: FastifyPluginAsync = async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'hazel-lab facade',
        version: '0.1.0',
        description:
          'The public entry of the system: accepts messages (logged through a logging instance, then queued for the messages instances) and reads back what logging and one messages instance hold.',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } as object }, async () => app.swagger());
};
(docsRoute as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
