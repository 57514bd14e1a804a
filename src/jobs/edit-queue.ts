/**
 * The edit queue: BullMQ on Redis, with what a shared GPU needs on top — per-user admission
 * (at most N jobs of a person in the queue; the next is refused or held back, by config), a
 * global length cap, positions with ETAs from recent durations, priorities, and cancellation
 * by the requester (or an admin). Events go out through JobEvents, so any process can follow.
 */
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { GasError } from '../errors.js';
import { editJobSchema, type EditJob, type JobEventBody } from './contracts.js';
import { JobEvents, type RunFence } from './job-events.js';
import type { Keys } from './keys.js';
import { DEFAULT_QUEUE_CONFIG, type EditQueueConfig } from './queue-settings.js';
import { scripts } from './scripts/index.js';

export const EDIT_JOB_NAME = 'edit';

export { DEFAULT_QUEUE_CONFIG, type EditQueueConfig } from './queue-settings.js';

export type SubmitInput = Omit<EditJob, 'id' | 'createdAt' | 'options' | 'priority'> & Partial<Pick<EditJob, 'id' | 'options' | 'priority'>>;

export interface Submitted {
  jobId: string;
  /** Jobs that will start before this one (0: next). */
  position: number;
  /** Estimated time until the job starts. */
  startsInMs: number;
  /** Estimated time until the job finishes. */
  etaMs: number;
  /** Held back by the per-user limit until one of the person's jobs finishes. */
  held: boolean;
}

/** How long an admitted job counts toward the cap before it is in BullMQ (a submitter that died in between stops counting). */
const ADMITTING_GRACE_MS = 60_000;

export class EditQueue {
  readonly queue: Queue;
  readonly events: JobEvents;
  readonly config: EditQueueConfig;

  constructor(
    private readonly redis: Redis,
    readonly keys: Keys,
    config: Partial<EditQueueConfig> = {},
  ) {
    this.config = { ...DEFAULT_QUEUE_CONFIG, ...config };
    const c = this.config;
    if (!(Number.isInteger(c.perUserLimit) && c.perUserLimit >= 1)) throw new Error(`perUserLimit must be 1 or more (got ${c.perUserLimit}).`);
    if (!(Number.isInteger(c.maxQueueLength) && c.maxQueueLength >= 1)) throw new Error(`maxQueueLength must be 1 or more (got ${c.maxQueueLength}).`);
    if (c.overLimit !== 'queue' && c.overLimit !== 'refuse') throw new Error(`overLimit must be queue or refuse (got ${String(c.overLimit)}).`);
    this.queue = new Queue(c.queueName, { connection: redis, prefix: keys.bull });
    this.events = new JobEvents(redis, keys, { ttlSeconds: c.ttlSeconds });
  }

  /** Adds a job, or holds it back, or refuses it; publishes its `queued` event. */
  async submit(input: SubmitInput): Promise<Submitted> {
    const job = editJobSchema.parse({ ...input, id: input.id ?? randomUUID(), createdAt: Date.now(), options: input.options ?? {} });
    if ((await this.redis.exists(this.keys.seq(job.id))) === 1) throw new GasError('bad_input', `Edit ${job.id} was already submitted.`);
    const user = job.requester.user;
    // The cap and the person's limit are checked and the slot taken in one step: concurrent submits cannot both pass.
    const [outcome, waiting] = await scripts(this.redis).admit(
      {
        active: this.keys.userActive(user), backlog: this.keys.userBacklog(user), heldJobs: this.keys.heldJobs, held: this.keys.held(job.id),
        wait: this.queue.keys.wait, prioritized: this.queue.keys.prioritized, admitting: this.keys.admitting,
      },
      {
        jobId: job.id, perUserLimit: this.config.perUserLimit, overLimit: this.config.overLimit, job: JSON.stringify(job), ttlSeconds: this.config.ttlSeconds,
        terminalPrefix: this.keys.terminal(''), maxWaiting: this.config.maxQueueLength, now: Date.now(), admittingMs: ADMITTING_GRACE_MS,
      },
    );
    if (outcome === 'busy') {
      throw new GasError('busy', `The queue is full (${waiting} edits waiting). Please try again in a few minutes.`);
    }
    if (outcome === 'refused') {
      throw new GasError('too_many_jobs', `You already have ${this.config.perUserLimit} edits in progress; wait for one to finish, or cancel one.`);
    }
    // Held: behind everything waiting now. Admitted: behind the waiting jobs of its priority or better.
    const position = outcome === 'held' ? waiting : await this.aheadOf(job.priority + 1);
    const estimate = await this.estimate(position);
    // `queued` goes out before the job can reach a worker, so it is always the first event.
    await this.events.publish(job.id, { type: 'queued', position, ...estimate });
    if (outcome === 'admitted') await this.enqueue(job);
    return { jobId: job.id, position, ...estimate, held: outcome === 'held' };
  }

  /**
   * Cancels a job for `byUser`: the requester, or an admin (`isAdmin`: a platform admin, as the
   * chat adapter knows from roles; users in GAS_ADMINS always are). A waiting job is removed at
   * once ('cancelled'); a running one is stopped by its worker within one iteration ('cancelling').
   */
  async cancel(jobId: string, byUser: string, isAdmin = false): Promise<'cancelled' | 'cancelling'> {
    const heldJson = await this.redis.get(this.keys.held(jobId));
    const job = heldJson ? (JSON.parse(heldJson) as EditJob) : ((await this.queue.getJob(jobId))?.data as EditJob | undefined);
    if (!job) throw new GasError('bad_input', `There is no edit ${jobId} (it may have finished long ago).`);
    const owner = job.requester.user;
    if (byUser !== owner && !isAdmin && !this.config.admins.includes(byUser)) {
      throw new GasError('not_allowed', `Only the person who asked for edit ${jobId} can cancel it.`);
    }
    if (await this.events.ended(jobId)) throw new GasError('bad_input', `Edit ${jobId} has already finished.`);

    if (heldJson) {
      const unheld = await scripts(this.redis).unhold({ backlog: this.keys.userBacklog(owner), heldJobs: this.keys.heldJobs, held: this.keys.held(jobId) }, { jobId });
      if (unheld === 1) {
        await this.events.publish(jobId, { type: 'cancelled', by: byUser });
        return 'cancelled';
      }
    }
    const queued = await this.queue.getJob(jobId);
    const state = queued ? await queued.getState() : 'unknown';
    if (queued && (state === 'waiting' || state === 'prioritized' || state === 'delayed')) {
      try {
        await queued.remove();
        await this.finish(jobId, { type: 'cancelled', by: byUser });
        await this.release(jobId, owner);
        return 'cancelled';
      } catch {
        // It started between our look and the removal: stop it like any running job.
      }
    }
    await this.redis.set(this.keys.cancel(jobId), byUser, 'EX', this.config.ttlSeconds);
    await this.redis.publish(this.keys.cancelChannel, jobId);
    return 'cancelling';
  }

  /**
   * Publishes a job's terminal event (once) and records its duration. Returns false when the job
   * had already ended; with `fence`, throws RunSupersededError when another run owns the job.
   */
  async finish(jobId: string, body: JobEventBody & { type: 'done' | 'failed' | 'cancelled' }, durationMs?: number, fence?: RunFence): Promise<boolean> {
    const published = await this.events.publish(jobId, body, fence);
    if (!published) return false;
    if (durationMs !== undefined) await this.redis.multi().lpush(this.keys.durations, String(Math.round(durationMs))).ltrim(this.keys.durations, 0, 49).exec();
    return true;
  }

  /**
   * Frees the person's slot of a job that has left the queue and admits their next held-back job.
   * Workers call it once BullMQ has recorded the job as completed or failed, so a person never
   * has more than their limit of jobs in the queue, not even for a moment.
   */
  async release(jobId: string, user: string): Promise<void> {
    const promoted = await scripts(this.redis).release(
      { active: this.keys.userActive(user), backlog: this.keys.userBacklog(user), heldJobs: this.keys.heldJobs, admitting: this.keys.admitting },
      { jobId, perUserLimit: this.config.perUserLimit, heldPrefix: this.keys.held(''), now: Date.now(), ttlSeconds: this.config.ttlSeconds },
    );
    if (promoted) {
      const next = editJobSchema.parse(JSON.parse(promoted));
      const position = await this.aheadOf(next.priority + 1);
      await this.events.publish(next.id, { type: 'queued', position, ...(await this.estimate(position)) });
      await this.enqueue(next);
    }
  }

  /** Jobs per state, for metrics: waiting, active, delayed, and held back by the per-user limit. */
  async depth(): Promise<Record<string, number>> {
    const counts = await this.queue.getJobCounts('wait', 'prioritized', 'active', 'delayed');
    return {
      waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      held: await this.redis.scard(this.keys.heldJobs),
    };
  }

  async getJob(jobId: string): Promise<Job | undefined> {
    return this.queue.getJob(jobId);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  private async enqueue(job: EditJob): Promise<void> {
    // BullMQ runs lower priority numbers first and keeps FIFO among equals; 1 is its highest.
    await this.queue.add(EDIT_JOB_NAME, job, {
      jobId: job.id,
      priority: job.priority + 1,
      attempts: 1,
      removeOnComplete: { age: this.config.ttlSeconds },
      removeOnFail: { age: this.config.ttlSeconds },
    });
    await this.redis.zrem(this.keys.admitting, job.id);
  }

  /** Waiting jobs that start before a new one of this BullMQ priority: those of equal or better priority. */
  private async aheadOf(priority: number): Promise<number> {
    const waiting = await this.queue.getJobs(['wait', 'prioritized']);
    return waiting.filter((j) => j && (j.opts.priority ?? 0) <= priority).length;
  }

  /** When a job at `position` starts and finishes, from now: the jobs ahead and running, spread over the workers, at the recent mean duration. */
  private async estimate(position: number): Promise<{ startsInMs: number; etaMs: number }> {
    const [recent, active, workers] = await Promise.all([
      this.redis.lrange(this.keys.durations, 0, 19),
      this.queue.getActiveCount(),
      this.queue.getWorkersCount(),
    ]);
    const mean = recent.length > 0 ? recent.reduce((s, v) => s + Number(v), 0) / recent.length : this.config.defaultDurationMs;
    const startsInMs = startsIn(position + active, Math.max(1, workers), mean);
    return { startsInMs, etaMs: Math.round(startsInMs + mean) };
  }
}

/**
 * When a job starts with `ahead` jobs waiting or running before it on `workers` workers, each
 * taking `meanMs`: once all but `workers - 1` of them have finished, at `workers` jobs per mean.
 */
export function startsIn(ahead: number, workers: number, meanMs: number): number {
  return Math.round((Math.max(0, ahead - workers + 1) * meanMs) / workers);
}
