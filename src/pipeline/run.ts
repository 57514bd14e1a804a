/**
 * A whole edit as plain stages with events: plan → ground → masks → edit. The events are the
 * job events of the queue's contract with their images in memory; the worker stores the images
 * as blobs and publishes them, the CLI writes them to files.
 */
import type { DiffusionBundle } from '../models/bundle.js';
import type { Detector, DetectionThresholds } from '../ground/detector.js';
import type { RgbImage } from '../image/decode.js';
import { renderMaskOverlay } from '../image/overlay.js';
import type { Planner } from '../plan/planner.js';
import type { Plan } from '../plan/schema.js';
import { GasError, isGasError } from '../errors.js';
import type { BlobRef, JobEventBody } from '../jobs/contracts.js';
import { editImage, type EditOptions, type EditResult } from './edit.js';
import { groundPlan, notFoundError, type GroundedRegion, type UserBox } from './ground.js';

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
}

/** Plans and grounds, without editing: what `gas plan` shows before GPU time is spent. */
export async function planAndGround(
  input: PipelineInput,
  deps: Omit<PipelineDeps, 'bundle'>,
  options: Pick<PipelineOptions, 'userBoxes' | 'thresholds' | 'signal'>,
  onEvent: (event: PipelineEvent) => void = () => {},
): Promise<{ plan: Plan; regions: readonly GroundedRegion[]; overlay: Buffer }> {
  // 1. Plan.
  const plan = input.plan ?? (await planRequest(deps.planner, input, options.signal));
  onEvent({ type: 'planned', plan });

  // 2. Ground: a region per subtask, shown to the person whether or not every phrase was found.
  const grounding = await groundPlan(plan, input.image, {
    detector: deps.detector,
    userBoxes: options.userBoxes,
    thresholds: options.thresholds,
    planBoxesFrom: input.plan ? 'user' : 'planner',
  });
  const overlay = await renderMaskOverlay(input.image, grounding.regions);
  onEvent({
    type: 'grounded',
    regions: grounding.regions.map((region) => ({ ...region, boxes: [...region.boxes] })),
    missing: [...grounding.missing],
    overlay,
  });
  if (grounding.missing.length > 0) throw notFoundError(grounding.missing, deps.detector !== undefined);
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
      const { iteration, total, etaMs, preview } = progress;
      onEvent({ type: 'progress', iteration, total, etaMs: Math.round(etaMs), ...(preview ? { preview } : {}) });
    },
  });
  const done = { ...result, plan, overlay };
  onEvent({ type: 'done', result: result.image, overlay, plan, seed: result.seed, timings: result.timings });
  return done;
}
