/**
 * The check lane of a worker (docs/architecture.md, "The check step"): a second BullMQ worker,
 * beside the edits, on the queue's check lane, so a fix to the masks or a check's expiry never
 * waits behind someone's edit. A fix is applied to the plan under check (those that need the
 * detector look on the image again), the masks are drawn again with the grid, and the next round
 * goes out with its `checking` event in one step; a reply the rules could not read goes to the
 * planner model, when the worker has one. A check at its deadline ends as expired.
 */
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { GasError, isGasError } from '../src/errors.js';
import type { Detector } from '../src/ground/detector.js';
import { decodeImage, type RgbImage } from '../src/image/decode.js';
import type { Check } from '../src/jobs/checks.js';
import { checkLaneName, type CheckTask } from '../src/jobs/edit-queue.js';
import type { Keys } from '../src/jobs/keys.js';
import type { JobStores } from '../src/jobs/stores.js';
import type { Logger } from '../src/log.js';
import { applyFixes, checkDoubts, renderCheckOverlay } from '../src/pipeline/check.js';
import { fixContext, planFixSchema, type PlanFix } from '../src/plan/fix.js';
import type { Planner } from '../src/plan/planner.js';
import { checkingEvent } from './checking.js';

export interface CheckLaneDeps extends JobStores {
  redis: Redis;
  keys: Keys;
  detector?: Detector;
  planner: Planner;
  logger: Logger;
}

export interface CheckLaneConfig {
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

/** Tries at applying one fix while other fixes of the same check keep landing first. */
const MAX_ROUNDS_LOST = 5;

export class CheckLane {
  readonly worker: Worker;
  private readonly connection: Redis;

  constructor(private readonly deps: CheckLaneDeps, config: CheckLaneConfig) {
    this.connection = deps.redis.duplicate();
    this.worker = new Worker(checkLaneName(deps.queue.config.queueName), (job) => this.process(job), {
      connection: this.connection,
      prefix: deps.keys.bull,
      concurrency: config.concurrency,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      autorun: false,
    });
    this.worker.on('error', (error) => deps.logger.warn({ err: error }, 'check lane error'));
  }

  start(): void {
    void this.worker.run();
  }

  waitUntilReady(): Promise<unknown> {
    return this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker.close();
    this.connection.disconnect();
  }

  disconnect(): void {
    this.connection.disconnect();
  }

  private async process(job: Job): Promise<string> {
    const task = job.data as CheckTask;
    const log = this.deps.logger.child({ jobId: task.jobId, task: task.kind });
    switch (task.kind) {
      case 'expire': {
        const outcome = await this.deps.queue.expire(task.jobId, task.deadline);
        if (outcome !== 'nothing') log.info({ outcome }, outcome === 'expired' ? 'check expired' : 'edit stage added after an interrupted go');
        return outcome;
      }
      case 'fix': {
        const fixes = task.fixes.map((fix) => planFixSchema.parse(fix));
        return this.apply(task.jobId, task.text, () => fixes, log, fixes.every((fix) => fix.kind === 'add') ? undefined : task.parts);
      }
      case 'read':
        return this.apply(task.jobId, task.text, (check) => this.read(task.text, check), log, task.parts);
    }
  }

  /** A reply the rules could not read, read by the planner model with the plan as numbered (none: it stays unread). */
  private async read(text: string, check: Check): Promise<PlanFix[] | undefined> {
    const { planner } = this.deps;
    return planner.readFix ? planner.readFix({ text, context: fixContext(check.state.checked) }) : undefined;
  }

  /**
   * Applies fixes to the check's current round and publishes the next; if another fix got there
   * first, applies them to the newer round. A fix that cannot apply still publishes a round, saying
   * why, so the person hears back where they typed. A fix naming parts by number that was written
   * against a plan with more parts (a fix before it took one out) is not applied: the numbers have
   * moved, and "drop 1" twice must not drop two parts.
   */
  private async apply(jobId: string, text: string, fixesFor: (check: Check) => PlanFix[] | undefined | Promise<PlanFix[] | undefined>, log: Logger, writtenForParts?: number): Promise<string> {
    const { queue, blobs, detector } = this.deps;
    let image: RgbImage | undefined;
    for (let attempt = 0; attempt < MAX_ROUNDS_LOST; attempt++) {
      const check = await queue.checks.get(jobId);
      if (!check || check.status !== 'waiting') return 'not-waiting';
      image ??= await decodeImage(await blobs.get(check.state.source));
      let state = check.state;
      let unread: { text: string; reason?: string } | undefined;
      try {
        if (writtenForParts !== undefined && check.state.checked.plan.subtasks.length < writtenForParts) {
          throw new GasError('bad_input', 'An earlier fix took a part out, so the parts are numbered anew: look at the new masks and say it again.');
        }
        const fixes = await fixesFor(check);
        if (fixes === undefined) {
          unread = { text };
        } else {
          const checked = await applyFixes(check.state.checked, fixes, { image, detector });
          state = { ...state, checked, reasons: checkDoubts(checked), overlay: await blobs.put(await renderCheckOverlay(image, checked)) };
        }
      } catch (error) {
        if (!isGasError(error, 'bad_input') && !isGasError(error, 'planner_failed')) throw error;
        // A fix's own refusal is worded for the person (src/plan/fix.ts); a planner service's failure is not theirs to read.
        unread = isGasError(error, 'bad_input') ? { text, reason: error.message } : { text };
      }
      const outcome = await queue.checks.update(jobId, check.round, state, checkingEvent(state, check.round + 1, check.deadline, unread));
      if (outcome === 'stale') continue;
      log.info({ outcome, round: check.round + 1, unread: unread !== undefined }, 'fix applied');
      return outcome;
    }
    log.warn('other fixes kept landing first; this one was not applied');
    return 'stale';
  }
}
