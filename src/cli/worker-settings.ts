/**
 * A worker's models, planner and settings (`gas worker`, `gas serve`), apart from settings.ts: it
 * loads the planners and the colour-world builders, which `gas --help` and the other commands
 * need not load.
 */
import type { Configuration } from '../config/index.js';
import { workerSection } from '../config/sections.js';
import type { WorkerModelOptions } from '../../gpu-worker/main.js';
import { withColourWorldDefaults } from './colour-world.js';
import { choosePlanner } from './planner-choice.js';
import { fromFlags, modelSettings, plannerSettings, type Flags } from './settings.js';

/** A worker's models, planner and settings (`gas worker`, `gas serve`); the colour world is built when it is the bundle. */
export function workerModelOptions(config: Configuration, flags: Flags): WorkerModelOptions {
  const worker = config.read(workerSection, fromFlags(flags, {
    concurrency: 'concurrency',
    defaultSteps: 'steps',
    lockDurationMs: 'lockMs',
    stalledIntervalMs: 'stalledMs',
    previewIntervalMs: 'previewMs',
    jobTimeoutMs: 'timeoutMs',
  }));
  const models = modelSettings(config, flags);
  const planner = choosePlanner(plannerSettings(config, flags));
  // Checked before the colour world is built on disk: bad input writes nothing.
  const dirs = withColourWorldDefaults({ bundle: models.bundle, detector: models.detector });
  return { bundle: dirs.bundle, provider: models.provider, detector: dirs.detector, detectorVariant: models.detectorVariant, planner, worker, allowRandomWeights: flags.allowRandomWeights === true };
}
