/**
 * Logs for operators: pino, JSON on stderr, one logger per process. Secrets never reach a log:
 * the usual fields they hide in are redacted by path, and every configured secret value (the
 * process's configuration lists them: `Configuration.secrets()`) is cut out of each line as
 * written, wherever a library put it (ioredis puts a failed AUTH's password in `command.args`).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Shorter values are not treated as secrets: cutting every "a" out of the logs would hide more than it protects. */
const MIN_SECRET_LENGTH = 4;

export const REDACTED = '[redacted]';

/**
 * A function that replaces each secret in a text with [redacted]. Secrets are matched as they
 * appear raw and as JSON escapes them, since log lines are JSON; longest first, so a secret that
 * contains another is cut whole.
 */
export function secretRedactor(secrets: readonly string[]): (text: string) => string {
  const forms = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))]
    .sort((a, b) => b.length - a.length);
  if (forms.length === 0) return (text) => text;
  return (text) => forms.reduce((out, secret) => (out.includes(secret) ? out.split(secret).join(REDACTED) : out), text);
}

export interface LoggerOptions {
  /** Default info. */
  level?: string;
  /** Values never written, wherever they appear. */
  secrets?: readonly string[];
  /** Where lines go (default: stderr). */
  destination?: DestinationStream;
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const redactSecrets = secretRedactor(options.secrets ?? []);
  return pino(
    {
      name,
      level: options.level ?? 'info',
      redact: {
        paths: ['apiKey', '*.apiKey', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'password', '*.password'],
        censor: REDACTED,
      },
      hooks: { streamWrite: redactSecrets },
    },
    options.destination ?? pino.destination(2),
  );
}
