/** Redis connections: one URL (REDIS_URL), reconnecting forever, as BullMQ workers require. */
import { Redis } from 'ioredis';
import { GasError } from '../errors.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function redisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDIS_URL?.trim() || DEFAULT_REDIS_URL;
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
export function connectRedis(url: string = redisUrl()): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
}

/**
 * A connection for one-shot commands (`gas submit`, `gas cancel`): it gives up after a few
 * seconds instead of waiting for Redis forever, with a message that names the host, never the password.
 */
export async function connectRedisOnce(url: string = redisUrl()): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => (times > 3 ? null : 300),
  });
  redis.on('error', () => {}); // reported below, once
  try {
    await redis.connect();
    return redis;
  } catch {
    redis.disconnect();
    const { hostname, port } = new URL(url);
    throw new GasError('service_unavailable', `Cannot reach Redis at ${hostname}:${port || 6379}. Is it running? Set REDIS_URL to where it is.`);
  }
}
