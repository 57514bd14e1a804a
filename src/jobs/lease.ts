/**
 * A lease in Redis: one holder at a time for a named thing (a status message to follow, a bot
 * token's gateway connection), held by renewing it and lost by not renewing it. A process that
 * dies stops renewing, so another process takes the thing over once the lease runs out. Taking,
 * renewing and giving up are single Redis commands or one script, so two processes can never
 * both believe they hold it.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { scripts } from './scripts/index.js';

export interface LeaseOptions {
  /** How long a lease lasts without renewal: a dead holder's thing is taken over after at most this. */
  ttlMs: number;
}

/** The leases one process holds, under one holder id. */
export class Leases {
  constructor(
    private readonly redis: Redis,
    /** This process's id, unique among the processes sharing the Redis (e.g. host:pid:random). */
    readonly holder: string,
    private readonly options: LeaseOptions,
  ) {
    if (!(Number.isInteger(options.ttlMs) && options.ttlMs >= 100)) throw new Error(`ttlMs must be a whole number of at least 100 (got ${options.ttlMs}).`);
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  /** Takes the lease at `key` when nobody holds it (or this process already does); true when held now. */
  async acquire(key: string): Promise<boolean> {
    const taken = await this.redis.set(key, this.holder, 'PX', this.options.ttlMs, 'NX');
    if (taken === 'OK') return true;
    return this.renew(key);
  }

  /** Extends the lease when this process still holds it; false when it was lost (expired, or taken over). */
  async renew(key: string): Promise<boolean> {
    return (await scripts(this.redis).leaseRenew({ lease: key }, { holder: this.holder, ttlMs: this.options.ttlMs })) === 1;
  }

  /** Gives the lease up, if this process holds it, so another can take it at once. */
  async release(key: string): Promise<void> {
    await scripts(this.redis).leaseRelease({ lease: key }, { holder: this.holder });
  }

  /** Who holds the lease at `key` now, if anyone. */
  async holderOf(key: string): Promise<string | undefined> {
    return (await this.redis.get(key)) ?? undefined;
  }
}

/** An id for this process among the processes sharing a Redis: its host, its pid and a random part. */
export function processHolderId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}
