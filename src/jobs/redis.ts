/** Redis connections: one URL (REDIS_URL), reconnecting forever, as BullMQ workers require. */
import { Redis } from 'ioredis';
import { GasError, isGasError } from '../errors.js';
import { TimeoutError, withTimeout } from '../ops/timeout.js';
import type { Logger } from '../log.js';
import type { HostedPart } from '../ops/host.js';
import { classifyRedisError, RedisAuthError } from './redis-errors.js';

import { DEFAULT_REDIS_URL } from './queue-settings.js';

export { DEFAULT_REDIS_URL };

/**
 * How long a one-shot command (`gas submit`, `cancel`, `undo`) waits for Redis to connect, or to
 * answer one command: under 5 s, so that with Node's start the command ends within the 5 s the
 * documentation promises.
 */
export const ONE_SHOT_DEADLINE_MS = 4500;

/** Where a Redis URL points, for messages: never the password. */
export interface RedisAddress {
  host: string;
  port: number;
}

/**
 * Checks a Redis URL before anything connects with it: `redis://[user:password@]host[:port][/db]`
 * or `rediss://…`. The message never repeats the URL, since it may hold a password.
 */
export function parseRedisUrl(url: string): RedisAddress {
  const example = 'Use redis://[:password@]host[:port][/db], e.g. redis://127.0.0.1:6379.';
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new GasError('bad_input', `REDIS_URL (or --redis-url) is not a URL. ${example}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new GasError('bad_input', `REDIS_URL (or --redis-url) must start with redis:// or rediss:// (got ${parsed.protocol}//). ${example}`);
  }
  if (!parsed.hostname) throw new GasError('bad_input', `REDIS_URL (or --redis-url) names no host. ${example}`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new GasError('bad_input', `REDIS_URL (or --redis-url) has a database that is not a number. ${example}`);
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : 6379 };
}

/**
 * What a person reads when Redis failed them: authentication named as such, otherwise "cannot
 * reach", with the host and port and never the password. GasErrors pass through.
 */
export function redisFailure(error: unknown, address: RedisAddress): GasError {
  if (isGasError(error)) return error;
  const where = `${address.host}:${address.port}`;
  if (classifyRedisError(error) instanceof RedisAuthError) {
    return new GasError('service_unavailable', `Redis at ${where} refused to authenticate: the password (or user) in REDIS_URL is wrong or missing. Set REDIS_URL to redis://:<password>@${where}.`);
  }
  const why = error instanceof TimeoutError ? ' (it did not answer in time)' : '';
  return new GasError('service_unavailable', `Cannot reach Redis at ${where}${why}. Is it running? Set REDIS_URL to where it is.`);
}

/**
 * For errors thrown after connecting (`gas submit`, `cancel`, `undo`): a lost or silent Redis
 * becomes the same short message as at connect time; any other error passes through unchanged.
 */
export function asRedisFailure(error: unknown, url: string): unknown {
  if (isGasError(error) || !(error instanceof Error)) return error;
  if (classifyRedisError(error) === undefined) return error;
  return redisFailure(error, parseRedisUrl(url));
}

/** Deletes every key under `prefix` (a deployment's, or a test's): SCAN, never KEYS, so Redis keeps serving. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== '0');
}

/**
 * A new connection. `maxRetriesPerRequest: null` lets commands wait through a Redis restart
 * instead of failing (BullMQ requires it for workers); reconnects back off up to 2 s.
 */
export function connectRedis(url: string = DEFAULT_REDIS_URL): Redis {
  parseRedisUrl(url);
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
}

/**
 * A connection for one-shot commands (`gas submit`, `gas cancel`): it gives up within
 * `deadlineMs` instead of waiting for Redis forever — also when Redis accepts the connection
 * but never answers — with a message that names the host, never the password. Each later
 * command also fails after `deadlineMs`; blocking reads (following a job) are given their own
 * connection without that limit.
 */
export async function connectRedisOnce(url: string = DEFAULT_REDIS_URL, deadlineMs = ONE_SHOT_DEADLINE_MS): Promise<Redis> {
  const address = parseRedisUrl(url);
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: Math.min(3000, deadlineMs),
    commandTimeout: deadlineMs,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => (times > 3 ? null : 300),
  });
  let lastError: unknown;
  redis.on('error', (error) => (lastError = error)); // reported below, once
  try {
    // `connect` waits for the ready check (INFO), so a Redis that never answers times out here.
    await withTimeout(redis.connect(), deadlineMs, 'connecting to Redis');
    return redis;
  } catch (error) {
    redis.disconnect();
    throw redisFailure(classifyRedisError(error) instanceof RedisAuthError ? error : (lastError ?? error), address);
  }
}

/** How often a process that keeps failing to reach Redis says so again. */
export const REDIS_ERROR_LOG_INTERVAL_MS = 30_000;

/**
 * Reports Redis connection errors of a long-running process at a bounded rate: the first at
 * once, then one line per `intervalMs` with how many were left out, and one line when a
 * connection is ready again. Only the message goes out (never the error object: ioredis puts a
 * failed AUTH's password in it), worded for a person when the password is the problem.
 */
export function redisErrorReporter(logger: Logger, address: RedisAddress, intervalMs = REDIS_ERROR_LOG_INTERVAL_MS) {
  let lastLogged = -Infinity;
  let suppressed = 0;
  let failing = false;
  return {
    error(error: Error): void {
      failing = true;
      const now = Date.now();
      if (now - lastLogged < intervalMs) {
        suppressed += 1;
        return;
      }
      lastLogged = now;
      const auth = classifyRedisError(error) instanceof RedisAuthError;
      logger.warn(
        { redis: `${address.host}:${address.port}`, error: redisFailure(error, address).message, ...(suppressed > 0 ? { repeated: suppressed } : {}) },
        auth ? 'redis refused to authenticate (retrying; check the password in REDIS_URL)' : 'redis connection error (reconnecting)',
      );
      suppressed = 0;
    },
    ready(): void {
      if (!failing) return;
      failing = false;
      lastLogged = -Infinity;
      suppressed = 0;
      logger.info({ redis: `${address.host}:${address.port}` }, 'redis connection ready again');
    },
  };
}

/**
 * A service process's connection (worker, bot): it reconnects forever, and its errors are logged
 * at a bounded rate by `errors`, which the process also hands what its other connections report.
 */
export function connectServiceRedis(url: string, logger: Logger): { redis: Redis; address: RedisAddress; errors: ReturnType<typeof redisErrorReporter> } {
  const address = parseRedisUrl(url);
  const redis = connectRedis(url);
  const errors = redisErrorReporter(logger, address);
  redis.on('error', (error) => errors.error(error));
  redis.on('ready', () => errors.ready());
  return { redis, address, errors };
}

/**
 * A service process's Redis connection as a part of its host: /healthz says whether it answers,
 * `close` runs last when the process stops (the queue's own connection), and it is dropped after.
 */
export function redisPart(redis: Redis, options: { close?: () => Promise<void> } = {}): HostedPart {
  return {
    name: 'redis',
    health: async () => ((await redis.ping()) === 'PONG' ? { ok: true, state: 'up' } : { ok: false, state: 'down' }),
    stop: async () => {
      await options.close?.();
    },
    disconnect: () => redis.disconnect(),
  };
}
