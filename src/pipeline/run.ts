/**
 * A whole edit as plain stages with events: plan → ground → masks → edit. The queue carries
 * these events to chat; the CLI prints them.
 */
import type { DiffusionBundle } from '../models/bundle.js';
import type { Detector, DetectionThresholds } from '../ground/detector.js';
import type { RgbImage } from '../image/decode.js';
import { renderMaskOverlay } from '../image/overlay.js';
import type { Planner } from '../plan/planner.js';
import type { Plan } from '../plan/schema.js';
import { editImage, type EditOptions, type EditProgress, type EditResult } from './edit.js';
import { groundPlan, notFoundError, type Audience, type GroundedRegion, type UserBox } from './ground.js';

export type PipelineEvent =
  | { type: 'planned'; plan: Plan }
  | { type: 'grounded'; regions: readonly GroundedRegion[]; missing: readonly string[]; overlay: Buffer }
  | ({ type: 'progress' } & EditProgress)
  | ({ type: 'done' } & PipelineResult);

/** The edit, the plan it followed, and the mask overlay of its regions (a PNG). */
export type PipelineResult = EditResult & { plan: Plan; overlay: Buffer };

export interface PipelineInput {
  readonly image: RgbImage;
  /** What the person asked for; planned by `planner`. */
  readonly request?: string;
  /** A plan given outright (it skips the planner). */
  readonly plan?: Plan;
}

export interface PipelineDeps {
  readonly bundle: DiffusionBundle;
  readonly planner: Planner;
  readonly detector?: Detector;
}

export interface PipelineOptions extends EditOptions {
  userBoxes?: readonly UserBox[];
  thresholds?: DetectionThresholds;
  /** Who reads the error messages (default: a shell user). */
  audience?: Audience;
}

/** Plans and grounds, without editing: what `gas plan` shows before GPU time is spent. */
export async function planAndGround(
  input: PipelineInput,
  deps: Omit<PipelineDeps, 'bundle'>,
  options: Pick<PipelineOptions, 'userBoxes' | 'thresholds' | 'signal' | 'audience'>,
  onEvent: (event: PipelineEvent) => void = () => {},
): Promise<{ plan: Plan; regions: readonly GroundedRegion[]; overlay: Buffer }> {
  // 1. Plan.
  const plan = input.plan ?? (await deps.planner.plan({ text: input.request ?? '', image: input.image }, options.signal));
  onEvent({ type: 'planned', plan });

  // 2. Ground: a region per subtask, shown to the person whether or not every phrase was found.
  const grounding = await groundPlan(plan, input.image, {
    detector: deps.detector,
    userBoxes: options.userBoxes,
    thresholds: options.thresholds,
    planBoxesFrom: input.plan ? 'user' : 'planner',
  });
  const overlay = await renderMaskOverlay(input.image, grounding.regions);
  onEvent({ type: 'grounded', regions: grounding.regions, missing: grounding.missing, overlay });
  if (grounding.missing.length > 0) throw notFoundError(grounding.missing, deps.detector !== undefined, options.audience);
  return { plan: grounding.plan, regions: grounding.regions, overlay };
}

export async function runPipeline(
  input: PipelineInput,
  deps: PipelineDeps,
  options: PipelineOptions,
  onEvent: (event: PipelineEvent) => void = () => {},
): Promise<PipelineResult> {
  const { plan, overlay } = await planAndGround(input, deps, options, onEvent);
  // 3. Masks and the edit.
  const result = await editImage(deps.bundle, input.image, plan, {
    ...options,
    onProgress: (progress) => {
      options.onProgress?.(progress);
      onEvent({ type: 'progress', ...progress });
    },
  });
  const done = { ...result, plan, overlay };
  onEvent({ type: 'done', ...done });
  return done;
}
