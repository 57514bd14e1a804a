/**
 * The Ground-A-Score loop: the one place where the model, the noise schedule and the DDS
 * terms meet (docs/algorithm.md §5–§13; the schedules are §10).
 */
import { GasError } from '../errors.js';
import {
  accumulateDdsGradient, addNoise, epsilonFromVelocity, fullPromptWeight, nullTextPenalty, sgdStep,
  GUIDANCE_SCALE, NULL_PENALTY_MAX_AREA, type TermPredictions,
} from './dds.js';
import { applyOverlapRule, boxesArea, latentMaskFromBoxes, unionMask, wholeImageMask, type Box, type LatentGrid } from './masks.js';
import { seededRandom, type Random } from './random.js';
import type { NoiseSchedule } from './schedule.js';
import type { Latent, NoisePredictor, TextEmbedding } from './types.js';

import { ABLATIONS, MAX_STEPS, REFERENCE_ITERATIONS, SCHEDULES, type Ablation, type Schedule } from './modes.js';

// The engine's callers name modes through it, as before the names had a module of their own.
export { ABLATIONS, SCHEDULES, type Ablation, type Schedule };

/** One subtask as the engine takes it (docs/algorithm.md §1, §12). */
export interface DistillSubtask {
  readonly source: TextEmbedding;
  readonly target: TextEmbedding;
  /** The region: one or more boxes (several instances of one phrase), normalised. */
  readonly boxes: readonly Box[];
  /** Scales this subtask's term; 0 skips it (docs/algorithm.md §12). */
  readonly intensity: number;
}

export interface DistillRequest {
  readonly source: Latent;
  readonly nullText: TextEmbedding;
  readonly subtasks: readonly DistillSubtask[];
  /** The whole scene before and after. */
  readonly full: { readonly source: TextEmbedding; readonly target: TextEmbedding };
}

export interface DistillProgress {
  iteration: number;
  total: number;
  elapsedMs: number;
  etaMs: number;
}

export interface DistillOptions {
  iterations: number;
  seed: number;
  schedule: Schedule;
  ablation?: Ablation;
  guidanceScale: number;
  learningRate: number;
  lossScale: number;
  /**
   * The latent cell count the step is normalised by (docs/algorithm.md §9): the reference's 64×64
   * at every working size, so each cell moves as it would in the reference, and a small latent is
   * not thrown off by a proportionally larger step.
   */
  stepCells: number;
  minTimestep: number;
  maxTimestep: number;
  signal?: AbortSignal;
  onProgress?: (progress: DistillProgress) => void;
  /** Whether to call `onPreview` after this iteration (never after the last: the result follows). */
  previewAt?: (iteration: number, total: number) => boolean;
  onPreview?: (latent: Latent, iteration: number) => void;
}

/** The reference's numbers (docs/algorithm.md §15). */
export const REFERENCE_OPTIONS = {
  iterations: REFERENCE_ITERATIONS,
  guidanceScale: GUIDANCE_SCALE,
  learningRate: 0.1,
  lossScale: 2000,
  stepCells: 64 * 64,
  minTimestep: 50,
  maxTimestep: 948,
} as const satisfies Partial<DistillOptions>;

/** One DDS term as the loop runs it. */
interface Term {
  readonly source: TextEmbedding;
  readonly target: TextEmbedding;
  readonly mask: Float32Array;
  /** How the term is weighted: subtask (intensity·γ or intensity), full prompt (β(t)), or plain DDS (1) (docs/algorithm.md §6, §8, §12). */
  readonly weighting: { kind: 'subtask'; intensity: number; penalised: boolean } | { kind: 'full' } | { kind: 'plain' };
}

/**
 * Subtasks and the full prompt → the terms to run, with masks, the overlap rule and the ablation
 * applied. Masks, the overlap rule and the union come from every subtask: intensity scales a
 * term (0 drops it) but does not take its object out of the geometry (docs/algorithm.md §6–§8, §12, §13).
 */
export function prepareTerms(request: DistillRequest, grid: LatentGrid, ablation?: Ablation): Term[] {
  if (ablation === 'no-subtasks') {
    return [{ ...request.full, mask: wholeImageMask(grid), weighting: { kind: 'plain' } }];
  }
  if (request.subtasks.some((s) => !(s.intensity >= 0))) throw new GasError('bad_input', 'Intensities must be 0 or more.');
  if (!request.subtasks.some((s) => s.intensity > 0)) throw new GasError('bad_input', 'Every subtask has intensity 0: nothing would change.');
  const binary = request.subtasks.map((s) => latentMaskFromBoxes(s.boxes, grid));
  const masks = ablation === 'no-masks' ? binary.map(() => wholeImageMask(grid)) : applyOverlapRule(binary);
  const terms: Term[] = [];
  request.subtasks.forEach((s, k) => {
    if (s.intensity === 0) return;
    terms.push({
      source: s.source,
      target: s.target,
      mask: masks[k],
      weighting: {
        kind: 'subtask',
        intensity: s.intensity,
        penalised: ablation !== 'no-null-penalty' && boxesArea(s.boxes) < NULL_PENALTY_MAX_AREA,
      },
    });
  });
  if (ablation !== 'no-masks' && ablation !== 'no-full-prompt') {
    terms.push({ ...request.full, mask: unionMask(binary, grid), weighting: { kind: 'full' } });
  }
  return terms;
}

/** weight_τ: intensity·γ for a subtask, β(t) for the full prompt, 1 for plain DDS (docs/algorithm.md §6, §8, §12). */
function termWeight(term: Term, t: number, p: TermPredictions): number {
  switch (term.weighting.kind) {
    case 'plain':
      return 1;
    case 'full':
      return fullPromptWeight(t);
    case 'subtask':
      return term.weighting.intensity * (term.weighting.penalised ? nullTextPenalty(p.nullTarget, p.condTarget, term.mask) : 1);
  }
}

/** Runs the edit and returns the optimised latent z_tgt (docs/algorithm.md §2.4, §9, §10). */
export async function groundAScore(
  predictor: NoisePredictor,
  schedule: NoiseSchedule,
  request: DistillRequest,
  options: DistillOptions,
): Promise<Latent> {
  validateOptions(options, schedule);
  const { height, width } = request.source;
  const grid = { height, width };
  const size = request.source.data.length; // 4·h·w
  const terms = prepareTerms(request, grid, options.ablation);
  const random = seededRandom(options.seed);
  const target = request.source.data.slice();
  const started = performance.now();

  const run = options.schedule === 'aggregated' ? aggregatedIteration : officialIteration;
  const state: LoopState = {
    predictor, schedule, request, options, terms, random, target, grid, size,
    noise: new Float32Array(size),
    gradient: new Float32Array(size),
    contexts: new Map(),
    latentBuffers: new Map(),
  };
  for (let iteration = 1; iteration <= options.iterations; iteration++) {
    if (options.signal?.aborted) throw new GasError('cancelled', 'The edit was cancelled.');
    await run(state, iteration);
    if (options.onPreview && iteration < options.iterations && options.previewAt?.(iteration, options.iterations)) {
      options.onPreview({ data: target.slice(), height, width }, iteration);
    }
    const elapsedMs = performance.now() - started;
    options.onProgress?.({
      iteration,
      total: options.iterations,
      elapsedMs,
      etaMs: (elapsedMs / iteration) * (options.iterations - iteration),
    });
  }
  return { data: target, height, width };
}

interface LoopState {
  predictor: NoisePredictor;
  schedule: NoiseSchedule;
  request: DistillRequest;
  options: DistillOptions;
  terms: Term[];
  random: Random;
  /** z_tgt, updated in place. */
  target: Float32Array;
  grid: LatentGrid;
  size: number;
  noise: Float32Array;
  gradient: Float32Array;
  /** Context batches, built once per edit: the same embeddings every iteration. */
  contexts: Map<string, Float32Array>;
  /** Latent batch buffers by batch size, reused every iteration. */
  latentBuffers: Map<number, Float32Array>;
}

/** A reusable [batch, 4, h, w] buffer for the UNet's latent batch (docs/algorithm.md §10). */
function latentBuffer(s: LoopState, batch: number): Float32Array {
  let buffer = s.latentBuffers.get(batch);
  if (!buffer) s.latentBuffers.set(batch, (buffer = new Float32Array(batch * s.size)));
  return buffer;
}

/** Text embeddings → the UNet's contexts [batch, L, D], in batch order (docs/algorithm.md §3, §10.1). */
function stackEmbeddings(embeddings: readonly TextEmbedding[]): Float32Array {
  const item = embeddings[0].data.length;
  const out = new Float32Array(embeddings.length * item);
  embeddings.forEach((e, i) => out.set(e.data, i * item));
  return out;
}

/**
 * `aggregated`: one t and ε; one UNet run on [z_t^src·∅, z_t^tgt·∅, (z_t^src·c_src_k, z_t^tgt·c_tgt_k)…],
 * the null predictions shared by every term; Σ_k weight_k·M_k·g_k; one SGD step (docs/algorithm.md §10.1).
 */
async function aggregatedIteration(s: LoopState, iteration: number): Promise<void> {
  const { terms, size, schedule, options } = s;
  const t = s.random.integer(options.minTimestep, options.maxTimestep);
  const alpha = schedule.alpha(t);
  const sigma = schedule.sigma(t);
  s.random.fillNormal(s.noise);
  const batch = 2 + 2 * terms.length;
  let contexts = s.contexts.get('aggregated');
  if (!contexts) {
    contexts = stackEmbeddings([s.request.nullText, s.request.nullText, ...terms.flatMap((term) => [term.source, term.target])]);
    s.contexts.set('aggregated', contexts);
  }
  const latents = latentBuffer(s, batch);
  const noisySource = addNoise(latents.subarray(0, size), s.request.source.data, s.noise, alpha, sigma);
  const noisyTarget = addNoise(latents.subarray(size, 2 * size), s.target, s.noise, alpha, sigma);
  for (let k = 0; k < terms.length; k++) {
    latents.set(noisySource, (2 + 2 * k) * size);
    latents.set(noisyTarget, (3 + 2 * k) * size);
  }
  const predictions = await predictEpsilon(s, { data: latents, batch, height: s.grid.height, width: s.grid.width }, t, contexts);
  const item = (i: number) => predictions.subarray(i * size, (i + 1) * size);

  s.gradient.fill(0);
  terms.forEach((term, k) => {
    const p = { nullSource: item(0), nullTarget: item(1), condSource: item(2 + 2 * k), condTarget: item(3 + 2 * k) };
    accumulateDdsGradient(s.gradient, p, term.mask, termWeight(term, t, p), options.guidanceScale);
  });
  refuseNonFinite(s.gradient, iteration, t);
  sgdStep(s.target, s.gradient, options.learningRate, options.lossScale, options.stepCells);
}

/** `official`: the K subtasks then the full prompt, each with its own t and ε, a batch of 4 and its own SGD step (docs/algorithm.md §10.2). */
async function officialIteration(s: LoopState, iteration: number): Promise<void> {
  const { size, schedule, options } = s;
  for (const [k, term] of s.terms.entries()) {
    const t = s.random.integer(options.minTimestep, options.maxTimestep);
    const alpha = schedule.alpha(t);
    const sigma = schedule.sigma(t);
    s.random.fillNormal(s.noise);
    let contexts = s.contexts.get(`term${k}`);
    if (!contexts) {
      contexts = stackEmbeddings([s.request.nullText, s.request.nullText, term.source, term.target]);
      s.contexts.set(`term${k}`, contexts);
    }
    const latents = latentBuffer(s, 4);
    const noisySource = addNoise(latents.subarray(0, size), s.request.source.data, s.noise, alpha, sigma);
    const noisyTarget = addNoise(latents.subarray(size, 2 * size), s.target, s.noise, alpha, sigma);
    latents.set(noisySource, 2 * size);
    latents.set(noisyTarget, 3 * size);
    const predictions = await predictEpsilon(s, { data: latents, batch: 4, height: s.grid.height, width: s.grid.width }, t, contexts);
    const item = (i: number) => predictions.subarray(i * size, (i + 1) * size);
    const p = { nullSource: item(0), nullTarget: item(1), condSource: item(2), condTarget: item(3) };
    s.gradient.fill(0);
    accumulateDdsGradient(s.gradient, p, term.mask, termWeight(term, t, p), options.guidanceScale);
    refuseNonFinite(s.gradient, iteration, t);
    sgdStep(s.target, s.gradient, options.learningRate, options.lossScale, options.stepCells);
  }
}

/** Runs the model and returns ε for every item, converting v-predictions (docs/algorithm.md §4.3). */
async function predictEpsilon(
  s: LoopState,
  latents: { data: Float32Array; batch: number; height: number; width: number },
  t: number,
  contexts: Float32Array,
): Promise<Float32Array> {
  const raw = await s.predictor.predict(latents, t, contexts);
  if (s.schedule.predictionType === 'v_prediction') {
    epsilonFromVelocity(raw, latents.data, s.schedule.alpha(t), s.schedule.sigma(t));
  }
  return raw;
}

/**
 * NaN/Inf from the UNet (an fp16 overflow, a broken export) reaches the gradient wherever it
 * would touch the edit; checking the gradient costs one pass over one latent, not the batch
 * (docs/algorithm.md §10.5).
 */
function refuseNonFinite(gradient: Float32Array, iteration: number, t: number): void {
  let sum = 0;
  for (let i = 0; i < gradient.length; i++) sum += gradient[i];
  if (!Number.isFinite(sum)) {
    throw new GasError(
      'model_error',
      `The UNet returned NaN or infinite values (iteration ${iteration}, t=${t}). The model or its precision is broken; try a float32 export or another provider.`,
    );
  }
}

/** Refuses options outside what the engine defines, naming the value (docs/algorithm.md §5, §10). */
function validateOptions(o: DistillOptions, schedule: NoiseSchedule): void {
  const fail = (message: string) => {
    throw new GasError('bad_input', message);
  };
  if (!Number.isInteger(o.iterations) || o.iterations < 1 || o.iterations > MAX_STEPS) fail(`steps must be a whole number from 1 to ${MAX_STEPS} (got ${o.iterations}).`);
  if (!Number.isInteger(o.seed)) fail(`seed must be a whole number (got ${o.seed}).`);
  if (!SCHEDULES.includes(o.schedule)) fail(`schedule must be one of ${SCHEDULES.join(', ')} (got ${String(o.schedule)}).`);
  if (o.ablation !== undefined && !ABLATIONS.includes(o.ablation)) fail(`ablation must be one of ${ABLATIONS.join(', ')} (got ${String(o.ablation)}).`);
  if (!(o.minTimestep >= 0 && o.maxTimestep < schedule.numTrainTimesteps && o.minTimestep <= o.maxTimestep)) {
    fail(`timesteps must satisfy 0 ≤ min ≤ max < ${schedule.numTrainTimesteps} (got ${o.minTimestep}…${o.maxTimestep}).`);
  }
}
