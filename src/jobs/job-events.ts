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

/** KEYS: seq, events, terminal. ARGV: body JSON, terminal?, ttl seconds, now ms. Returns seq, or nil when refused. */
const PUBLISH = `
if redis.call('EXISTS', KEYS[3]) == 1 then return nil end
if ARGV[2] == '1' then redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[3]) end
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('XADD', KEYS[2], '*', 'seq', seq, 'at', ARGV[4], 'body', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
`;

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

  /** Appends an event; undefined when the job already ended (its terminal event was published). */
  async publish(jobId: string, body: JobEventBody): Promise<JobEvent | undefined> {
    const at = Date.now();
    const seq = (await this.redis.eval(
      PUBLISH,
      3,
      this.keys.seq(jobId),
      this.keys.events(jobId),
      this.keys.terminal(jobId),
      JSON.stringify(body),
      isTerminal(body) ? '1' : '0',
      String(this.ttlSeconds),
      String(at),
    )) as number | null;
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
    const reader = this.redis.duplicate();
    let lastId = '0-0';
    let lastSeq = options.afterSeq ?? 0;
    try {
      while (!options.signal?.aborted) {
        const reply = (await reader.xread('COUNT', 100, 'BLOCK', options.blockMs ?? 1000, 'STREAMS', this.keys.events(jobId), lastId)) as
          | [string, [string, string[]][]][]
          | null;
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
