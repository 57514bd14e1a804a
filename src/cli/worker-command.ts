/** `gas worker`: its options checked, the colour world as the default models, then the worker process. */
import { runWorkerProcess, type WorkerModelOptions } from '../../gpu-worker/main.js';
import { redisUrl } from '../jobs/redis.js';
import { EXECUTION_PROVIDERS } from '../models/providers.js';
import { PLANNERS } from '../plan/planner-names.js';
import { DETECTOR_VARIANTS } from '../ground/detector.js';
import { withColourWorldDefaults } from './colour-world.js';
import { MAX_STEPS } from '../distill/modes.js';
import { choosePlanner } from './edit-command.js';
import { MAX_PORT, oneOf, wholeNumber, type NameOf } from './flag-values.js';

/** What commander gives for `gas worker` (strings until checked). */
export interface WorkerFlags {
  redisUrl?: string;
  prefix: string;
  bundle: string;
  provider: string;
  detector?: string;
  detectorVariant?: string;
  planner?: string;
  concurrency: string;
  opsPort?: string;
  opsHost: string;
  steps?: string;
  lockMs: string;
  stalledMs: string;
  previewMs: string;
  timeoutMs: string;
  allowRandomWeights?: boolean;
}


/** The worker's models and settings from its flags (shared with `gas serve`). */
export function workerModelOptions(flags: Omit<WorkerFlags, 'redisUrl' | 'prefix' | 'opsPort' | 'opsHost'>, name: NameOf): WorkerModelOptions {
  const provider = oneOf(flags.provider, name('provider'), EXECUTION_PROVIDERS) ?? 'cpu';
  const planner = choosePlanner(oneOf(flags.planner, name('planner'), PLANNERS));
  // Commander fills every default but --steps; an empty GAS_STEPS means "not set", as before.
  const steps = wholeNumber(flags.steps || undefined, name('steps'), 1, MAX_STEPS);
  const worker = {
    concurrency: wholeNumber(flags.concurrency, name('concurrency'), 1),
    lockDurationMs: wholeNumber(flags.lockMs, name('lockMs'), 500),
    stalledIntervalMs: wholeNumber(flags.stalledMs, name('stalledMs'), 100),
    previewIntervalMs: wholeNumber(flags.previewMs, name('previewMs'), 0),
    jobTimeoutMs: wholeNumber(flags.timeoutMs, name('timeoutMs'), 1000),
    ...(steps !== undefined ? { defaultSteps: steps } : {}),
  };
  // Checked before the colour world is built on disk: bad input writes nothing.
  const detectorVariant = oneOf(flags.detectorVariant, name('detectorVariant'), DETECTOR_VARIANTS);
  const models = withColourWorldDefaults({ bundle: flags.bundle, detector: flags.detector });
  return { bundle: models.bundle, provider, detector: models.detector, detectorVariant, planner, worker, allowRandomWeights: flags.allowRandomWeights };
}

/** Runs until SIGTERM or SIGINT. */
export async function runWorkerCommand(flags: WorkerFlags, name: NameOf): Promise<void> {
  const models = workerModelOptions(flags, name);
  const opsPort = wholeNumber(flags.opsPort, name('opsPort'), 0, MAX_PORT);
  await runWorkerProcess({ ...models, redisUrl: flags.redisUrl ?? redisUrl(), prefix: flags.prefix, opsPort, opsHost: flags.opsHost });
}
