/**
 * Logs for operators: pino, JSON on stderr, one logger per process. Secrets never reach a log:
 * the usual places they hide are redacted.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      redact: {
        paths: ['apiKey', '*.apiKey', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'password', '*.password'],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );
}
