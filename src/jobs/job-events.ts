/**
 * A job's events on Redis: one stream per job, so any number of adapter processes, on any
 * machine, can follow a job from its start or from where they left off. Sequence numbers are
 * given inside the same Lua call that appends, so stream order and `seq` always agree; a job's
 * terminal event (done, failed, cancelled) is published at most once and closes the stream to
 * further events.
 */
import type { Redis } from 'ioredis';
import { isTerminal, jobEventSchema, type JobEvent, type JobEventBody } from './contracts.js';
import type { Keys } from './keys.js';
import { scripts } from './scripts/index.js';
import { classifyRedisError, RedisUnavailableError } from './redis-errors.js';

/** A run of a job, as it publishes: the key that names the job's current run, and this run's token. */
export interface RunFence {
  key: string;
  token: string;
}

/** The publishing run is no longer the job's current run: another worker took the job over. */
export class RunSupersededError extends Error {
  override readonly name = 'RunSupersededError';
}

export interface FollowOptions {
  /** Skip events up to and including this sequence number (resume after a reconnect). */
  afterSeq?: number;
  signal?: AbortSignal;
  /** How long one blocking read waits before checking `signal` again. */
  blockMs?: number;
}

export class JobEvents {
  private readonly ttlSeconds: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    options: { ttlSeconds?: number } = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 7 * 24 * 3600;
    if (!(Number.isInteger(this.ttlSeconds) && this.ttlSeconds > 0)) throw new Error(`ttlSeconds must be a positive whole number (got ${this.ttlSeconds}).`);
  }

  /**
   * Appends an event; undefined when the job already ended (its terminal event was published).
   * With `fence`, only while that run is the job's current one; otherwise RunSupersededError.
   */
  async publish(jobId: string, body: JobEventBody, fence?: RunFence): Promise<JobEvent | undefined> {
    const at = Date.now();
    const seq = await scripts(this.redis).publish(
      { seq: this.keys.seq(jobId), events: this.keys.events(jobId), terminal: this.keys.terminal(jobId), runner: fence?.key ?? '' },
      { body: JSON.stringify(body), isTerminal: isTerminal(body) ? '1' : '0', ttlSeconds: this.ttlSeconds, now: at, token: fence?.token ?? '' },
    );
    if (seq === -1) throw new RunSupersededError(`job ${jobId} is being run by another worker`);
    return seq === null ? undefined : ({ jobId, seq, at, ...body } as JobEvent);
  }

  /** True once the job's terminal event is out. */
  async ended(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.terminal(jobId))) === 1;
  }

  /** Every event published so far, in order. */
  async history(jobId: string): Promise<JobEvent[]> {
    const entries = await this.redis.xrange(this.keys.events(jobId), '-', '+');
    return entries.map(([, fields]) => parseEntry(jobId, fields));
  }

  /**
   * The job's events from the start (or after `afterSeq`), then live ones, until the terminal
   * event. Uses its own connection, since a blocking read holds the connection it runs on.
   */
  async *follow(jobId: string, options: FollowOptions = {}): AsyncGenerator<JobEvent> {
    // Its own connection that waits through a Redis restart, whatever the parent's retry
    // policy, and without a command timeout: the blocking read is meant to wait.
    const reader = this.redis.duplicate({ maxRetriesPerRequest: null, commandTimeout: undefined, retryStrategy: (times) => Math.min(times * 100, 2000) });
    // Connection errors show up as failed reads below; without a listener ioredis prints them raw.
    reader.on('error', () => {});
    let lastId = '0-0';
    let lastSeq = options.afterSeq ?? 0;
    try {
      while (!options.signal?.aborted) {
        let reply: [string, [string, string[]][]][] | null;
        try {
          reply = (await reader.xread('COUNT', 100, 'BLOCK', options.blockMs ?? 1000, 'STREAMS', this.keys.events(jobId), lastId)) as typeof reply;
        } catch (error) {
          // Redis went away mid-read: wait and read again from the last entry seen. Anything else
          // (a refused password, a key of the wrong type) will not mend by waiting.
          if (!(classifyRedisError(error) instanceof RedisUnavailableError)) throw error;
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          lastId = id;
          const event = parseEntry(jobId, fields);
          if (event.seq <= lastSeq) continue; // a duplicate or already seen
          lastSeq = event.seq;
          yield event;
          if (isTerminal(event)) return;
        }
      }
    } finally {
      reader.disconnect();
    }
  }
}

function parseEntry(jobId: string, fields: string[]): JobEvent {
  const value = (name: string) => fields[fields.indexOf(name) + 1];
  return jobEventSchema.parse({ jobId, seq: Number(value('seq')), at: Number(value('at')), ...JSON.parse(value('body')) });
}
