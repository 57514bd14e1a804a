/** Redis connections: one URL (REDIS_URL), reconnecting forever, as BullMQ workers require. */
import { Redis } from 'ioredis';

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
