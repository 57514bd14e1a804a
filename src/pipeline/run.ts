/**
 * A whole edit as plain stages with events: plan → ground → masks → edit. The events are the
 * job events of the queue's contract with their images in memory; the worker stores the images
 * as blobs and publishes them, the CLI writes them to files.
 */
import type { DiffusionBundle } from '../models/bundle.js';
import { DEFAULT_THRESHOLDS, type Detector, type DetectionThresholds } from '../ground/detector.js';
import type { RegionDoubt } from '../ground/region-checks.js';
import type { CheckedPlan } from '../plan/fix.js';
import type { RgbImage } from '../image/decode.js';
import { renderMaskOverlay } from '../image/overlay.js';
import type { Planner } from '../plan/planner.js';
import type { Plan } from '../plan/schema.js';
import { GasError, isGasError } from '../errors.js';
import type { BlobRef, JobEventBody } from '../jobs/contracts.js';
import { fixContext, planToEdit, readFixes } from '../plan/fix.js';
import { applyFixes, checkDoubts, checkedFrom, checkedRegions, missingOf, renderCheckOverlay } from './check.js';
import { editImage, type EditOptions, type EditResult } from './edit.js';
import { groundPlan, notFoundError, type Grounding, type GroundedRegion, type UserBox } from './ground.js';

/** The images of an event in memory: the overlay and the result as PNG bytes, a preview as pixels (encoded only if it is sent). */
interface EventImages {
  overlay: Buffer;
  result: Buffer;
  preview: RgbImage;
}

/** An event body with its blob refs swapped for the images they name. */
type WithImages<Body> = { [K in keyof Body]: K extends keyof EventImages ? EventImages[K] | Exclude<Body[K], BlobRef> : Body[K] };

/** The pipeline's events: the queue's job events of its stages, with images in memory. */
export type PipelineEvent = WithImages<Extract<JobEventBody, { type: 'planned' | 'grounded' | 'progress' | 'done' }>>;

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
  /**
   * Stop after grounding, before any GPU time, for the masks to be checked: always, or when the
   * regions are doubtful (a phrase found nowhere is then a question, not a failure).
   */
  check?: 'always' | 'unsure';
}

/** A run stopped for the masks to be checked: the plan under check, why it asks, and the lettered masks. */
export interface CheckPause {
  checked: CheckedPlan;
  reasons: RegionDoubt[];
  missing: string[];
  overlay: Buffer;
}

/** Plans and grounds, without editing: what `gas plan` shows before GPU time is spent. */
export async function planAndGround(
  input: PipelineInput,
  deps: Omit<PipelineDeps, 'bundle'>,
  options: Pick<PipelineOptions, 'userBoxes' | 'thresholds' | 'signal'>,
  onEvent: (event: PipelineEvent) => void = () => {},
): Promise<{ plan: Plan; regions: readonly GroundedRegion[]; overlay: Buffer }> {
  const grounding = await planAndFind(input, deps, options, onEvent);
  return publishGrounding(input.image, grounding, deps.detector !== undefined, onEvent);
}

/**
 * `gas plan --fix`: plans and grounds, then applies each reply of the check step's fix language in
 * turn ("1 is the dog on the left", "drop 2", "2 is B3 to D5"), as a check in chat would; the plan
 * it returns carries the regions as fixed, ready for `--plan`.
 */
export async function planGroundAndFix(
  input: PipelineInput,
  deps: Omit<PipelineDeps, 'bundle'>,
  options: Pick<PipelineOptions, 'userBoxes' | 'thresholds' | 'signal'>,
  replies: readonly string[],
  onEvent: (event: PipelineEvent) => void = () => {},
): Promise<{ plan: Plan; regions: readonly GroundedRegion[]; overlay: Buffer }> {
  const grounding = await planAndFind(input, deps, options, onEvent);
  let checked = checkedFrom(grounding.plan, grounding.regions);
  for (const reply of replies) {
    const fixes = readFixes(reply, fixContext(checked)).filter((fix) => fix.kind !== 'go');
    checked = await applyFixes(checked, fixes, { image: input.image, detector: deps.detector, thresholds: options.thresholds });
  }
  const regions = checkedRegions(checked).map(({ found: _found, ...region }) => region);
  const plan = planToEdit(checked)?.plan ?? checked.plan;
  return publishGrounding(input.image, { plan, regions, missing: missingOf(checked) }, deps.detector !== undefined, onEvent);
}

/** Stages 1–2 without their verdict: the plan (its event emitted) and every region found. */
async function planAndFind(
  input: PipelineInput,
  deps: Omit<PipelineDeps, 'bundle'>,
  options: Pick<PipelineOptions, 'userBoxes' | 'thresholds' | 'signal'>,
  onEvent: (event: PipelineEvent) => void,
): Promise<Grounding> {
  // 1. Plan.
  const plan = input.plan ?? (await planRequest(deps.planner, input, options.signal));
  onEvent({ type: 'planned', plan });
  // 2. Ground: a region per subtask.
  return groundPlan(plan, input.image, {
    detector: deps.detector,
    userBoxes: options.userBoxes,
    thresholds: options.thresholds,
    planBoxesFrom: input.plan ? 'user' : 'planner',
  });
}

/** The regions shown to the person whether or not every phrase was found; a phrase found nowhere fails the edit. */
async function publishGrounding(
  image: RgbImage,
  grounding: Grounding,
  hasDetector: boolean,
  onEvent: (event: PipelineEvent) => void,
): Promise<{ plan: Plan; regions: readonly GroundedRegion[]; overlay: Buffer }> {
  const overlay = await renderMaskOverlay(image, grounding.regions);
  onEvent({
    type: 'grounded',
    regions: grounding.regions.map(({ scores, ...region }) => ({ ...region, boxes: [...region.boxes], ...(scores ? { scores: [...scores] } : {}) })),
    missing: [...grounding.missing],
    overlay,
  });
  if (grounding.missing.length > 0) throw notFoundError(grounding.missing, hasDetector);
  return { plan: grounding.plan, regions: grounding.regions, overlay };
}

/**
 * The planner's plan of the request. Its bad_input and bad_plan messages are written for the person
 * who made the request ("write each edit like …"), so they travel as the failure's reason.
 */
async function planRequest(planner: Planner, input: PipelineInput, signal: AbortSignal | undefined): Promise<Plan> {
  try {
    return await planner.plan({ text: input.request ?? '', image: input.image }, signal);
  } catch (error) {
    if ((isGasError(error, 'bad_input') || isGasError(error, 'bad_plan')) && !error.facts) {
      throw new GasError(error.code, error.message, error.details, { reason: error.message });
    }
    throw error;
  }
}

/**
 * The whole edit, or, with `options.check`, the plan and regions for the person to check when the
 * check applies (`pause`): no `grounded` event then, and no GPU time.
 */
export async function runPipeline(
  input: PipelineInput,
  deps: PipelineDeps,
  options: PipelineOptions & { check?: undefined },
  onEvent?: (event: PipelineEvent) => void,
): Promise<PipelineResult & { pause?: undefined }>;
export async function runPipeline(
  input: PipelineInput,
  deps: PipelineDeps,
  options: PipelineOptions,
  onEvent?: (event: PipelineEvent) => void,
): Promise<(PipelineResult & { pause?: undefined }) | { pause: CheckPause }>;
export async function runPipeline(
  input: PipelineInput,
  deps: PipelineDeps,
  options: PipelineOptions,
  onEvent: (event: PipelineEvent) => void = () => {},
): Promise<(PipelineResult & { pause?: undefined }) | { pause: CheckPause }> {
  const grounding = await planAndFind(input, deps, options, onEvent);
  if (options.check) {
    const checked = checkedFrom(grounding.plan, grounding.regions, options.intensity);
    const reasons = checkDoubts(checked, options.thresholds ?? DEFAULT_THRESHOLDS);
    if (options.check === 'always' || reasons.length > 0) {
      return { pause: { checked, reasons, missing: missingOf(checked), overlay: await renderCheckOverlay(input.image, checked) } };
    }
  }
  const { plan, overlay } = await publishGrounding(input.image, grounding, deps.detector !== undefined, onEvent);
  // 3. Masks and the edit.
  const result = await editImage(deps.bundle, input.image, plan, {
    ...options,
    onProgress: (progress) => {
      options.onProgress?.(progress);
      const { iteration, total, etaMs, preview } = progress;
      onEvent({ type: 'progress', iteration, total, etaMs: Math.round(etaMs), ...(preview ? { preview } : {}) });
    },
  });
  const done = { ...result, plan, overlay };
  const intensity = options.intensity && options.intensity.some((v) => v !== 1) ? [...options.intensity] : undefined;
  onEvent({ type: 'done', result: result.image, overlay, plan, seed: result.seed, timings: result.timings, ...(intensity ? { intensity } : {}) });
  return done;
}
