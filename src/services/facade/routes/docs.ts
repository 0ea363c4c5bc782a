import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { asset, sendAsset, type Asset } from './static-asset.js';

/**
 * The API docs: OpenAPI from the routes' schemas at /openapi.json, Swagger UI
 * at /docs/. Not encapsulated (like fastify-plugin's skip-override), so the
 * generator sees the routes registered beside it after it.
 *
 * The page is ours and takes Swagger UI's files from swagger-ui-dist, read
 * on the first visit: a Swagger UI plugin (with its static-file server)
 * loaded at start cost the facade about 7 MB of resident memory while idle.
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
  app.get('/openapi.json', { schema: { hide: true } as object }, async () => app.swagger());

  const hidden = { schema: { hide: true } as object };
  app.get('/docs', hidden, async (_req, reply) => reply.redirect('/docs/'));
  app.get('/docs/', hidden, async (req, reply) => {
    reply.header('content-security-policy', DOCS_CSP).header('referrer-policy', 'no-referrer');
    return sendAsset(req, reply, PAGE, 'no-cache');
  });
  app.get('/docs/init.js', hidden, async (req, reply) => sendAsset(req, reply, INIT, 'no-cache'));
  const files = new Map<string, Promise<Asset>>();
  app.get<{ Params: { file: string } }>('/docs/static/:file', hidden, async (req, reply) => {
    const name = req.params.file;
    const type = UI_FILES.get(name);
    if (type === undefined) return reply.callNotFound();
    let a = files.get(name);
    if (!a) {
      a = readFile(join(uiDir(), name)).then((body) => asset(body, type));
      // A failed read is tried again on the next request.
      a.catch(() => files.delete(name));
      files.set(name, a);
    }
    return sendAsset(req, reply, await a, 'public, max-age=86400');
  });
};
(docsRoute as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

/** The files of swagger-ui-dist the page loads, with their content types; no other name is served. */
const UI_FILES: ReadonlyMap<string, string> = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png'],
]);

/** swagger-ui-dist's folder (its package.json only is resolved: its index loads the whole bundle). */
function uiDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

const PAGE = asset(
  Buffer.from(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hazel-lab facade: API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`),
  'text/html; charset=utf-8',
);

const INIT = asset(
  Buffer.from(`window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });
});
`),
  'text/javascript; charset=utf-8',
);

/** Swagger UI sets inline styles and shows data: images; everything else comes from here. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
