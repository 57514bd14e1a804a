/**
 * One person's message makes at most one job, however often the platform delivers it: Slack
 * retries unacknowledged events, Socket Mode redelivers late-acked envelopes, and one message that
 * mentions the bot arrives both as `app_mention` and as `message`. The claim lives in Redis (SET NX
 * with a TTL), so it holds across restarts and across several bot processes.
 */
import type { Redis } from 'ioredis';
import type { Platform } from '../jobs/contracts.js';
import type { Keys } from '../jobs/keys.js';

/** Slack retries for about an hour at most; a day leaves room for slow redeliveries and restarts. */
export const DEFAULT_DEDUPE_TTL_SECONDS = 24 * 3600;

/** Where a person's message lives; the thread is part of it so that two threads never share a claim. */
export interface MessageIdentity {
  platform: Platform;
  channel: string;
  thread: string;
  message: string;
}

export class MessageDedupe {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds = DEFAULT_DEDUPE_TTL_SECONDS,
  ) {
    if (!(Number.isInteger(ttlSeconds) && ttlSeconds >= 1)) throw new Error(`ttlSeconds must be a whole number of at least 1 (got ${ttlSeconds}).`);
  }

  key({ platform, channel, thread, message }: MessageIdentity): string {
    return this.keys.messageSeen(platform, channel, thread, message);
  }

  /** True for the first delivery of a message, false for every later one within the TTL. */
  async claim(identity: MessageIdentity): Promise<boolean> {
    return (await this.redis.set(this.key(identity), '1', 'EX', this.ttlSeconds, 'NX')) === 'OK';
  }
}
