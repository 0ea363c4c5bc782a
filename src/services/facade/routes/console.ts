/**
 * `POST /console/actions`: one of the launcher's commands, pressed on the
 * dashboard. The guard decides who may (see console-guard.ts); an accepted
 * action is forwarded to the launcher, which runs it in its one command
 * shell and reports its progress as `console` events on /dashboard/events.
 * A refused request changes nothing and gets 403 with the reason.
 */
import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import { actionText, parseConsoleAction, type ConsoleAnswer, type ConsoleState } from '../../../contracts/console.js';
import { errorBody } from '../../../shared/http.js';
import type { ConsoleGuard } from '../console-guard.js';
import type { ConsoleLink } from '../console-link.js';

/** The console as the facade has it: the guard, and the link to the launcher when there is one. */
export interface FacadeConsole {
  guard: ConsoleGuard;
  link: ConsoleLink | undefined;
}

export const NO_LAUNCHER =
  'started alone (npm run service -- facade): no launcher owns the processes, so the page has nothing to press; npm start runs the lab with its controls';

/** What the page is told of the controls. */
export function consoleState(c: FacadeConsole): ConsoleState {
  const offered = c.guard.offered;
  if (!c.link) return { enabled: false, reason: NO_LAUNCHER, tokenRequired: false, view: null };
  return { enabled: offered.ok, reason: offered.reason, tokenRequired: offered.tokenRequired, view: offered.ok ? c.link.view() : null };
}

export const consoleRoute: FastifyPluginAsync<{ console: FacadeConsole }> = async (app, { console: c }) => {
  const hide = { schema: { hide: true } as FastifySchema };
  app.post('/console/actions', {
    ...hide,
    // Before the body is read: a refused request is not even parsed.
    onRequest: async (req, reply) => {
      let why = c.link ? c.guard.check({ remoteAddress: req.socket.remoteAddress, headers: req.headers }) : NO_LAUNCHER;
      if (!why && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) why = 'the body must be JSON (content-type: application/json)';
      if (why) {
        req.log.warn({ reason: why }, 'console action refused');
        return reply.code(403).send(errorBody(403, `console action refused: ${why}`));
      }
    },
  }, async (req, reply) => {
    const action = parseConsoleAction(req.body);
    if (typeof action === 'string') return reply.code(403).send(errorBody(403, `console action refused: ${action}`));
    const answer: ConsoleAnswer = await c.link!.act(action);
    req.log.info({ action: actionText(action), accepted: answer.accepted }, 'console action');
    return reply.code(answer.accepted ? 202 : 409).send(answer);
  });
};
