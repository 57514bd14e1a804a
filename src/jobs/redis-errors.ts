/**
 * Redis failing us, as classes: it cannot be reached (or is still loading its data), which waiting
 * may mend, or it refused the password, which waiting will not. ioredis reports these as Node
 * socket errors, as plain Errors of its own and as Redis reply errors; `classifyRedisError` is the
 * one place that tells them apart, and every caller decides by `instanceof`.
 */

/** Redis failed the connection rather than the command; `cause` is what ioredis reported. */
export class RedisConnectionError extends Error {
  constructor(cause: Error) {
    // The message is ioredis's, which never holds the password (a failed AUTH keeps it in
    // `command.args`, on the cause, which is not enumerable and so not serialized).
    super(cause.message, { cause });
  }
}

/** Redis cannot be reached, closed the connection, did not answer in time or is still loading. */
export class RedisUnavailableError extends RedisConnectionError {
  override readonly name = 'RedisUnavailableError';
}

/** Redis refused to authenticate: the password (or user) is wrong or missing. */
export class RedisAuthError extends RedisConnectionError {
  override readonly name = 'RedisAuthError';
}

/** Node's codes for a socket that could not connect or was cut (also on AggregateError, when several addresses were tried). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** ioredis's own words for a connection it has lost or given up on. */
const IOREDIS_UNAVAILABLE = ['Connection is closed', "Stream isn't writeable", 'Command timed out'];

/**
 * The class of a Redis failure: RedisAuthError for a refused password, RedisUnavailableError for
 * an unreachable or loading Redis, undefined for anything else (a failed command, a bug). An error
 * classified already is returned as it is.
 */
export function classifyRedisError(error: unknown): RedisConnectionError | undefined {
  if (error instanceof RedisConnectionError) return error;
  if (!(error instanceof Error)) return undefined;
  if (isAuthReply(error.message)) return new RedisAuthError(error);
  if (isUnavailable(error)) return new RedisUnavailableError(error);
  return undefined;
}

/**
 * Redis's answers to a missing or wrong password: NOAUTH, WRONGPASS, "ERR invalid password"
 * (before Redis 6), and AUTH sent to a Redis that has no password.
 */
function isAuthReply(message: string): boolean {
  const word = firstWord(message);
  return word === 'NOAUTH' || word === 'WRONGPASS' || message.startsWith('ERR invalid password') || message.includes('AUTH <password> called without any password configured');
}

function isUnavailable(error: Error): boolean {
  if (codes(error).some((code) => UNREACHABLE_CODES.has(code))) return true;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  if (IOREDIS_UNAVAILABLE.some((words) => error.message.startsWith(words))) return true;
  return firstWord(error.message) === 'LOADING';
}

function codes(error: Error): string[] {
  const own = (error as { code?: unknown }).code;
  const inner = error instanceof AggregateError ? error.errors.map((e: unknown) => (e as { code?: unknown } | null)?.code) : [];
  return [own, ...inner].filter((code): code is string => typeof code === 'string');
}

const firstWord = (message: string) => message.split(' ', 1)[0];
