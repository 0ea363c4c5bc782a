// The reference pipeline for `npm run bench`: the least a facade → service
// design on this stack can do per message. Plain ESM so no loader runs in it.
//   node bench/reference-server.mjs store <port>
//   node bench/reference-server.mjs front <port> <store-url>
// store: POST /log {id,msg} keeps the entry in a Map, answers 201.
// front: POST /messages {"msg"} gives it a UUID, forwards it over a keep-alive
//        undici pool (as the facade's caller does) and answers 201 {id}.
/* global process, console */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Pool } from 'undici';

const [role, portArg, target] = process.argv.slice(2);
const port = Number(portArg);
if ((role !== 'store' && role !== 'front') || !Number.isInteger(port) || (role === 'front' && !target)) {
  console.error('usage: reference-server.mjs store <port> | front <port> <store-url>');
  process.exit(2);
}

const app = Fastify({ logger: false });
app.get('/health/ready', async () => ({ ready: true }));

if (role === 'store') {
  const log = new Map();
  app.post('/log', async (req, reply) => {
    const { id, msg } = req.body;
    if (!log.has(id)) log.set(id, { id, msg, loggedAt: new Date().toISOString() });
    return reply.code(201).send(log.get(id));
  });
  app.get('/log/count', async () => ({ count: log.size }));
} else {
  // Same pool shape as the facade's UndiciCaller.
  const pool = new Pool(target, { connections: 64, pipelining: 1, keepAliveTimeout: 10_000, connect: { timeout: 2000 } });
  app.post('/messages', async (req, reply) => {
    const msg = req.body?.msg;
    if (typeof msg !== 'string' || msg.length === 0) return reply.code(400).send({ error: 'Bad Request', message: 'msg required' });
    const id = randomUUID();
    const res = await pool.request({
      method: 'POST',
      path: '/log',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ id, msg }),
    });
    await res.body.json();
    if (res.statusCode >= 300) return reply.code(503).send({ error: 'Service Unavailable', message: `store answered ${res.statusCode}` });
    return reply.code(201).send({ id });
  });
  app.addHook('onClose', async () => pool.close());
}

await app.listen({ host: '127.0.0.1', port });
console.log(`reference ${role} listening on http://127.0.0.1:${port}`);
const stop = () => app.close().then(() => process.exit(0), () => process.exit(1));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
