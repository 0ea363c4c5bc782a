import pino, { type Logger } from 'pino';

/**
 * JSON lines on stdout, one per event, each naming the instance. Pretty
 * output only when stdout is a terminal (or --log-pretty 1); the launcher
 * reads the JSON of its children and formats it itself.
 */
export function createLogger(instance: string, level: string, pretty = process.stdout.isTTY === true): Logger {
  // The internal token never reaches a log line, whatever object carries it.
  const redact = { paths: ['internalToken', '*.internalToken', 'consoleToken', '*.consoleToken', 'headers["x-console-token"]', '*.headers["x-console-token"]', 'headers["x-internal-token"]', '*.headers["x-internal-token"]'], censor: '[redacted]' };
  const options = { level, base: { instance }, timestamp: pino.stdTimeFunctions.isoTime, redact };
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } });
  // Buffered, asynchronous writes: a line per message must not cost a write
  // each. The buffer goes out at 4 KiB or every 100 ms, and pino flushes it
  // when the process exits.
  const dest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => dest.flush(), 100).unref();
  return pino(options, dest);
}

export type { Logger };
