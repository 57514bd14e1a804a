/**
 * The GPU worker: takes edit jobs from the queue, runs the pipeline on models it loaded once,
 * and publishes the job's events. A cancelled job stops within one iteration; on shutdown the
 * running job stops at the end of its iteration and goes back to the queue for another worker;
 * a job whose worker died is picked up by another (BullMQ's stalled-job check) and run again
 * once, then fails. Every job ends with exactly one terminal event.
 */
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { GasError, isGasError } from '../src/errors.js';
import type { DiffusionBundle } from '../src/models/bundle.js';
import type { Detector } from '../src/ground/detector.js';
import type { Planner } from '../src/plan/planner.js';
import { decodeImage, encodePng } from '../src/image/decode.js';
import { DEFAULT_EDIT_OPTIONS } from '../src/pipeline/edit.js';
import { runPipeline, type PipelineEvent } from '../src/pipeline/run.js';
import { editJobSchema, type EditJob, type JobEventBody } from '../src/jobs/contracts.js';
import { BlobStore } from '../src/jobs/blob-store.js';
import { EditQueue, type EditQueueConfig } from '../src/jobs/edit-queue.js';
import { ThreadHistory } from '../src/jobs/thread-history.js';
import type { Keys } from '../src/jobs/keys.js';
import type { ServiceMetrics } from '../src/jobs/metrics.js';
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
}

/** Previews matter while a job runs: they need not outlive it by long. */
const PREVIEW_TTL_SECONDS = 3600;

/** Why a running job's signal was aborted. */
const SHUTDOWN = 'shutdown';
const CANCELLED = 'cancelled';
const TIMED_OUT = 'timeout';

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
      maxStalledCount: 1,
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
        await this.finishSafely(job, {
          type: 'failed',
          code: 'internal',
          userMessage: stalled
            ? `The edit was interrupted twice by a worker failure and was stopped. Please try again (job ${job.id}).`
            : `Something went wrong on our side; it has been logged. Please try again (job ${job.id}).`,
        });
        await this.releaseSafely(job);
      })();
    });
    this.worker.on('error', (error) => deps.logger.error({ err: error }, 'worker error'));
    this.subscriber = redis.duplicate();
  }

  /** Connects, subscribes to cancellations and starts taking jobs. */
  static async start(deps: GpuWorkerDeps, config: Partial<GpuWorkerConfig> = {}): Promise<GpuWorker> {
    const worker = new GpuWorker(deps, config);
    await worker.subscriber.subscribe(deps.keys.cancelChannel);
    worker.subscriber.on('message', (_channel, jobId: string) => worker.worker.cancelJob(jobId, CANCELLED));
    void worker.worker.run();
    await worker.worker.waitUntilReady();
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

  /** Every way out of a job ends in a terminal event; BullMQ's own errors pass through untouched. */
  private async process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<{ outcome: string }> {
    try {
      return await this.run(job, token, signal);
    } catch (error) {
      if (error instanceof WaitingError || error instanceof UnrecoverableError) throw error;
      this.deps.logger.error({ err: error, jobId: job.id }, 'job failed outside the pipeline');
      await this.finishSafely(job, { type: 'failed', code: 'internal', userMessage: `Something went wrong on our side; it has been logged. Please try again (job ${job.id}).` });
      throw new UnrecoverableError('internal error');
    }
  }

  private async run(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<{ outcome: string }> {
    const { logger, redis, keys, metrics } = this.deps;
    const data = editJobSchema.parse(job.data);
    const log = logger.child({ jobId: job.id });
    // A crash after the terminal event but before BullMQ recorded it: nothing left to do.
    if (await this.queue.events.ended(data.id)) return { outcome: 'already-ended' };
    const cancelledBy = await redis.get(keys.cancel(data.id));
    if (cancelledBy) {
      await this.finish(data, { type: CANCELLED, by: cancelledBy });
      return { outcome: CANCELLED };
    }
    if (job.attemptsStarted > 1) {
      const handedBack = await redis.getdel(keys.handoff(data.id));
      await this.queue.events.publish(data.id, {
        type: 'restarted',
        attempt: job.attemptsStarted,
        reason: handedBack ? 'handed back by a worker that was shutting down' : 'restarted after a worker stopped unexpectedly',
      });
    }

    const started = Date.now();
    let iterations = 0;
    // Events go out in order, one after the other; a failed publish is logged, never unhandled.
    let published: Promise<void> = Promise.resolve();
    const thread = data.requester.thread ? { platform: data.requester.platform, channel: data.requester.channel, thread: data.requester.thread } : undefined;
    metrics?.jobStarted();
    log.info({ user: data.requester.user, platform: data.requester.platform, attempt: job.attemptsStarted }, 'job started');
    const timer = setTimeout(() => this.worker.cancelJob(data.id, TIMED_OUT), this.config.jobTimeoutMs);
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
          audience: 'chat',
          previewAt: (iteration, total) => throttle.previewDue(iteration, total),
        },
        (event) => {
          if (event.type === 'progress') iterations = event.iteration;
          published = published
            .then(() => this.publishPipelineEvent(data, event, throttle))
            .catch((error: unknown) => log.warn({ err: error, event: event.type }, 'could not publish an event'));
        },
      );
      await published;
      const [resultRef, overlayRef] = await Promise.all([this.blobs.put(result.image), this.blobs.put(result.overlay)]);
      // After a crash between this push and the terminal event, the rerun must not push twice.
      if (thread && (await this.threads.latest(thread))?.jobId !== data.id) await this.threads.push(thread, { jobId: data.id, result: resultRef });
      const durationMs = Date.now() - started;
      await this.finish(data, { type: 'done', result: resultRef, overlay: overlayRef, plan: result.plan, seed: result.seed, timings: result.timings }, durationMs);
      metrics?.jobFinished('done', { durationMs, iterations });
      log.info({ durationMs, seed: result.seed }, 'job done');
      return { outcome: 'done' };
    } catch (error) {
      // The events already under way (the overlay of a phrase not found, say) go out before the ending.
      await published;
      const durationMs = Date.now() - started;
      if (signal?.aborted && signal.reason === TIMED_OUT) {
        const limit = this.config.jobTimeoutMs < 60_000 ? `${this.config.jobTimeoutMs / 1000} s` : `${Math.round(this.config.jobTimeoutMs / 6000) / 10} min`;
        await this.finish(data, { type: 'failed', code: 'timeout', userMessage: `The edit took longer than ${limit} and was stopped. Try fewer steps or a smaller image (job ${data.id}).` });
        metrics?.jobFinished('failed', { durationMs, iterations, code: 'timeout' });
        log.warn({ iterations, durationMs }, 'job timed out');
        throw new UnrecoverableError('timeout');
      }
      if (signal?.aborted && signal.reason === SHUTDOWN) {
        await redis.set(keys.handoff(data.id), '1', 'EX', 3600);
        await job.moveToWait(token);
        metrics?.jobFinished('cancelled', { durationMs, iterations });
        log.info({ iterations }, 'job handed back on shutdown');
        throw new WaitingError();
      }
      if (isGasError(error, 'cancelled') || signal?.aborted) {
        await this.finish(data, { type: CANCELLED, by: (await redis.get(keys.cancel(data.id))) ?? undefined });
        metrics?.jobFinished('cancelled', { durationMs, iterations });
        log.info({ iterations }, 'job cancelled');
        return { outcome: CANCELLED };
      }
      const failure = isGasError(error) ? error : new GasError('internal', 'Something went wrong on our side; it has been logged. Please try again.');
      log.error({ err: error, code: failure.code, details: isGasError(error) ? error.details : undefined }, 'job failed');
      await this.finish(data, { type: 'failed', code: failure.code, userMessage: `${failure.message} (job ${data.id})` });
      metrics?.jobFinished('failed', { durationMs, iterations, code: failure.code });
      // Bad input and model errors do not get better by retrying.
      throw new UnrecoverableError(failure.message);
    } finally {
      clearTimeout(timer);
    }
  }

  private async publishPipelineEvent(job: EditJob, event: PipelineEvent, throttle: ProgressThrottle): Promise<void> {
    const events = this.queue.events;
    switch (event.type) {
      case 'planned':
        await events.publish(job.id, { type: 'planned', plan: event.plan });
        return;
      case 'grounded':
        await events.publish(job.id, {
          type: 'grounded',
          regions: event.regions.map((r) => ({ ...r, boxes: [...r.boxes] })),
          missing: [...event.missing],
          overlay: await this.blobs.put(event.overlay),
        });
        return;
      case 'progress': {
        if (!event.preview && !throttle.progressDue(event.iteration, event.total)) return;
        const preview = event.preview ? await this.blobs.put(await encodePng(event.preview), PREVIEW_TTL_SECONDS) : undefined;
        await events.publish(job.id, {
          type: 'progress',
          iteration: event.iteration,
          total: event.total,
          etaMs: Math.round(event.etaMs),
          ...(preview ? { preview } : {}),
        });
        return;
      }
      case 'done':
        return; // published with the result blob by `process`
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

  /** The job's terminal event; false when it had one already. */
  private async finish(job: EditJob, body: JobEventBody & { type: 'done' | 'failed' | 'cancelled' }, durationMs?: number): Promise<boolean> {
    const published = await this.queue.finish(job.id, body, durationMs);
    await this.deps.redis.del(this.deps.keys.cancel(job.id));
    return published;
  }

  private async releaseSafely(job: Job): Promise<void> {
    try {
      await this.queue.release(String(job.id), editJobSchema.parse(job.data).requester.user);
    } catch (error) {
      this.deps.logger.error({ err: error, jobId: job.id }, "could not free a finished job's slot");
    }
  }

  private async finishSafely(job: Job, body: JobEventBody & { type: 'failed' }): Promise<void> {
    try {
      if (await this.finish(editJobSchema.parse(job.data), body)) {
        this.deps.metrics?.jobFinished('failed', { durationMs: 0, iterations: 0, code: body.code });
      }
    } catch (error) {
      this.deps.logger.error({ err: error, jobId: job.id }, 'could not publish the failure of a stalled job');
    }
  }
}

interface ProgressThrottle {
  previewDue(iteration: number, total: number): boolean;
  progressDue(iteration: number, total: number): boolean;
}
