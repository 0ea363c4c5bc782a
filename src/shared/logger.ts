import pino, { type Logger } from 'pino';

/**
 * JSON lines on stdout, one per event, each naming the instance. Pretty
 * output only when stdout is a terminal (or LOG_PRETTY=1); the launcher
 * reads the JSON of its children and formats it itself.
 */
export function createLogger(instance: string, level: string, pretty = process.stdout.isTTY === true): Logger {
  return pino({
    level,
    base: { instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}

export type { Logger };
