/**
 * One run of one job on a worker: it claims the job's events for itself (a run that lost its lock
 * is fenced out), runs the pipeline, publishes the pipeline's events in order as job events with
 * their images in the blob store, decides once how the run ended (a JobEnding) and ends it through
 * the one table of endings (ending.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Detector } from '../src/ground/detector.js';
import type { Keys } from '../src/jobs/keys.js';
import type { DiffusionBundle } from '../src/models/bundle.js';
import type { ServiceMetrics } from '../src/ops/metrics.js';
import type { Planner } from '../src/plan/planner.js';
import { GasError, isGasError, safeFacts } from '../src/errors.js';
import { decodeImage, encodePng } from '../src/image/decode.js';
import type { EditJob, JobEventBody } from '../src/jobs/contracts.js';
import { RunSupersededError, type RunFence } from '../src/jobs/job-events.js';
import type { JobStores } from '../src/jobs/stores.js';
import type { Logger } from '../src/log.js';
import { DEFAULT_EDIT_OPTIONS } from '../src/pipeline/edit.js';
import { runPipeline, type CheckPause, type PipelineEvent } from '../src/pipeline/run.js';
import type { CheckState } from '../src/jobs/checks.js';
import { checkingEvent } from './checking.js';
import type { GpuWorkerConfig } from './config.js';
import { bullmqAnswer, ruleFor, type JobEnding, type TerminalBody } from './ending.js';
import { progressThrottle, type ProgressThrottle } from './progress-throttle.js';

/** What a run needs: the models, the queue and its storage, and where to report. */
export interface RunDeps extends JobStores {
  redis: Redis;
  keys: Keys;
  bundle: DiffusionBundle;
  detector?: Detector;
  planner: Planner;
  logger: Logger;
  metrics?: ServiceMetrics;
}

/** Previews matter while a job runs: they need not outlive it by long. */
const PREVIEW_TTL_SECONDS = 3600;

/** Why a running job's signal was aborted. */
export const ABORT = { shutdown: 'shutdown', cancelled: 'cancelled', timeout: 'timeout', lockLost: 'lock-lost' } as const;

export class JobRun {
  private readonly log: Logger;
  private readonly fence: RunFence;
  private readonly started = Date.now();
  private iterations = 0;
  /** Events go out in order, one after the other; a failed publish is logged, never unhandled. */
  private published: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: RunDeps,
    private readonly config: GpuWorkerConfig,
    private readonly job: Job,
    private readonly data: EditJob,
    private readonly token: string | undefined,
    /** Stops the run (cancel, timeout, lost lock) through BullMQ's signal. */
    private readonly abort: (reason: string) => void,
  ) {
    this.log = deps.logger.child({ jobId: job.id });
    this.fence = { key: deps.keys.runner(data.id), token: token ?? randomUUID() };
  }

  async run(signal: AbortSignal | undefined): Promise<{ outcome: string }> {
    const { redis, keys, queue, metrics } = this.deps;
    const { data, job, fence } = this;
    // A crash after the terminal event but before BullMQ recorded it: nothing left to do.
    if (await queue.events.ended(data.id)) return { outcome: 'already-ended' };
    // Paused already (a crash after the pause, before BullMQ recorded the run): its check goes on without a worker.
    if (!data.stage && data.check) {
      const check = await queue.checks.get(data.id);
      if (check) {
        if (check.status === 'waiting') await queue.scheduleExpiry(data.id, check.deadline);
        return { outcome: 'paused' };
      }
    }
    // From here on only this run may publish the job's events: a run that lost its lock is fenced out.
    await redis.set(fence.key, fence.token, 'EX', queue.config.ttlSeconds);
    const cancelledBy = await redis.get(keys.cancel(data.id));
    if (cancelledBy) {
      await this.finish({ type: 'cancelled', by: cancelledBy });
      return { outcome: ABORT.cancelled };
    }
    if (job.attemptsStarted > 1) {
      const handedBack = await redis.getdel(keys.handoff(data.id));
      await queue.events.publish(data.id, {
        type: 'restarted',
        attempt: job.attemptsStarted,
        reason: handedBack ? 'handed back by a worker that was shutting down' : 'restarted after a worker stopped unexpectedly',
      }, fence);
    }

    metrics?.jobStarted();
    this.log.info({ user: data.requester.user, platform: data.requester.platform, attempt: job.attemptsStarted }, 'job started');
    const timer = setTimeout(() => this.abort(ABORT.timeout), this.config.jobTimeoutMs);
    let ending: JobEnding;
    try {
      ending = await this.edit(signal);
    } catch (error) {
      // The events already under way (the overlay of a phrase not found, say) go out before the ending.
      await this.published;
      ending = await this.classify(error, signal);
    } finally {
      clearTimeout(timer);
    }
    return this.end(ending);
  }

  /** The pipeline on the job's image, its events published as it goes; the result stored and put in the thread. */
  private async edit(signal: AbortSignal | undefined): Promise<JobEnding> {
    const { blobs, threads, redis, bundle, planner, detector } = this.deps;
    const { data, fence } = this;
    const thread = data.requester.thread ? { platform: data.requester.platform, channel: data.requester.channel, thread: data.requester.thread } : undefined;
    const { stage } = data;
    // A reply in a thread edits the thread's latest result as of now, not as of when it was sent;
    // an edit after its check edits the image whose masks were checked.
    const source = stage?.source ?? (data.fromThread && thread ? await threads.sourceFor(thread) : undefined) ?? data.source;
    const image = await decodeImage(await blobs.get(source));
    const throttle = progressThrottle(this.config);
    const result = await runPipeline(
      stage ? { image, plan: stage.plan } : { image, request: data.request, plan: data.plan },
      { bundle, planner, detector },
      {
        ...DEFAULT_EDIT_OPTIONS,
        steps: data.options.steps ?? this.config.defaultSteps,
        seed: data.options.seed,
        schedule: data.options.schedule ?? DEFAULT_EDIT_OPTIONS.schedule,
        guidanceScale: data.options.guidance ?? DEFAULT_EDIT_OPTIONS.guidanceScale,
        composite: data.options.composite ?? true,
        intensity: stage ? stage.intensity : data.options.intensity,
        ablation: data.options.ablation,
        // The edit stage runs the plan as checked: no second check.
        ...(!stage && data.check ? { check: data.check.when } : {}),
        signal,
        previewAt: (iteration, total) => throttle.previewDue(iteration, total),
      },
      (event) => {
        // The plan and its masks went out before the check; the edit stage shows only its progress and result.
        if (stage && (event.type === 'planned' || event.type === 'grounded')) return;
        this.publishLater(event, throttle);
      },
    );
    await this.published;
    if (result.pause) return this.pause(source, result.pause);
    const [resultRef, overlayRef] = await Promise.all([blobs.put(result.image), blobs.put(result.overlay)]);
    // After a crash between this push and the terminal event, the rerun must not push twice; and a
    // run that lost its lock must not put its result in the thread the current run's reply shows.
    if (thread && (await threads.latest(thread))?.jobId !== data.id) {
      if ((await redis.get(fence.key)) !== fence.token) throw new RunSupersededError(`job ${data.id} is run by another worker`);
      await threads.push(thread, { jobId: data.id, result: resultRef, by: data.requester.user });
    }
    const intensity = stage ? stage.intensity : data.options.intensity;
    return {
      kind: 'done', result: resultRef, overlay: overlayRef, plan: result.plan, seed: result.seed, timings: result.timings,
      ...(intensity && intensity.some((v) => v !== 1) ? { intensity: [...intensity] } : {}),
    };
  }

  /**
   * Pauses the job for its masks to be checked: its expiry is scheduled first (a crash before the
   * pause leaves an expiry that finds nothing to expire), then the check and its first `checking`
   * event go out in one step, fenced to this run.
   */
  private async pause(source: string, pause: CheckPause): Promise<JobEnding> {
    const { queue, blobs, planner } = this.deps;
    const { data } = this;
    const deadline = Date.now() + (data.check?.timeoutMs ?? 0);
    const state: CheckState = {
      job: data,
      source,
      checked: pause.checked,
      reasons: pause.reasons,
      overlay: await blobs.put(pause.overlay),
      reader: planner.readFix ? 'model' : 'rules',
    };
    await queue.scheduleExpiry(data.id, deadline);
    const outcome = await queue.checks.pause(data.id, state, checkingEvent(state, 1, deadline), this.fence);
    switch (outcome) {
      case 'paused':
      case 'already':
        return { kind: 'paused' };
      case 'superseded':
        return { kind: 'superseded' };
      case 'cancelled':
        return { kind: 'cancelled', by: (await this.deps.redis.get(this.deps.keys.cancel(data.id))) ?? undefined };
      case 'ended':
        throw new GasError('internal', `Edit ${data.id} ended before it could pause for its check.`);
    }
  }

  /** Queues a pipeline event for publishing after the ones before it. */
  private publishLater(event: PipelineEvent, throttle: ProgressThrottle): void {
    if (event.type === 'progress') this.iterations = event.iteration;
    this.published = this.published
      .then(() => this.publishPipelineEvent(event, throttle))
      .catch((error: unknown) => {
        if (error instanceof RunSupersededError) this.abort(ABORT.lockLost);
        else this.log.warn({ err: error, event: event.type }, 'could not publish an event');
      });
  }

  /** A pipeline event as its job event: its images stored as blobs, progress throttled. */
  private async publishPipelineEvent(event: PipelineEvent, throttle: ProgressThrottle): Promise<void> {
    if (event.type === 'done') return; // published with the result blob by `end`
    if (event.type === 'progress' && !event.preview && !throttle.progressDue(event.iteration, event.total)) return;
    await this.deps.queue.events.publish(this.data.id, await this.withBlobs(event), this.fence);
  }

  /** The event with its images put in the blob store and named by ref. */
  private async withBlobs(event: Exclude<PipelineEvent, { type: 'done' }>): Promise<JobEventBody> {
    const { blobs } = this.deps;
    switch (event.type) {
      case 'planned':
        return event;
      case 'grounded':
        return { ...event, overlay: await blobs.put(event.overlay) };
      case 'progress': {
        const { preview, ...rest } = event;
        return preview ? { ...rest, preview: await blobs.put(await encodePng(preview), PREVIEW_TTL_SECONDS) } : rest;
      }
    }
  }

  /** How a run that threw ended: the abort reason first (why we stopped it), then the error itself. */
  private async classify(error: unknown, signal: AbortSignal | undefined): Promise<JobEnding> {
    const reason: unknown = signal?.aborted ? signal.reason : undefined;
    if (error instanceof RunSupersededError || reason === ABORT.lockLost) return { kind: 'superseded' };
    if (reason === ABORT.timeout) return { kind: 'timed-out' };
    if (reason === ABORT.shutdown) return { kind: 'handed-back' };
    if (isGasError(error, 'cancelled') || signal?.aborted) {
      return { kind: 'cancelled', by: (await this.deps.redis.get(this.deps.keys.cancel(this.data.id))) ?? undefined };
    }
    if (isGasError(error)) return { kind: 'failed', code: error.code, facts: safeFacts(error), error };
    return { kind: 'failed', code: 'internal', facts: {}, error };
  }

  /**
   * The one place a run ends, as the table of endings says: its terminal event (or hand-back),
   * metrics, log line and what BullMQ is told. A terminal event refused because another run owns
   * the job ends it as superseded.
   */
  private async end(ending: JobEnding): Promise<{ outcome: string }> {
    const rule = ruleFor(ending);
    const durationMs = Date.now() - this.started;
    const stats = { durationMs, iterations: this.iterations };
    let counts = true;
    if (rule.terminal) {
      try {
        counts = await this.finish(rule.terminal(ending, this.config), rule.recordsDuration ? durationMs : undefined);
      } catch (error) {
        if (error instanceof RunSupersededError) return this.end({ kind: 'superseded' });
        throw error;
      }
    }
    if (ending.kind === 'handed-back') {
      await this.deps.redis.set(this.deps.keys.handoff(this.data.id), '1', 'EX', 3600);
      await this.job.moveToWait(this.token);
    }
    const { metrics } = this.deps;
    if (rule.counted === 'abandoned') metrics?.jobAbandoned();
    else if (counts) metrics?.jobFinished(rule.counted.outcome, { ...stats, ...(rule.counted.code ? { code: rule.counted.code(ending) } : {}) });
    const line = rule.log(ending);
    this.log[line.level]({ ...stats, ...line.fields }, line.message);
    return bullmqAnswer(ending);
  }

  /** The job's terminal event, fenced to this run; false when it had one already. */
  private async finish(body: TerminalBody, durationMs?: number): Promise<boolean> {
    const published = await this.deps.queue.finish(this.data.id, body, durationMs, this.fence);
    await this.deps.redis.del(this.deps.keys.cancel(this.data.id));
    return published;
  }
}
