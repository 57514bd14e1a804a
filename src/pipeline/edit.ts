/**
 * One edit with a given plan and regions: image → latent → Ground-A-Score → image
 * (docs/algorithm.md). Reads as numbered steps; each step is a small function below.
 */
import { randomInt } from 'node:crypto';
import { GasError } from '../errors.js';
import {
  groundAScore, REFERENCE_OPTIONS, type Ablation, type DistillProgress, type DistillSubtask, type Schedule,
} from '../distill/engine.js';
import { latentMaskFromBoxes, unionMask } from '../distill/masks.js';
import { noiseSchedule } from '../distill/schedule.js';
import type { TextEmbedding } from '../distill/types.js';
import type { DiffusionBundle } from '../models/bundle.js';
import { encodePng, resizeRgb, type RgbImage } from '../image/decode.js';
import { compositeOver, featheredAlpha } from '../image/composite.js';
import { latentPreview } from '../image/preview.js';
import { DEFAULT_MAX_SIDE, imageToTensor, tensorToImage, workingSize } from '../image/tensor.js';
import { subtaskBoxes, type Box, type Plan } from '../plan/schema.js';

export interface EditOptions {
  steps: number;
  /** Omit for a random seed; the result reports the one used. */
  seed?: number;
  schedule: Schedule;
  ablation?: Ablation;
  guidanceScale: number;
  /** Composite the edit over the original through the feathered union of the regions. */
  composite: boolean;
  /** Per-subtask edit intensity, in plan order, 0–2 (default 1 each; 0 drops a subtask's term). */
  intensity?: readonly number[];
  /** Longer side of the working image (a multiple of 64). */
  maxSide: number;
  /** Whether to make a preview image after this iteration (default: never). */
  previewAt?: (iteration: number, total: number) => boolean;
  signal?: AbortSignal;
  onProgress?: (progress: EditProgress) => void;
}

export interface EditProgress extends DistillProgress {
  /** A cheap preview from the latent (no VAE), on preview iterations. */
  preview?: RgbImage;
}

export const DEFAULT_EDIT_OPTIONS: EditOptions = {
  steps: REFERENCE_OPTIONS.iterations,
  schedule: 'aggregated',
  guidanceScale: REFERENCE_OPTIONS.guidanceScale,
  composite: true,
  maxSide: DEFAULT_MAX_SIDE,
};

export interface EditResult {
  /** The edit, as a PNG at the source's resolution. */
  image: Buffer;
  seed: number;
  timings: { encodeMs: number; distillMs: number; decodeMs: number; totalMs: number };
}

/**
 * Each subtask's boxes; every subtask needs at least one (the grounding stage fills them in),
 * except under the "no subtasks" ablation, which edits with the full prompt alone (docs/algorithm.md §1, §13).
 */
export function subtaskRegions(plan: Plan, ablation?: Ablation): Box[][] {
  return plan.subtasks.map((subtask, index) => {
    const boxes = subtaskBoxes(subtask);
    if (boxes.length === 0 && ablation !== 'no-subtasks') {
      throw new GasError(
        'bad_plan',
        `Subtask ${index + 1} ("${subtask.source} → ${subtask.target}") has no box. Add "box": [x0, y0, x1, y1] in 0–1 image coordinates.`,
      );
    }
    return boxes;
  });
}

export async function editImage(bundle: DiffusionBundle, source: RgbImage, plan: Plan, options: EditOptions): Promise<EditResult> {
  const started = performance.now();
  const seed = options.seed ?? randomInt(0, 2 ** 31);
  const regions = subtaskRegions(plan, options.ablation);
  const intensity = checkIntensity(options.intensity, plan.subtasks.length)!;

  // 1. Image → working size → scaled latent z_src (docs/algorithm.md §2).
  // A fixed-shape export edits at its one size; the result is resized back to the source's size as usual.
  const size = bundle.fixedImageSize ?? workingSize(source.width, source.height, options.maxSide);
  const working = await resizeRgb(source, size.width, size.height);
  const sourceLatent = await bundle.vaeEncoder.encode(imageToTensor(working));

  // 2. Text embeddings, once per distinct prompt (§3).
  const embed = promptEmbedder(bundle);
  const subtasks: DistillSubtask[] = await Promise.all(
    plan.subtasks.map(async (subtask, k) => ({
      source: await embed(subtask.source),
      target: await embed(subtask.target),
      boxes: regions[k],
      intensity: intensity[k],
    })),
  );
  const request = {
    source: sourceLatent,
    nullText: await embed(''),
    subtasks,
    full: { source: await embed(plan.full.source), target: await embed(plan.full.target) },
  };
  const encodeMs = performance.now() - started;

  // 3. Ground-A-Score (§4–§13).
  let preview: RgbImage | undefined;
  const target = await groundAScore(bundle.unet, noiseSchedule(bundle.scheduler), request, {
    ...REFERENCE_OPTIONS,
    iterations: options.steps,
    seed,
    schedule: options.schedule,
    ablation: options.ablation,
    guidanceScale: options.guidanceScale,
    signal: options.signal,
    previewAt: options.previewAt,
    // The engine calls onPreview just before onProgress for the same iteration.
    onPreview: (latent) => {
      preview = latentPreview(latent, bundle.latentRgbFactors, bundle.vaeDownsample);
    },
    onProgress: (progress) => {
      options.onProgress?.(preview ? { ...progress, preview } : progress);
      preview = undefined;
    },
  });
  const distillMs = performance.now() - started - encodeMs;

  // 4. Decode, back to the source's size, composite over the original (§11).
  const decoded = tensorToImage(await bundle.vaeDecoder.decode(target));
  let edit = await resizeRgb(decoded, source.width, source.height);
  if (options.composite && options.ablation !== 'no-masks' && options.ablation !== 'no-subtasks') {
    const mask = unionMask(regions.map((boxes) => latentMaskFromBoxes(boxes, target)), target);
    edit = compositeOver(source, edit, await featheredAlpha(mask, target, source.width, source.height));
  }
  const image = await encodePng(edit);
  const decodeMs = performance.now() - started - encodeMs - distillMs;
  return { image, seed, timings: { encodeMs, distillMs, decodeMs, totalMs: performance.now() - started } };
}

function promptEmbedder(bundle: DiffusionBundle): (prompt: string) => Promise<TextEmbedding> {
  const cache = new Map<string, Promise<TextEmbedding>>();
  return (prompt) => {
    let embedding = cache.get(prompt);
    if (!embedding) cache.set(prompt, (embedding = bundle.textEncoder.encode(prompt)));
    return embedding;
  };
}

/** Checks intensities on their own (range), and against the plan when it is known (one per subtask; docs/algorithm.md §12). */
export function checkIntensity(values: readonly number[] | undefined, count?: number): number[] | undefined {
  if (values === undefined) return count === undefined ? undefined : new Array<number>(count).fill(1);
  values.forEach((v, i) => {
    if (!(v >= 0 && v <= 2)) throw new GasError('bad_input', `Intensity ${i + 1} must be between 0 and 2 (got ${v}).`);
  });
  if (count !== undefined && values.length !== count) {
    throw new GasError('bad_input', `Give one intensity per subtask: the plan has ${count}, the option has ${values.length}.`);
  }
  return [...values];
}
