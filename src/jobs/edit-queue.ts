/**
 * The edit queue: BullMQ on Redis, with what a shared GPU needs on top — per-user admission
 * (at most N jobs of a person in the queue; the next is refused or held back, by config), a
 * global length cap, positions with ETAs from recent durations, priorities, and cancellation
 * by the requester (or an admin). Events go out through JobEvents, so any process can follow.
 *
 * A job may pause after grounding for its masks to be checked (docs/architecture.md, "The check
 * step"): it then holds no worker but keeps its person's slot; Go puts its edit stage on the
 * queue (a BullMQ job of its own, `<id>-go-<round>`, behind every job already waiting: FIFO at the
 * moment of Go); fixes and the expiry are tasks on a small second queue, the check lane, that
 * workers run beside their edits.
 */
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { GasError } from '../errors.js';
import { planToEdit, type PlanFix } from '../plan/fix.js';
import { CheckStore, editStageId, type Check } from './checks.js';
import { editJobSchema, type EditJob, type JobEventBody } from './contracts.js';
import { JobEvents, type RunFence } from './job-events.js';
import type { Keys } from './keys.js';
import { DEFAULT_QUEUE_CONFIG, type EditQueueConfig } from './queue-settings.js';
import { scripts } from './scripts/index.js';
import { estimateBySteps, startsIn, typicalRun, type JobAhead, type RunSample } from './eta.js';

export const EDIT_JOB_NAME = 'edit';

/** The check lane's tasks: a fix to apply (read by the rules), a reply for the planner model to read, a check's expiry. */
export type CheckTask =
  /** `parts`: how many parts the plan had when the person wrote (their numbers are of that plan). */
  | { kind: 'fix'; jobId: string; fixes: PlanFix[]; text: string; parts?: number }
  | { kind: 'read'; jobId: string; text: string; parts?: number }
  | { kind: 'expire'; jobId: string; deadline: number };

/** The check lane's queue: beside the edit queue, so a fix or an expiry never waits behind an edit. */
export const checkLaneName = (queueName: string) => `${queueName}-checks`;

export { DEFAULT_QUEUE_CONFIG, type EditQueueConfig } from './queue-settings.js';

export type SubmitInput = Omit<EditJob, 'id' | 'createdAt' | 'options' | 'priority'> & Partial<Pick<EditJob, 'id' | 'options' | 'priority'>>;

/** Where a waiting job stands. */
export interface Standing {
  /** Waiting jobs that will start before this one (0: next). */
  position: number;
  /** Its place in line, 1-based, counting the running jobs it waits for ("2nd in line"). */
  place: number;
  /** Estimated time until the job starts. */
  startsInMs: number;
  /** Estimated time until the job finishes. */
  etaMs: number;
}

export interface Submitted {
  jobId: string;
  /** Jobs that will start before this one (0: next). */
  position: number;
  /** Its place in line, counting the running jobs it waits for. */
  place: number;
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
  /** The check lane (see checkLaneName). */
  readonly checkLane: Queue;
  readonly events: JobEvents;
  readonly checks: CheckStore;
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
    this.checkLane = new Queue(checkLaneName(c.queueName), { connection: redis, prefix: keys.bull });
    this.events = new JobEvents(redis, keys, { ttlSeconds: c.ttlSeconds });
    this.checks = new CheckStore(redis, keys, c.ttlSeconds);
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
        maxHeldPerUser: this.config.maxHeldPerUser,
      },
    );
    if (outcome === 'busy') {
      throw new GasError('busy', `The queue is full (${waiting} edits waiting). Please try again in a few minutes.`);
    }
    if (outcome === 'refused') {
      throw new GasError('too_many_jobs', `You already have ${this.config.perUserLimit} edits in progress; wait for one to finish, or cancel one.`);
    }
    if (outcome === 'held-full') {
      throw new GasError('too_many_jobs', `You already have ${this.config.perUserLimit + this.config.maxHeldPerUser} edits in progress or waiting; wait for one to finish, or cancel one.`);
    }
    // Held: behind everything waiting now. Admitted: behind the waiting jobs of its priority or better.
    const standing = await this.standingOf(job, outcome === 'held' ? { all: waiting } : { priority: job.priority + 1 });
    // `queued` goes out before the job can reach a worker, so it is always the first event.
    await this.events.publish(job.id, { type: 'queued', ...standing });
    if (outcome === 'admitted') await this.enqueue(job);
    return { jobId: job.id, ...standing, held: outcome === 'held' };
  }

  /**
   * Cancels a job for `byUser`: the requester, or an admin (`isAdmin`: a platform admin, as the
   * chat adapter knows from roles; users in GAS_ADMINS always are). A waiting job is removed at
   * once ('cancelled'); a running one is stopped by its worker within one iteration ('cancelling').
   */
  async cancel(jobId: string, byUser: string, isAdmin = false): Promise<'cancelled' | 'cancelling'> {
    const heldJson = await this.redis.get(this.keys.held(jobId));
    let check = heldJson ? undefined : await this.checks.get(jobId);
    const job = heldJson
      ? (JSON.parse(heldJson) as EditJob)
      : (check?.state.job ?? ((await this.queue.getJob(jobId))?.data as EditJob | undefined));
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
    // Waiting at its check, it holds no worker: it ends at once and frees the person's slot.
    if (check?.status === 'waiting') {
      if ((await this.checks.settle(check, 'cancelled', ['waiting'])).ok) return this.cancelNow(jobId, owner, byUser);
      check = await this.checks.get(jobId); // it went meanwhile: cancel its edit stage below
    }
    const bullId = check?.stageJob ?? jobId;
    const queued = await this.queue.getJob(bullId);
    // Go moved the check on but its edit stage is not in BullMQ (yet, or a crash lost it): nothing runs to stop.
    if (!queued && check?.status === 'going' && (await this.checks.settle(check, 'cancelled', ['going'])).ok) return this.cancelNow(jobId, owner, byUser);
    const state = queued ? await queued.getState() : 'unknown';
    if (queued && (state === 'waiting' || state === 'prioritized' || state === 'delayed')) {
      try {
        await queued.remove();
        return await this.cancelNow(jobId, owner, byUser);
      } catch {
        // It started between our look and the removal: stop it like any running job.
      }
    }
    await this.redis.set(this.keys.cancel(jobId), byUser, 'EX', this.config.ttlSeconds);
    await this.redis.publish(this.keys.cancelChannel, jobId);
    return 'cancelling';
  }

  /** A job that nothing runs ends cancelled now, and its person's slot is freed. */
  private async cancelNow(jobId: string, owner: string, byUser: string): Promise<'cancelled'> {
    await this.finish(jobId, { type: 'cancelled', by: byUser });
    await this.release(jobId, owner);
    return 'cancelled';
  }

  /**
   * Go for a job waiting at its check (its requester, or an admin): its edit stage joins the queue
   * behind every job waiting now, as a new job would (FIFO at the moment of Go), with the plan as
   * checked; parts found nowhere are left out. The person's slot was kept throughout.
   */
  async go(jobId: string, byUser: string, isAdmin = false): Promise<void> {
    const check = await this.checks.get(jobId);
    if (!check) throw new GasError('bad_input', 'This edit is not waiting for its masks to be checked.');
    if (byUser !== check.state.job.requester.user && !isAdmin && !this.config.admins.includes(byUser)) {
      throw new GasError('not_allowed', `Only the person who asked for edit ${jobId} can start it.`);
    }
    if (check.status !== 'waiting') throw notWaiting(check.status);
    if (!planToEdit(check.state.checked)) {
      throw new GasError('bad_input', 'Nothing was found to edit yet: reply "1 is …" with what to look for, or a box on the grid such as "1 is B3 to D5"; or press Cancel.');
    }
    const stageJob = editStageId(jobId, check.round);
    const settled = await this.checks.settle(check, 'going', ['waiting'], { stageJob });
    if (!settled.ok) throw notWaiting(settled.reason);
    await this.addEditStage(jobId, settled.round, settled.state, stageJob);
  }

  /**
   * Puts a job's edit stage on the queue (once: BullMQ keeps one job per id), after its `queued`
   * event, so that event is never behind one of the stage's own. Also how a Go lost to a crash
   * between its two steps is completed, when the check's expiry finds it going.
   */
  async addEditStage(jobId: string, round: number, state: Check['state'], stageJob = editStageId(jobId, round)): Promise<void> {
    if (await this.queue.getJob(stageJob)) return;
    const edit = planToEdit(state.checked);
    if (!edit) {
      // A fix that raced the Go left nothing found: there is nothing to edit.
      const missing = state.checked.regions.map((region) => region.phrase).slice(0, 8);
      await this.finish(jobId, { type: 'failed', code: 'not_found', details: { missing, detector: true } });
      await this.release(jobId, state.job.requester.user);
      return;
    }
    const stage = { kind: 'edit' as const, round, plan: edit.plan, source: state.source, ...(edit.intensity ? { intensity: edit.intensity } : {}) };
    const job: EditJob = { ...state.job, stage };
    await this.events.publish(jobId, { type: 'queued', ...(await this.standingOf(job, { priority: job.priority + 1 })) });
    await this.queue.add(EDIT_JOB_NAME, job, {
      jobId: stageJob,
      priority: job.priority + 1,
      attempts: 1,
      removeOnComplete: { age: this.config.ttlSeconds },
      removeOnFail: { age: this.config.ttlSeconds },
    });
  }

  /** Asks the check lane to apply a reply to a job waiting at its check. */
  async requestFix(task: Extract<CheckTask, { kind: 'fix' | 'read' }>): Promise<void> {
    await this.checkLane.add(task.kind, task, { removeOnComplete: true, removeOnFail: { age: 3600 }, attempts: 2 });
  }

  /** Schedules the expiry of a check at its deadline; a second call for the same deadline adds nothing. */
  async scheduleExpiry(jobId: string, deadline: number): Promise<void> {
    const task: CheckTask = { kind: 'expire', jobId, deadline };
    await this.checkLane.add('expire', task, {
      jobId: `${jobId}-expire-${deadline}`,
      delay: Math.max(0, deadline - Date.now()),
      attempts: 3,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { age: this.config.ttlSeconds },
    });
  }

  /**
   * A check at its deadline: a job still waiting ends as expired (its slot freed); one whose Go
   * was interrupted gets its edit stage. Anything else (went, cancelled, another deadline) is left alone.
   */
  async expire(jobId: string, deadline: number): Promise<'expired' | 'resumed' | 'nothing'> {
    const check = await this.checks.get(jobId);
    if (!check || check.deadline !== deadline) return 'nothing';
    if (check.status === 'going') {
      await this.addEditStage(jobId, check.round, check.state, check.stageJob);
      return 'resumed';
    }
    const settled = await this.checks.settle(check, 'expired', ['waiting'], { deadline });
    if (!settled.ok) return 'nothing';
    const limitMs = check.state.job.check?.timeoutMs;
    await this.finish(jobId, { type: 'failed', code: 'expired', details: limitMs === undefined ? {} : { limitMs } });
    await this.release(jobId, check.state.job.requester.user);
    return 'expired';
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

  /** Records what a worker measured of a finished edit, for the start-time estimates of waiting jobs. */
  async recordRun(sample: RunSample): Promise<void> {
    await this.redis.multi().lpush(this.keys.runSamples, JSON.stringify(sample)).ltrim(this.keys.runSamples, 0, RUN_SAMPLES - 1).exec();
  }

  /** Where a job still waiting stands now; undefined once it runs or has ended (or is unknown). */
  async standing(jobId: string): Promise<Standing | undefined> {
    const heldJson = await this.redis.get(this.keys.held(jobId));
    const check = heldJson ? undefined : await this.checks.get(jobId);
    // Waiting at its check, a job is in no line; once going, its edit stage is.
    if (check?.status === 'waiting') return undefined;
    const bullId = check?.stageJob ?? jobId;
    if (heldJson) {
      // Behind everything waiting and every job held back before it.
      const held = await this.redis.lrange(this.keys.userBacklog(editJobSchema.parse(JSON.parse(heldJson)).requester.user), 0, -1);
      const waiting = (await this.queue.getJobCounts('wait', 'prioritized')) as Record<string, number>;
      const count = (waiting.wait ?? 0) + (waiting.prioritized ?? 0) + Math.max(0, held.indexOf(jobId));
      return this.standingOf(editJobSchema.parse(JSON.parse(heldJson)), { all: count });
    }
    const rank = await this.redis.zrank(this.queue.keys.prioritized, bullId);
    if (rank === null) return undefined;
    const queued = await this.queue.getJob(bullId);
    return queued ? this.standingOf(queued.data as EditJob, { rank }) : undefined;
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
      await this.events.publish(next.id, { type: 'queued', ...(await this.standingOf(next, { priority: next.priority + 1 })) });
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
      checking: await this.checks.waitingCount(),
    };
  }

  async getJob(jobId: string): Promise<Job | undefined> {
    return this.queue.getJob(jobId);
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.checkLane.close()]);
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

  /**
   * Where a job stands behind the waiting jobs before it and the running ones, with when it
   * should start. `before` says which waiting jobs go first: those of a BullMQ priority or better
   * (a job about to be added), the first `rank` (a job already in the priority set), or all.
   */
  private async standingOf(job: EditJob, before: WaitingBefore): Promise<Standing> {
    const [waiting, active, workers, samples, recent] = await Promise.all([
      this.queue.getJobs(['prioritized', 'wait'], 0, -1, true),
      this.queue.getJobs(['active']),
      this.queue.getWorkersCount(),
      this.redis.lrange(this.keys.runSamples, 0, RUN_SAMPLES - 1),
      this.redis.lrange(this.keys.durations, 0, 19),
    ]);
    const others = waiting.filter((j): j is Job => Boolean(j) && editJobIdOf(j) !== job.id);
    const ahead = 'all' in before ? others : 'rank' in before ? others.slice(0, before.rank) : others.filter((j) => (j.opts.priority ?? 0) <= before.priority);
    const running = active.filter((j): j is Job => Boolean(j) && editJobIdOf(j) !== job.id);
    const slots = Math.max(1, workers);
    // A held-back job also waits for the jobs held before it, which are not in BullMQ yet.
    const position = 'all' in before ? Math.max(before.all, ahead.length) : ahead.length;
    // Running jobs hold the line only while every slot is taken.
    const place = position + (running.length >= slots ? running.length : 0) + 1;
    const run = typicalRun(samples.flatMap((raw) => parseSample(raw)));
    if (!run) {
      const mean = recent.length > 0 ? recent.reduce((sum, v) => sum + Number(v), 0) / recent.length : this.config.defaultDurationMs;
      const startsInMs = startsIn(position + running.length, slots, mean);
      return { position, place, startsInMs, etaMs: Math.round(startsInMs + mean) };
    }
    const done = await Promise.all(running.map((j) => this.iterationsDone(editJobIdOf(j))));
    const jobsAhead: JobAhead[] = [
      ...running.map((j, i) => ({ steps: (j.data as EditJob).options?.steps, done: done[i], running: true })),
      ...ahead.map((j) => ({ steps: (j.data as EditJob).options?.steps, running: false })),
    ];
    return { position, place, ...estimateBySteps(jobsAhead, { steps: job.options.steps }, slots, run) };
  }

  /** The iterations a running job has reported, from its latest progress event (0 before the first). */
  private async iterationsDone(jobId: string): Promise<number> {
    const events = await this.events.history(jobId);
    const progress = events.findLast((e) => e.type === 'progress');
    return progress?.type === 'progress' ? progress.iteration : 0;
  }
}

/** The edit job a BullMQ job runs a stage of: its own id, or the first stage's for a later stage. */
export function editJobIdOf(job: Job): string {
  const id = (job.data as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : String(job.id);
}

function notWaiting(status: string): GasError {
  const why: Record<string, string> = {
    going: 'This edit has already been started.',
    cancelled: 'This edit was cancelled.',
    expired: 'This check has expired; press Retry to start over.',
    late: 'This check has expired; press Retry to start over.',
  };
  return new GasError('bad_input', why[status] ?? 'This edit is not waiting for its masks to be checked any more.');
}

/** Which waiting jobs start before a job (see `standingOf`). */
/** `all`: behind every waiting job, `all` of them counted (held-back ones included). */
type WaitingBefore = { priority: number } | { rank: number } | { all: number };

/** Run samples kept for estimates. */
const RUN_SAMPLES = 20;

function parseSample(raw: string): RunSample[] {
  try {
    const sample = JSON.parse(raw) as RunSample;
    return typeof sample.itPerSec === 'number' && typeof sample.overheadMs === 'number' && typeof sample.defaultSteps === 'number' ? [sample] : [];
  } catch {
    return [];
  }
}

export { startsIn } from './eta.js';
