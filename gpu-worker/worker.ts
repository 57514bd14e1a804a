/**
 * The GPU worker: takes edit jobs from the queue, runs the pipeline on models it loaded once,
 * and publishes the job's events. A cancelled job stops within one iteration; on shutdown the
 * running job stops at the end of its iteration and goes back to the queue for another worker;
 * a job whose worker died is picked up by another (BullMQ's stalled-job check) and run again
 * once, then fails. Every job ends with exactly one terminal event: how a run ended is decided
 * once (a JobEnding) and acted on in one place. A run that lost its lock (a Redis outage longer
 * than the lock) stops and publishes nothing more, since another run of the job now owns it.
 */
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { isGasError, safeFacts, type ErrorCode, type FailureFacts } from '../src/errors.js';
import type { DiffusionBundle } from '../src/models/bundle.js';
import type { Detector } from '../src/ground/detector.js';
import type { Planner } from '../src/plan/planner.js';
import { decodeImage, encodePng } from '../src/image/decode.js';
import { DEFAULT_EDIT_OPTIONS } from '../src/pipeline/edit.js';
import { runPipeline, type PipelineEvent } from '../src/pipeline/run.js';
import { editJobSchema, type BlobRef, type EditJob, type JobEventBody } from '../src/jobs/contracts.js';
import { RunSupersededError, type RunFence } from '../src/jobs/job-events.js';
import type { Plan } from '../src/plan/schema.js';
import { BlobStore } from '../src/jobs/blob-store.js';
import { EditQueue, type EditQueueConfig } from '../src/jobs/edit-queue.js';
import { ThreadHistory } from '../src/jobs/thread-history.js';
import type { Keys } from '../src/jobs/keys.js';
import type { ServiceMetrics } from '../src/jobs/metrics.js';
import { classifyRedisError } from '../src/jobs/redis-errors.js';
import type { Logger } from '../src/log.js';

export interface GpuWorkerConfig {
  /** Jobs this process runs at once: 1 per GPU. */
  concurrency: number;
  /** A job's lock lasts this long and is renewed at half of it; a dead worker's job is taken over after it. */
  lockDurationMs: number;
  /** How often this worker looks for jobs whose worker died. */
  stalledIntervalMs: number;
  /** A preview image at most this often (and at 25, 50 and 75%). */
  previewIntervalMs: number;
  /** A progress event at most this often (and with every preview, and at the end). */
  progressIntervalMs: number;
  /** Iterations when a job does not say. */
  defaultSteps: number;
  /** A job running longer than this is stopped and fails with `timeout`. */
  jobTimeoutMs: number;
}

export const DEFAULT_WORKER_CONFIG: GpuWorkerConfig = {
  concurrency: 1,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  previewIntervalMs: 2_000,
  progressIntervalMs: 500,
  defaultSteps: DEFAULT_EDIT_OPTIONS.steps,
  jobTimeoutMs: 15 * 60_000,
};

export interface GpuWorkerDeps {
  /** Commands (events, blobs, the queue). */
  redis: Redis;
  /** A second connection for BullMQ's blocking reads and a third for cancel messages are made from `redis`. */
  keys: Keys;
  bundle: DiffusionBundle;
  detector?: Detector;
  planner: Planner;
  logger: Logger;
  metrics?: ServiceMetrics;
  queue?: Partial<EditQueueConfig>;
  /** Told about errors of Redis connections (lost, refused, bad password); default: logged as warnings. */
  onRedisError?: (error: Error) => void;
}

/** Previews matter while a job runs: they need not outlive it by long. */
const PREVIEW_TTL_SECONDS = 3600;

/** Runs of a job after its worker died before it fails: each interruption but the last is run again. */
const RUNS_AFTER_A_CRASH = 1;

/** Why a running job's signal was aborted. */
const SHUTDOWN = 'shutdown';
const CANCELLED = 'cancelled';
const TIMED_OUT = 'timeout';
const LOCK_LOST = 'lock-lost';

/** How one run of a job ended: decided once by `classify` (or by the pipeline's success), acted on by `end`. */
type JobEnding =
  | { kind: 'done'; result: BlobRef; overlay: BlobRef; plan: Plan; seed: number; timings: Record<string, number> }
  /** `facts` go to the person (the failure's details); `error` and its details to the log only. */
  | { kind: 'failed'; code: ErrorCode; facts: FailureFacts; error: unknown }
  | { kind: 'cancelled'; by?: string }
  | { kind: 'timed-out' }
  /** Shutdown: back to the queue for another worker. */
  | { kind: 'handed-back' }
  /** This run lost its lock and another run owns the job: stop, publish and count nothing. */
  | { kind: 'superseded' };

/** What `end` needs to know about the run besides its ending. */
interface RunRecord {
  job: Job;
  data: EditJob;
  token: string | undefined;
  fence: RunFence;
  started: number;
  iterations: number;
  log: Logger;
}

export class GpuWorker {
  readonly worker: Worker;
  private readonly queue: EditQueue;
  private readonly blobs: BlobStore;
  private readonly threads: ThreadHistory;
  private readonly subscriber: Redis;
  /** BullMQ's own connection: BullMQ leaves connections it was given open, so we close it. */
  private readonly bullConnection: Redis;
  private readonly config: GpuWorkerConfig;

  private constructor(private readonly deps: GpuWorkerDeps, config: Partial<GpuWorkerConfig>) {
    this.config = { ...DEFAULT_WORKER_CONFIG, ...config };
    const { redis, keys } = deps;
    const onRedisError = deps.onRedisError ?? ((error: Error) => deps.logger.warn({ error: error.message }, 'redis connection error (reconnecting)'));
    this.queue = new EditQueue(redis, keys, deps.queue);
    this.blobs = new BlobStore(redis, keys, { ttlSeconds: this.queue.config.ttlSeconds });
    this.threads = new ThreadHistory(redis, keys, { ttlSeconds: this.queue.config.ttlSeconds });
    this.bullConnection = redis.duplicate();
    this.worker = new Worker(this.queue.config.queueName, (job, token, signal) => this.process(job, token, signal), {
      connection: this.bullConnection,
      prefix: keys.bull,
      concurrency: this.config.concurrency,
      lockDuration: this.config.lockDurationMs,
      stalledInterval: this.config.stalledIntervalMs,
      // Run a job again once after its worker died; the second time it fails (see 'failed' below).
      maxStalledCount: RUNS_AFTER_A_CRASH,
      autorun: false,
    });
    // A job's slot is freed once BullMQ has recorded it as finished (see EditQueue.release).
    this.worker.on('completed', (job) => void this.releaseSafely(job));
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
      for (const jobId of jobIds) this.worker.cancelJob(jobId, LOCK_LOST);
    });
    this.worker.on('error', (error) => (isConnectionError(error) ? onRedisError(error) : deps.logger.error({ err: error }, 'worker error')));
    this.subscriber = redis.duplicate();
    this.subscriber.on('error', onRedisError);
  }

  /** Connects, subscribes to cancellations and starts taking jobs. */
  static async start(deps: GpuWorkerDeps, config: Partial<GpuWorkerConfig> = {}): Promise<GpuWorker> {
    const worker = new GpuWorker(deps, config);
    try {
      await worker.subscriber.subscribe(deps.keys.cancelChannel);
      worker.subscriber.on('message', (_channel, jobId: string) => worker.worker.cancelJob(jobId, CANCELLED));
      void worker.worker.run();
      await worker.worker.waitUntilReady();
    } catch (error) {
      // Redis refused us outright (a wrong password): nothing ran yet, so just let go of the connections.
      worker.disconnect();
      throw error;
    }
    deps.logger.info({ concurrency: worker.config.concurrency, queue: worker.queue.config.queueName }, 'worker started');
    return worker;
  }

  /**
   * Stops taking jobs. With `handoff` (SIGTERM), a running job stops after its current iteration
   * and goes back to the queue; otherwise running jobs finish first.
   */
  async close(mode: 'handoff' | 'drain' = 'handoff'): Promise<void> {
    if (mode === 'handoff') this.worker.cancelAllJobs(SHUTDOWN);
    await this.worker.close();
    this.subscriber.disconnect();
    this.bullConnection.disconnect();
    await this.queue.close();
    this.deps.logger.info({ mode }, 'worker stopped');
  }

  /** Drops this worker's own connections at once, when `close` cannot finish (Redis is down). */
  disconnect(): void {
    this.subscriber.disconnect();
    this.bullConnection.disconnect();
  }

  /** Every way out of a job ends in a terminal event; BullMQ's own errors pass through untouched. */
  private async process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<{ outcome: string }> {
    const parsed = editJobSchema.safeParse(job.data);
    if (!parsed.success) return this.rejectMalformed(job, parsed.error.issues);
    try {
      return await this.run(job, parsed.data, token, signal);
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
    }
  }

  /** A job its producer got wrong: it fails at once with bad_input; running it again would not help. */
  private async rejectMalformed(job: Job, issues: readonly { path: readonly PropertyKey[]; message: string }[]): Promise<never> {
    const jobId = String(job.id);
    // Paths and messages only: the payload itself may hold anything.
    this.deps.logger.error({ jobId, issues: issues.slice(0, 10).map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) }, 'job payload is malformed');
    if (await this.finish(jobId, { type: 'failed', code: 'bad_input', details: { malformed: true } })) {
      this.deps.metrics?.jobFinished('failed', { durationMs: 0, iterations: 0, code: 'bad_input' });
    }
    throw new UnrecoverableError('malformed job payload');
  }

  private async run(job: Job, data: EditJob, token: string | undefined, signal: AbortSignal | undefined): Promise<{ outcome: string }> {
    const { logger, redis, keys, metrics } = this.deps;
    const log = logger.child({ jobId: job.id });
    // A crash after the terminal event but before BullMQ recorded it: nothing left to do.
    if (await this.queue.events.ended(data.id)) return { outcome: 'already-ended' };
    // From here on only this run may publish the job's events: a run that lost its lock is fenced out.
    const fence: RunFence = { key: keys.runner(data.id), token: token ?? randomUUID() };
    await redis.set(fence.key, fence.token, 'EX', this.queue.config.ttlSeconds);
    const cancelledBy = await redis.get(keys.cancel(data.id));
    if (cancelledBy) {
      await this.finish(data.id, { type: CANCELLED, by: cancelledBy }, fence);
      return { outcome: CANCELLED };
    }
    if (job.attemptsStarted > 1) {
      const handedBack = await redis.getdel(keys.handoff(data.id));
      await this.queue.events.publish(data.id, {
        type: 'restarted',
        attempt: job.attemptsStarted,
        reason: handedBack ? 'handed back by a worker that was shutting down' : 'restarted after a worker stopped unexpectedly',
      }, fence);
    }

    const record: RunRecord = { job, data, token, fence, started: Date.now(), iterations: 0, log };
    // Events go out in order, one after the other; a failed publish is logged, never unhandled.
    let published: Promise<void> = Promise.resolve();
    const thread = data.requester.thread ? { platform: data.requester.platform, channel: data.requester.channel, thread: data.requester.thread } : undefined;
    metrics?.jobStarted();
    log.info({ user: data.requester.user, platform: data.requester.platform, attempt: job.attemptsStarted }, 'job started');
    const timer = setTimeout(() => this.worker.cancelJob(data.id, TIMED_OUT), this.config.jobTimeoutMs);
    let ending: JobEnding;
    try {
      // A reply in a thread edits the thread's latest result as of now, not as of when it was sent.
      const source = (data.fromThread && thread ? await this.threads.sourceFor(thread) : undefined) ?? data.source;
      const image = await decodeImage(await this.blobs.get(source));
      const throttle = this.progressThrottle();
      const result = await runPipeline(
        { image, request: data.request, plan: data.plan },
        { bundle: this.deps.bundle, planner: this.deps.planner, detector: this.deps.detector },
        {
          ...DEFAULT_EDIT_OPTIONS,
          steps: data.options.steps ?? this.config.defaultSteps,
          seed: data.options.seed,
          schedule: data.options.schedule ?? DEFAULT_EDIT_OPTIONS.schedule,
          guidanceScale: data.options.guidance ?? DEFAULT_EDIT_OPTIONS.guidanceScale,
          composite: data.options.composite ?? true,
          intensity: data.options.intensity,
          ablation: data.options.ablation,
          signal,
          previewAt: (iteration, total) => throttle.previewDue(iteration, total),
        },
        (event) => {
          if (event.type === 'progress') record.iterations = event.iteration;
          published = published
            .then(() => this.publishPipelineEvent(data, event, throttle, fence))
            .catch((error: unknown) => {
              if (error instanceof RunSupersededError) this.worker.cancelJob(data.id, LOCK_LOST);
              else log.warn({ err: error, event: event.type }, 'could not publish an event');
            });
        },
      );
      await published;
      const [resultRef, overlayRef] = await Promise.all([this.blobs.put(result.image), this.blobs.put(result.overlay)]);
      // After a crash between this push and the terminal event, the rerun must not push twice; and a
      // run that lost its lock must not put its result in the thread the current run's reply shows.
      if (thread && (await this.threads.latest(thread))?.jobId !== data.id) {
        if ((await redis.get(fence.key)) !== fence.token) throw new RunSupersededError(`job ${data.id} is run by another worker`);
        await this.threads.push(thread, { jobId: data.id, result: resultRef });
      }
      ending = { kind: 'done', result: resultRef, overlay: overlayRef, plan: result.plan, seed: result.seed, timings: result.timings };
    } catch (error) {
      // The events already under way (the overlay of a phrase not found, say) go out before the ending.
      await published;
      ending = await this.classify(error, signal, data.id);
    } finally {
      clearTimeout(timer);
    }
    return this.end(ending, record);
  }

  /** How a run that threw ended: the abort reason first (why we stopped it), then the error itself. */
  private async classify(error: unknown, signal: AbortSignal | undefined, jobId: string): Promise<JobEnding> {
    const reason: unknown = signal?.aborted ? signal.reason : undefined;
    if (error instanceof RunSupersededError || reason === LOCK_LOST) return { kind: 'superseded' };
    if (reason === TIMED_OUT) return { kind: 'timed-out' };
    if (reason === SHUTDOWN) return { kind: 'handed-back' };
    if (isGasError(error, 'cancelled') || signal?.aborted) {
      return { kind: 'cancelled', by: (await this.deps.redis.get(this.deps.keys.cancel(jobId))) ?? undefined };
    }
    if (isGasError(error)) return { kind: 'failed', code: error.code, facts: safeFacts(error), error };
    return { kind: 'failed', code: 'internal', facts: {}, error };
  }

  /**
   * The one place a run ends: its terminal event (or hand-back), metrics, log line and what
   * BullMQ is told. A terminal event refused because another run owns the job ends it as superseded.
   */
  private async end(ending: JobEnding, run: RunRecord): Promise<{ outcome: string }> {
    const { metrics, redis, keys } = this.deps;
    const { data, log, fence } = run;
    const durationMs = Date.now() - run.started;
    const stats = { durationMs, iterations: run.iterations };
    const publish = async (body: JobEventBody & { type: 'done' | 'failed' | 'cancelled' }, recordDuration = false) => {
      try {
        return await this.finish(data.id, body, fence, recordDuration ? durationMs : undefined);
      } catch (error) {
        if (error instanceof RunSupersededError) return 'superseded' as const;
        throw error;
      }
    };
    switch (ending.kind) {
      case 'done': {
        const { kind: _, ...body } = ending;
        const outcome = await publish({ type: 'done', ...body }, true);
        if (outcome === 'superseded') return this.end({ kind: 'superseded' }, run);
        if (outcome) metrics?.jobFinished('done', stats);
        log.info({ durationMs, seed: ending.seed }, 'job done');
        return { outcome: 'done' };
      }
      case 'failed': {
        log.error({ err: ending.error, code: ending.code, details: isGasError(ending.error) ? ending.error.details : undefined }, 'job failed');
        const outcome = await publish({ type: 'failed', code: ending.code, details: ending.facts });
        if (outcome === 'superseded') return this.end({ kind: 'superseded' }, run);
        if (outcome) metrics?.jobFinished('failed', { ...stats, code: ending.code });
        // Bad input and model errors do not get better by retrying.
        throw new UnrecoverableError(`failed: ${ending.code}`);
      }
      case 'timed-out': {
        const outcome = await publish({ type: 'failed', code: 'timeout', details: { limitMs: this.config.jobTimeoutMs } });
        if (outcome === 'superseded') return this.end({ kind: 'superseded' }, run);
        if (outcome) metrics?.jobFinished('failed', { ...stats, code: 'timeout' });
        log.warn(stats, 'job timed out');
        throw new UnrecoverableError('timeout');
      }
      case 'cancelled': {
        const outcome = await publish({ type: CANCELLED, by: ending.by });
        if (outcome === 'superseded') return this.end({ kind: 'superseded' }, run);
        if (outcome) metrics?.jobFinished('cancelled', stats);
        log.info({ iterations: run.iterations }, 'job cancelled');
        return { outcome: CANCELLED };
      }
      case 'handed-back':
        await redis.set(keys.handoff(data.id), '1', 'EX', 3600);
        await run.job.moveToWait(run.token);
        metrics?.jobFinished('cancelled', stats);
        log.info({ iterations: run.iterations }, 'job handed back on shutdown');
        throw new WaitingError();
      case 'superseded':
        // BullMQ is told nothing (WaitingError): the job is another run's now, or will be once the stalled check sees it.
        metrics?.jobAbandoned();
        log.warn({ iterations: run.iterations }, 'job lost its lock (Redis was unreachable for longer than the lock); this run stopped and another runs the job');
        throw new WaitingError();
    }
  }

  /** Publishes a pipeline event as its job event: its images stored as blobs, progress throttled. */
  private async publishPipelineEvent(job: EditJob, event: PipelineEvent, throttle: ProgressThrottle, fence: RunFence): Promise<void> {
    if (event.type === 'done') return; // published with the result blob by `end`
    if (event.type === 'progress' && !event.preview && !throttle.progressDue(event.iteration, event.total)) return;
    await this.queue.events.publish(job.id, await this.withBlobs(event), fence);
  }

  /** The event with its images put in the blob store and named by ref. */
  private async withBlobs(event: Exclude<PipelineEvent, { type: 'done' }>): Promise<JobEventBody> {
    switch (event.type) {
      case 'planned':
        return event;
      case 'grounded':
        return { ...event, overlay: await this.blobs.put(event.overlay) };
      case 'progress': {
        const { preview, ...rest } = event;
        return preview ? { ...rest, preview: await this.blobs.put(await encodePng(preview), PREVIEW_TTL_SECONDS) } : rest;
      }
    }
  }

  /** Previews at 25/50/75% and at most every `previewIntervalMs`; progress at most every `progressIntervalMs`. */
  private progressThrottle(): ProgressThrottle {
    let lastPreview = Date.now();
    let lastProgress = 0;
    const { previewIntervalMs, progressIntervalMs } = this.config;
    return {
      previewDue: (iteration, total) => {
        const milestone = [0.25, 0.5, 0.75].some((q) => iteration === Math.round(total * q));
        if (!milestone && Date.now() - lastPreview < previewIntervalMs) return false;
        lastPreview = Date.now();
        return true;
      },
      progressDue: (iteration, total) => {
        if (iteration < total && Date.now() - lastProgress < progressIntervalMs) return false;
        lastProgress = Date.now();
        return true;
      },
    };
  }

  /** The job's terminal event; false when it had one already. With `fence`, RunSupersededError when another run owns the job. */
  private async finish(jobId: string, body: JobEventBody & { type: 'done' | 'failed' | 'cancelled' }, fence?: RunFence, durationMs?: number): Promise<boolean> {
    const published = await this.queue.finish(jobId, body, durationMs, fence);
    await this.deps.redis.del(this.deps.keys.cancel(jobId));
    return published;
  }

  private async releaseSafely(job: Job): Promise<void> {
    const user = requesterUser(job.data);
    if (user === undefined) return; // a malformed job never took a slot
    try {
      await this.queue.release(String(job.id), user);
    } catch (error) {
      this.deps.logger.error({ err: error, jobId: job.id }, "could not free a finished job's slot");
    }
  }

  private async finishSafely(job: Job, body: JobEventBody & { type: 'failed' }): Promise<void> {
    try {
      if (await this.finish(String(job.id), body)) {
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

/** Errors about reaching Redis (refused, reset, closed, a wrong password), which the process reports at a bounded rate rather than one line each. */
const isConnectionError = (error: Error) => classifyRedisError(error) !== undefined;

interface ProgressThrottle {
  previewDue(iteration: number, total: number): boolean;
  progressDue(iteration: number, total: number): boolean;
}
