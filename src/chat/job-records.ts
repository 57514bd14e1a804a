/**
 * What the chat flow remembers in Redis, so that buttons and status messages keep working after
 * a restart: per job, where its status message lives, who asked, what they asked and the last
 * event rendered; per platform, the jobs still unfinished; and which threads are edit threads.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CHECK_MODES, editJobOptionsSchema, requesterSchema, type CheckMode, type EditJobOptions, type Requester } from '../jobs/contracts.js';
import type { Keys } from '../jobs/keys.js';
import type { ThreadId } from '../jobs/thread-history.js';
import { planSchema, type Plan } from '../plan/schema.js';
import type { StatusRef } from './transport.js';

/** How long a press holds back further presses of the same button on the same message: a double click is one press. */
const PRESS_HOLD_MS = 1000;

const statusRefSchema = z
  .object({ platform: requesterSchema.shape.platform, channel: z.string(), message: z.string(), thread: z.string() })
  .passthrough();

const recordSchema = z.object({
  status: statusRefSchema,
  requester: requesterSchema.extend({ thread: z.string().min(1) }),
  request: z.string(),
  options: editJobOptionsSchema,
  lastSeq: z.number().int().min(0),
  requestedAt: z.number().int().optional(),
  step: z.number().int().min(1).optional(),
  check: z.enum(CHECK_MODES).optional(),
  plan: planSchema.optional(),
});

const editThreadSchema = z.object({ channel: z.string().min(1), steps: editJobOptionsSchema.shape.steps });
type EditThreadRecord = z.infer<typeof editThreadSchema>;

/** One job as the chat flow shows it. */
export interface JobRecord {
  status: StatusRef;
  requester: Requester & { thread: string };
  /** What the person wrote, as they wrote it. */
  request: string;
  options: EditJobOptions;
  /** The sequence number of the last event whose rendering reached the status message. */
  lastSeq: number;
  /** When the person asked (ms since the epoch): a job that ends long after pings them. */
  requestedAt?: number;
  /** The edit's number in its thread ("edit 3 of this thread"). */
  step?: number;
  /** When its masks were to be checked, as the request chose (a Retry keeps it). */
  check?: CheckMode;
  /** The plan it ran with instead of planning its text (an adjusted edit): a Retry runs it again. */
  plan?: Plan;
}

export class JobRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
  ) {}

  /** Remembers a job the flow now shows, as unfinished. */
  async add(jobId: string, record: JobRecord): Promise<void> {
    const key = this.keys.chatJob(jobId);
    const unfinished = this.keys.unfinishedJobs(record.status.platform);
    await this.redis
      .multi()
      .set(key, JSON.stringify(record), 'EX', this.ttlSeconds)
      .sadd(unfinished, jobId)
      .expire(unfinished, this.ttlSeconds)
      .exec();
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const raw = await this.redis.get(this.keys.chatJob(jobId));
    if (raw === null) return undefined;
    const parsed = recordSchema.safeParse(JSON.parse(raw));
    return parsed.success ? (parsed.data as JobRecord) : undefined;
  }

  /** Records that the status message now shows the job up to `seq`; `finished` takes it off the unfinished list. */
  async rendered(jobId: string, platform: string, seq: number, finished: boolean): Promise<void> {
    const record = await this.get(jobId);
    if (!record) return;
    const multi = this.redis.multi().set(this.keys.chatJob(jobId), JSON.stringify({ ...record, lastSeq: Math.max(record.lastSeq, seq) }), 'KEEPTTL');
    if (finished) multi.srem(this.keys.unfinishedJobs(platform), jobId);
    await multi.exec();
  }

  async unfinished(platform: string): Promise<string[]> {
    return this.redis.smembers(this.keys.unfinishedJobs(platform));
  }

  /** Drops a job from the unfinished list without rendering it (its record or events are gone). */
  async forget(jobId: string, platform: string): Promise<void> {
    await this.redis.srem(this.keys.unfinishedJobs(platform), jobId);
  }

  /**
   * True for a person's first press of a button on one status message within a second: their
   * double click is one press (Undo must not rewind twice), while a press a moment later, on
   * another message, or by someone else is a new action.
   */
  async claimPress(action: string, jobId: string, message: string, user: string): Promise<boolean> {
    return (await this.redis.set(this.keys.buttonPress(action, jobId, message, user), '1', 'PX', PRESS_HOLD_MS, 'NX')) === 'OK';
  }

  /** The next edit's number in a thread: 1, 2, 3… */
  async nextStep(thread: ThreadId): Promise<number> {
    const key = this.keys.threadSteps(thread.platform, thread.thread);
    const [[, step]] = (await this.redis.multi().incr(key).expire(key, this.ttlSeconds).exec()) as [[Error | null, number], unknown];
    return step;
  }

  /** True the first time it is asked for a job: the one ping about its end. */
  async claimNotification(jobId: string): Promise<boolean> {
    return (await this.redis.set(this.keys.notified(jobId), '1', 'EX', this.ttlSeconds, 'NX')) === 'OK';
  }

  /**
   * Marks a thread as one of the bot's edit threads, under the channel its history is kept in, with
   * the steps its person chose: replies in the conversation keep them.
   */
  async addEditThread(thread: ThreadId, steps?: number): Promise<void> {
    const value: EditThreadRecord = { channel: thread.channel, ...(steps !== undefined ? { steps } : {}) };
    await this.redis.set(this.keys.editThread(thread.platform, thread.thread), JSON.stringify(value), 'EX', this.ttlSeconds);
  }

  /**
   * The edit thread a message was posted in, or undefined when it is not one. Looked up by the
   * thread alone, since a platform may name a thread's channel differently inside the thread.
   */
  async editThread(platform: ThreadId['platform'], thread: string): Promise<{ thread: ThreadId; steps?: number } | undefined> {
    const raw = await this.redis.get(this.keys.editThread(platform, thread));
    if (raw === null) return undefined;
    const parsed = editThreadSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) return undefined;
    return { thread: { platform, channel: parsed.data.channel, thread }, ...(parsed.data.steps !== undefined ? { steps: parsed.data.steps } : {}) };
  }
}
