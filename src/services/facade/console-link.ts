/**
 * The facade's end of the channel to the launcher: actions go out, the
 * launcher's view of its processes and the shell's events come in. Over Node
 * IPC when the launcher started the facade with an IPC channel; a facade
 * started alone has none, and so no controls.
 */
import type { ConsoleAction, ConsoleAnswer, ConsoleEvent, FacadeToLauncher, LauncherToFacade, LauncherView } from '../../contracts/console.js';
import { actionText } from '../../contracts/console.js';

export interface ConsoleLink {
  /** Forwards an action; resolves with the launcher's answer (accepted, or refused and why). */
  act(action: ConsoleAction): Promise<ConsoleAnswer>;
  /** What the launcher last said of its topology; null before it said anything. */
  view(): LauncherView | null;
  /** Calls fn with each event of the shell; returns the unsubscribe. */
  onEvent(fn: (e: ConsoleEvent) => void): () => void;
  close(): void;
}

/** How long an action waits for the launcher to say whether it took it. */
const ANSWER_TIMEOUT_MS = 5000;

/**
 * A link over any message channel: `send` to the launcher, and `subscribe`
 * to what it sends (returns the unsubscribe).
 */
export function messageLink(send: (m: FacadeToLauncher) => void, subscribe: (fn: (m: unknown) => void) => () => void): ConsoleLink {
  let view: LauncherView | null = null;
  let nextId = 1;
  const waiting = new Map<number, (a: ConsoleAnswer) => void>();
  const listeners = new Set<(e: ConsoleEvent) => void>();
  const off = subscribe((raw) => {
    const m = raw as LauncherToFacade;
    if (typeof m !== 'object' || m === null) return;
    if (m.type === 'console-view') view = m.view;
    else if (m.type === 'console-event') for (const fn of listeners) fn(m.event);
    else if (m.type === 'console-answer') {
      waiting.get(m.requestId)?.(m.answer);
      waiting.delete(m.requestId);
    }
  });
  return {
    act: (action) =>
      new Promise((resolve) => {
        const requestId = nextId++;
        const timer = setTimeout(() => {
          waiting.delete(requestId);
          resolve({ accepted: false, action: actionText(action), message: `the launcher did not answer in ${ANSWER_TIMEOUT_MS} ms` });
        }, ANSWER_TIMEOUT_MS);
        waiting.set(requestId, (a) => {
          clearTimeout(timer);
          resolve(a);
        });
        try {
          send({ type: 'console-action', requestId, action });
        } catch (err) {
          waiting.get(requestId)?.({ accepted: false, action: actionText(action), message: `the launcher is unreachable: ${(err as Error).message}` });
          waiting.delete(requestId);
        }
      }),
    view: () => view,
    onEvent: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    close: () => {
      off();
      listeners.clear();
    },
  };
}

/** The link over this process's IPC channel, when the launcher gave it one; undefined otherwise. */
export function ipcConsoleLink(proc: NodeJS.Process = process): ConsoleLink | undefined {
  if (typeof proc.send !== 'function' || !proc.channel) return undefined;
  // The channel must not keep a stopping facade alive.
  proc.channel.unref();
  return messageLink(
    (m) => void proc.send!(m),
    (fn) => {
      proc.on('message', fn);
      return () => void proc.off('message', fn);
    },
  );
}
