/**
 * What a platform's transport remembers across restarts of its process, in Redis under
 * `keys.platformState(platform, name)`: small values with a lifetime, written and read by name.
 * The bot process hands each transport one (src/chat/platform.ts, `useStore`); a transport
 * without one keeps the same things in memory, and forgets them when it stops.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

export interface PlatformStore {
  get(name: string): Promise<string | undefined>;
  /** Stores a value for `ttlMs` milliseconds (replacing any). */
  set(name: string, value: string, ttlMs: number): Promise<void>;
  /** The value, removed in the same step: of two processes taking it, one gets it. */
  take(name: string): Promise<string | undefined>;
}

export function redisPlatformStore(redis: Redis, keys: Keys, platform: string): PlatformStore {
  const key = (name: string) => keys.platformState(platform, name);
  return {
    get: async (name) => (await redis.get(key(name))) ?? undefined,
    set: async (name, value, ttlMs) => {
      await redis.set(key(name), value, 'PX', Math.max(1, Math.round(ttlMs)));
    },
    take: async (name) => (await redis.getdel(key(name))) ?? undefined,
  };
}

/** The same in memory, for a transport run without Redis (tests, tools): forgotten when the process ends. */
export function memoryPlatformStore(now: () => number = Date.now): PlatformStore {
  const values = new Map<string, { value: string; expiresAt: number }>();
  const live = (name: string) => {
    const entry = values.get(name);
    if (entry && entry.expiresAt <= now()) values.delete(name);
    return values.get(name)?.value;
  };
  return {
    get: async (name) => live(name),
    set: async (name, value, ttlMs) => {
      for (const [known, entry] of values) if (entry.expiresAt <= now()) values.delete(known);
      values.set(name, { value, expiresAt: now() + ttlMs });
    },
    take: async (name) => {
      const value = live(name);
      values.delete(name);
      return value;
    },
  };
}
