import type { FastifyPluginAsync } from 'fastify';
import type { FacadeReadResponse } from '../../../contracts/dashboard.js';
import { NEXT_CURSOR_HEADER } from '../../../contracts/http.js';
import { HttpError, isNoInstanceError, isPermanentCallError } from '../../../lib/errors.js';
import type { FacadeConfig } from '../config.js';
import { innerMessage, type ServiceCalls } from '../service-calls.js';

export interface ReadMessagesOptions {
  config: Pick<FacadeConfig, 'retryAfterSeconds'>;
  calls: ServiceCalls;
}

const querystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
    after: { type: 'string', maxLength: 200 },
    messagesAfter: { type: 'string', pattern: '^[0-9]{1,15}$' },
  },
} as const;

/** GET /messages: what logging holds (one instance) and what one random messages instance consumed. */
export const readMessagesRoute: FastifyPluginAsync<ReadMessagesOptions> = async (app, { config, calls }) => {
  app.get<{ Querystring: { limit?: string; after?: string; messagesAfter?: string } }>(
    '/messages',
    {
      schema: {
        summary: 'Read messages',
        description:
          '{logging: [...], messages: [...]}: every logged message (from one logging instance) and what one randomly chosen messages instance consumed. With Accept: text/plain, the texts as lines in two parts. ?limit=N pages both parts: the logging part continues with &after=<next> (also in the x-next-cursor header), the messages part with &messagesAfter=<messagesNext> (of the same messages instance, named in messagesInstance).',
        querystring,
      },
    },
    async (req, reply) => {
      const qs = new URLSearchParams();
      if (req.query.limit) qs.set('limit', req.query.limit);
      if (req.query.after) qs.set('after', req.query.after);
      const logPath = qs.size ? `/log?${qs}` : '/log';
      const mqs = new URLSearchParams();
      if (req.query.limit) mqs.set('limit', req.query.limit);
      if (req.query.messagesAfter) mqs.set('after', req.query.messagesAfter);
      const messagesPath = mqs.size ? `/messages?${mqs}` : '/messages';
      // Both parts stay the bytes the instances sent: a large read is passed
      // through, not decoded, parsed and re-serialised.
      const [logging, messages] = await Promise.allSettled([
        calls.call('logging', 'GET', logPath, undefined, req.id, 'buffer'),
        calls.call('messages', 'GET', messagesPath, undefined, req.id, 'buffer'),
      ]);
      if (logging.status === 'rejected') {
        const e = logging.reason as Error;
        if (isPermanentCallError(e)) throw new HttpError(400, `logging rejected the read: ${innerMessage(e.body)}`);
        throw new HttpError(503, isNoInstanceError(e) ? 'no logging instance is registered' : `no logging instance answered (${e.message})`, {
          'retry-after': String(config.retryAfterSeconds),
        });
      }
      const loggingJson = logging.value.value.body as Buffer;
      const loggingInstance = logging.value.instance.instance;
      const messagesJson = messages.status === 'fulfilled' ? (messages.value.value.body as Buffer) : Buffer.from('[]');
      const messagesInstance = messages.status === 'fulfilled' ? messages.value.instance.instance : null;
      const note = messages.status === 'rejected' ? `no messages instance answered: ${(messages.reason as Error).message}` : undefined;
      const messagesNext = messages.status === 'fulfilled' ? messages.value.value.next : undefined;
      // Paged read: the cursor comes from logging.
      const next = logging.value.value.next;
      if (next) reply.header(NEXT_CURSOR_HEADER, next);
      if (wantsText(req.headers.accept)) {
        reply.type('text/plain; charset=utf-8');
        const lines = (json: Buffer) => {
          const xs = JSON.parse(json.toString('utf8')) as Array<{ msg: unknown }>;
          return xs.length > 0 ? xs.map((e) => String(e.msg)).join('\n') : '(none)';
        };
        return [`== logging (${loggingInstance}) ==`, lines(loggingJson), `== messages (${messagesInstance ?? 'none'}) ==`, note ? `(${note})` : lines(messagesJson), ''].join('\n');
      }
      // Everything but the two parts, which are spliced in as the bytes the instances sent.
      const tail: Omit<FacadeReadResponse, 'logging' | 'messages'> = { loggingInstance, messagesInstance, ...(note ? { note } : {}), ...(next ? { next } : {}), ...(messagesNext ? { messagesNext } : {}) };
      reply.type('application/json; charset=utf-8');
      return reply.send(Buffer.concat([Buffer.from('{"logging":'), loggingJson, Buffer.from(',"messages":'), messagesJson, Buffer.from(`,${JSON.stringify(tail).slice(1)}`)]));
    },
  );
};

function wantsText(accept: string | undefined): boolean {
  if (!accept) return false;
  const a = accept.toLowerCase();
  return a.includes('text/plain') && !a.includes('application/json');
}
