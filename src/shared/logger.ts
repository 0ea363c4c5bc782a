import pino, { type Logger } from 'pino';

/**
 * JSON lines on stdout, one per event, each naming the instance. Pretty
 * output only when stdout is a terminal (or LOG_PRETTY=1); the launcher
 * reads the JSON of its children and formats it itself.
 */
export function createLogger(instance: string, level: string, pretty = process.stdout.isTTY === true): Logger {
  const options = { level, base: { instance }, timestamp: pino.stdTimeFunctions.isoTime };
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } });
  // Asynchronous writes: a line per message must not cost a blocking write
  // each; pino flushes what is buffered when the process exits.
  return pino(options, pino.destination({ dest: 1, sync: false }));
}

export type { Logger };
