/**
 * The GPU worker: takes edit jobs from the queue and runs each (run.ts) on models it loaded once.
 * A cancelled job stops within one iteration; on shutdown the running job stops at the end of its
 * iteration and goes back to the queue for another worker; a job whose worker died is picked up
 * by another (BullMQ's stalled-job check) and run again once, then fails. Every job ends with
 * exactly one terminal event (ending.ts). A run that lost its lock (a Redis outage longer than the
 * lock) stops and publishes nothing more, since another run of the job now owns it.
 */
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { editJobSchema, type JobEventBody } from '../src/jobs/contracts.js';
import { editJobIdOf, type EditQueueConfig } from '../src/jobs/edit-queue.js';
import { RunSupersededError } from '../src/jobs/job-events.js';
import { classifyRedisError } from '../src/jobs/redis-errors.js';
import { jobStores, type JobStores } from '../src/jobs/stores.js';
import { CheckLane } from './check-lane.js';
import { DEFAULT_WORKER_CONFIG, type GpuWorkerConfig } from './config.js';
import { ABORT, JobRun, type RunDeps } from './run.js';

export { DEFAULT_WORKER_CONFIG, type GpuWorkerConfig } from './config.js';

/**
 * `redis` carries commands (events, blobs, the queue); a second connection for BullMQ's blocking
 * reads and a third for cancel messages are made from it.
 */
export interface GpuWorkerDeps extends Omit<RunDeps, keyof JobStores> {
  /** The queue's settings, when `stores` are not given. */
  queue?: Partial<EditQueueConfig>;
  /** The queue and its storage (default: made from `redis` with `queue`). */
  stores?: JobStores;
  /** Told about errors of Redis connections (lost, refused, bad password); default: logged as warnings. */
  onRedisError?: (error: Error) => void;
}

/** Runs of a job after its worker died before it fails: each interruption but the last is run again. */
const RUNS_AFTER_A_CRASH = 1;

/** Check-lane tasks a worker runs at once: fixes are a detector pass or none, expiries a few Redis calls. */
const CHECK_LANE_CONCURRENCY = 2;

export class GpuWorker {
  readonly worker: Worker;
  /** The check step's fixes and expiries, beside the edits. */
  readonly checkLane: CheckLane;
  private readonly stores: JobStores;
  /** The BullMQ job running each edit job here (a stage's BullMQ id differs from its job's id). */
  private readonly running = new Map<string, string>();
  /** Stores it made itself are its to close; stores it was given are its process's. */
  private readonly ownsStores: boolean;
  private readonly subscriber: Redis;
  /** BullMQ's own connection: BullMQ leaves connections it was given open, so we close it. */
  private readonly bullConnection: Redis;
  private readonly config: GpuWorkerConfig;

  private constructor(private readonly deps: GpuWorkerDeps, config: Partial<GpuWorkerConfig>) {
    this.config = { ...DEFAULT_WORKER_CONFIG, ...config };
    const { redis, keys } = deps;
    const onRedisError = deps.onRedisError ?? ((error: Error) => deps.logger.warn({ error: error.message }, 'redis connection error (reconnecting)'));
    this.ownsStores = deps.stores === undefined;
    this.stores = deps.stores ?? jobStores(redis, keys, deps.queue);
    this.bullConnection = redis.duplicate();
    this.worker = new Worker(this.stores.queue.config.queueName, (job, token, signal) => this.process(job, token, signal), {
      connection: this.bullConnection,
      prefix: keys.bull,
      concurrency: this.config.concurrency,
      lockDuration: this.config.lockDurationMs,
      stalledInterval: this.config.stalledIntervalMs,
      // Run a job again once after its worker died; the second time it fails (see 'failed' below).
      maxStalledCount: RUNS_AFTER_A_CRASH,
      autorun: false,
    });
    // A job's slot is freed once BullMQ has recorded it as finished (see EditQueue.release); a job
    // paused at its check keeps it (Go, a cancel or the expiry frees it).
    this.worker.on('completed', (job, result: { outcome?: string } | undefined) => {
      if (result?.outcome !== 'paused') void this.releaseSafely(job);
    });
    this.worker.on('failed', (job, error) => {
      if (!job) return;
      void (async () => {
        // Failures our processor reported already have their event; finishing again is a no-op.
        // BullMQ fails a job itself when its worker died twice ('job stalled more than allowable limit').
        const stalled = /stalled more than allowable limit/.test(error.message);
        await this.finishSafely(job, { type: 'failed', code: 'internal', details: stalled ? { attempts: RUNS_AFTER_A_CRASH + 1 } : {} });
        await this.releaseSafely(job);
      })();
    });
    // The lock of a running job could not be renewed (Redis was away longer than the lock): another
    // worker may run the job now, so this run stops.
    this.worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) this.worker.cancelJob(jobId, ABORT.lockLost);
    });
    this.worker.on('error', (error) => (isConnectionError(error) ? onRedisError(error) : deps.logger.error({ err: error }, 'worker error')));
    this.subscriber = redis.duplicate();
    this.subscriber.on('error', onRedisError);
    this.checkLane = new CheckLane(
      { ...this.stores, redis, keys, detector: deps.detector, planner: deps.planner, logger: deps.logger },
      { concurrency: CHECK_LANE_CONCURRENCY, lockDurationMs: this.config.lockDurationMs, stalledIntervalMs: this.config.stalledIntervalMs },
    );
  }

  /** Connects, subscribes to cancellations and starts taking jobs. */
  static async start(deps: GpuWorkerDeps, config: Partial<GpuWorkerConfig> = {}): Promise<GpuWorker> {
    const worker = new GpuWorker(deps, config);
    try {
      await worker.subscriber.subscribe(deps.keys.cancelChannel);
      // Messages name the edit job; its running stage here is the BullMQ job to stop.
      worker.subscriber.on('message', (_channel, jobId: string) => worker.worker.cancelJob(worker.running.get(jobId) ?? jobId, ABORT.cancelled));
      void worker.worker.run();
      worker.checkLane.start();
      await Promise.all([worker.worker.waitUntilReady(), worker.checkLane.waitUntilReady()]);
    } catch (error) {
      // Redis refused us outright (a wrong password): nothing ran yet, so just let go of the connections.
      worker.disconnect();
      throw error;
    }
    deps.logger.info({ concurrency: worker.config.concurrency, queue: worker.stores.queue.config.queueName }, 'worker started');
    return worker;
  }

  /**
   * Stops taking jobs. With `handoff` (SIGTERM), a running job stops after its current iteration
   * and goes back to the queue; otherwise running jobs finish first.
   */
  async close(mode: 'handoff' | 'drain' = 'handoff'): Promise<void> {
    if (mode === 'handoff') this.worker.cancelAllJobs(ABORT.shutdown);
    await Promise.all([this.worker.close(), this.checkLane.close()]);
    this.subscriber.disconnect();
    this.bullConnection.disconnect();
    if (this.ownsStores) await this.stores.queue.close();
    this.deps.logger.info({ mode }, 'worker stopped');
  }

  /** Drops this worker's own connections at once, when `close` cannot finish (Redis is down). */
  disconnect(): void {
    this.subscriber.disconnect();
    this.bullConnection.disconnect();
    this.checkLane.disconnect();
  }

  /** Every way out of a job ends in a terminal event; BullMQ's own errors pass through untouched. */
  private async process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<{ outcome: string }> {
    const parsed = editJobSchema.safeParse(job.data);
    if (!parsed.success) return this.rejectMalformed(job, parsed.error.issues);
    this.running.set(parsed.data.id, String(job.id));
    try {
      const run = new JobRun({ ...this.deps, ...this.stores }, this.config, job, parsed.data, token, (reason) => this.worker.cancelJob(String(job.id), reason));
      return await run.run(signal);
    } catch (error) {
      if (error instanceof WaitingError || error instanceof UnrecoverableError) throw error;
      if (error instanceof RunSupersededError) {
        // Superseded before it began (its `restarted` or early `cancelled` was refused): another run owns the job.
        this.deps.logger.warn({ jobId: job.id }, 'job is run by another worker; this run stopped before it began');
        throw new WaitingError();
      }
      this.deps.logger.error({ err: error, jobId: job.id }, 'job failed outside the pipeline');
      await this.finishSafely(job, { type: 'failed', code: 'internal', details: {} });
      throw new UnrecoverableError('internal error');
    } finally {
      if (this.running.get(parsed.data.id) === String(job.id)) this.running.delete(parsed.data.id);
    }
  }

  /** A job its producer got wrong: it fails at once with bad_input; running it again would not help. */
  private async rejectMalformed(job: Job, issues: readonly { path: readonly PropertyKey[]; message: string }[]): Promise<never> {
    const jobId = editJobIdOf(job);
    // Paths and messages only: the payload itself may hold anything.
    this.deps.logger.error({ jobId, issues: issues.slice(0, 10).map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) }, 'job payload is malformed');
    if (await this.finish(jobId, { type: 'failed', code: 'bad_input', details: { malformed: true } })) {
      this.deps.metrics?.jobFinished('failed', { durationMs: 0, iterations: 0, code: 'bad_input' });
    }
    throw new UnrecoverableError('malformed job payload');
  }

  /** A job's terminal event outside any run (a malformed payload, a job BullMQ gave up on); false when it had one already. */
  private async finish(jobId: string, body: JobEventBody & { type: 'failed' }): Promise<boolean> {
    const published = await this.stores.queue.finish(jobId, body);
    await this.deps.redis.del(this.deps.keys.cancel(jobId));
    return published;
  }

  private async releaseSafely(job: Job): Promise<void> {
    const user = requesterUser(job.data);
    if (user === undefined) return; // a malformed job never took a slot
    try {
      await this.stores.queue.release(editJobIdOf(job), user);
    } catch (error) {
      this.deps.logger.error({ err: error, jobId: job.id }, "could not free a finished job's slot");
    }
  }

  private async finishSafely(job: Job, body: JobEventBody & { type: 'failed' }): Promise<void> {
    try {
      if (await this.finish(editJobIdOf(job), body)) {
        this.deps.metrics?.jobFinished('failed', { durationMs: 0, iterations: 0, code: body.code });
      }
    } catch (error) {
      this.deps.logger.error({ err: error, jobId: job.id }, 'could not publish the failure of a stalled job');
    }
  }
}

/** The requester's user id of a job's payload, if it has one (a malformed payload may not). */
function requesterUser(data: unknown): string | undefined {
  const user = (data as { requester?: { user?: unknown } } | null)?.requester?.user;
  return typeof user === 'string' ? user : undefined;
}

/** Errors about reaching Redis, which the process reports at a bounded rate rather than one line each. */
const isConnectionError = (error: Error) => classifyRedisError(error) !== undefined;
