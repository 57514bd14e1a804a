/**
 * Logs for operators: pino, JSON on stderr, one logger per process. Secrets never reach a log:
 * the usual fields they hide in are redacted by path, and every configured secret value (see
 * `secretsFromEnv`) is cut out of each line as written, wherever a library put it (ioredis puts
 * a failed AUTH's password in `command.args`, for one).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The environment variables whose values are secrets, besides REDIS_URL's password. */
export const SECRET_ENV_VARS = ['OPENAI_API_KEY', 'DISCORD_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET'] as const;

/** Shorter values are not treated as secrets: cutting every "a" out of the logs would hide more than it protects. */
const MIN_SECRET_LENGTH = 4;

export const REDACTED = '[redacted]';

/** The secret values this process was configured with: REDIS_URL's password and the tokens and keys of SECRET_ENV_VARS. */
export function secretsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const values: string[] = SECRET_ENV_VARS.map((name) => env[name]?.trim() ?? '');
  values.push(...urlPasswords(env.REDIS_URL));
  return [...new Set(values.filter((v) => v.length >= MIN_SECRET_LENGTH))];
}

/** A URL's password as written (percent-encoded) and decoded; none when the URL does not parse. */
function urlPasswords(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const { password } = new URL(url.trim());
    if (!password) return [];
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // A malformed escape: the raw form is what would be echoed.
    }
    return [password, decoded];
  } catch {
    return [];
  }
}

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
  level?: string;
  /** Values never written (default: secretsFromEnv()). */
  secrets?: readonly string[];
  /** Where lines go (default: stderr). */
  destination?: DestinationStream;
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const redactSecrets = secretRedactor(options.secrets ?? secretsFromEnv());
  return pino(
    {
      name,
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: {
        paths: ['apiKey', '*.apiKey', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'password', '*.password'],
        censor: REDACTED,
      },
      hooks: { streamWrite: redactSecrets },
    },
    options.destination ?? pino.destination(2),
  );
}
