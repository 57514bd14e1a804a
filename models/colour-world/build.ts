/**
 * Builds the colour-world diffusion bundle: the diffusers ONNX layout of Stable Diffusion 1.x,
 * with models whose behaviour is known in closed form (README.md beside this file).
 * Deterministic: the same variant always gives the same bytes.
 */
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { noiseSchedule, SD1_SCHEDULER, type PredictionType } from '../../src/distill/schedule.js';
import { startDiffusersBundle, writeJson } from '../diffusers-layout.js';
import { OnnxGraph, type Dim } from './onnx-graph.js';
import { writeColourTokenizer } from './tokenizer-files.js';
import {
  COLOUR_NAMES, COLOUR_VARIANCE, COLOUR_WORDS, NULL_VARIANCE, PALETTE, RGB_TO_LATENT,
  SCALING_FACTOR, VAE_FACTOR, latentOfRgb, latentToRgbMatrix,
} from './world.js';

/** How the bundle's models present themselves: the choices real exporters differ on. */
export interface ColourWorldVariant {
  timestep: 'int64-batch' | 'float-batch' | 'float-scalar';
  inputIds: 'int32' | 'int64';
  encoderOutput: 'latent_sample' | 'latent_parameters';
  tokenizer: 'vocab-merges' | 'tokenizer-json';
  predictionType: PredictionType;
  /** Type of every float input and output (the arithmetic inside is float32). */
  floatType: 'float32' | 'float16';
  /** A fixed UNet batch size, as some exports have, or a symbolic one. */
  unetBatch: number | 'dynamic';
  /** Write the larger weights to `model.onnx.data`, as exports of models over 2 GB do. */
  externalWeights: boolean;
}

export const COLOUR_WORLD_VARIANTS = {
  /** int64 [B] timestep, int32 input_ids, latent_sample, vocab.json + merges.txt, ε-prediction. */
  standard: {
    timestep: 'int64-batch', inputIds: 'int32', encoderOutput: 'latent_sample', tokenizer: 'vocab-merges',
    predictionType: 'epsilon', floatType: 'float32', unetBatch: 'dynamic', externalWeights: false,
  },
  /** float scalar timestep, int64 input_ids, latent_parameters (mean ‖ logvar), tokenizer.json, v-prediction, external weights. */
  scalar: {
    timestep: 'float-scalar', inputIds: 'int64', encoderOutput: 'latent_parameters', tokenizer: 'tokenizer-json',
    predictionType: 'v_prediction', floatType: 'float32', unetBatch: 'dynamic', externalWeights: true,
  },
} as const satisfies Record<string, ColourWorldVariant>;

export const CONTEXT_LENGTH = 77;
const PALETTE_SIZE = COLOUR_NAMES.length;
/** Log-weight given to a colour the prompt does not name: effectively excluded from the mixture. */
const ABSENT_LOG_WEIGHT = -1e4;

/** Bump when the builder's output changes, so `gas demo` rebuilds a bundle made by an older builder. */
export const COLOUR_WORLD_VERSION = 1;

/** True when `dir` holds a colour-world bundle of this builder version and variant. */
export function isCurrentColourWorld(dir: string, variant: ColourWorldVariant): boolean {
  try {
    const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as { _colour_world?: { version?: number; variant?: unknown } };
    return index._colour_world?.version === COLOUR_WORLD_VERSION && JSON.stringify(index._colour_world.variant) === JSON.stringify(variant);
  } catch {
    return false;
  }
}

/** Writes the bundle next to `dir`, then swaps it in, so a process reading the old bundle never sees half a new one. */
export function buildColourWorld(finalDir: string, variant: ColourWorldVariant = COLOUR_WORLD_VARIANTS.standard): void {
  const dir = startDiffusersBundle(
    finalDir,
    { _colour_world: { description: 'ground-a-score test bundle; see models/colour-world/README.md', version: COLOUR_WORLD_VERSION, variant } },
    variant.predictionType,
  );
  const json = (path: string, value: unknown) => writeJson(dir, path, value);
  const vaeConfig = { scaling_factor: SCALING_FACTOR, latent_channels: 4, in_channels: 3, out_channels: 3 };
  json('vae_encoder/config.json', vaeConfig);
  json('vae_decoder/config.json', vaeConfig);
  json('text_encoder/config.json', { hidden_size: PALETTE_SIZE, max_position_embeddings: CONTEXT_LENGTH });
  // The cheap preview's latent → RGB map for this world (the VAE decoder without upsampling).
  const toRgb = latentToRgbMatrix();
  json('latent_preview.json', { latent_rgb_factors: [0, 1, 2, 3].map((c) => toRgb.map((row) => row[c])) });

  const bpe = writeColourTokenizer(dir, CONTEXT_LENGTH, variant.tokenizer === 'tokenizer-json' ? 'tokenizer-json' : 'vocab-merges');

  const save = (graph: OnnxGraph, sub: string) =>
    graph.save(join(dir, sub, 'model.onnx'), { externalAbove: variant.externalWeights ? 512 : Infinity });
  save(textEncoder(variant, bpe.vocab), 'text_encoder');
  save(unet(variant), 'unet');
  save(vaeEncoder(variant), 'vae_encoder');
  save(vaeDecoder(variant), 'vae_decoder');
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(dir, finalDir);
}

/** Reads a float input in the variant's float type and returns a float32 value. */
function floatIn(g: OnnxGraph, variant: ColourWorldVariant, name: string, shape: Dim[]): string {
  const value = g.input(name, variant.floatType, shape);
  return variant.floatType === 'float32' ? value : g.op('Cast', [value], { to: FLOAT32 });
}

function floatOut(g: OnnxGraph, variant: ColourWorldVariant, value: string, name: string, shape: Dim[]): void {
  const cast = variant.floatType === 'float32' ? value : g.op('Cast', [value], { to: FLOAT16 });
  g.output(cast, name, variant.floatType, shape);
}

const FLOAT32 = 1;
const FLOAT16 = 10;
const INT64 = 7;

/** input_ids [B, 77] → last_hidden_state [B, 77, P]: each token's one-hot colour (zeros for other words). */
function textEncoder(variant: ColourWorldVariant, vocab: Record<string, number>): OnnxGraph {
  const g = new OnnxGraph('colour_world_text_encoder');
  const ids = g.input('input_ids', variant.inputIds, ['batch', CONTEXT_LENGTH]);
  const ids64 = variant.inputIds === 'int64' ? ids : g.op('Cast', [ids], { to: INT64 });
  const vocabSize = Object.keys(vocab).length;
  const table = new Float32Array(vocabSize * PALETTE_SIZE);
  for (const [word, colour] of Object.entries(COLOUR_WORDS)) {
    table[vocab[`${word}</w>`] * PALETTE_SIZE + COLOUR_NAMES.indexOf(colour)] = 1;
  }
  const hidden = g.op('Gather', [g.constFloat(table, [vocabSize, PALETTE_SIZE], 'token_colour'), ids64], { axis: 0 });
  floatOut(g, variant, hidden, 'last_hidden_state', ['batch', CONTEXT_LENGTH, PALETTE_SIZE]);
  floatOut(g, variant, g.op('ReduceMax', [hidden], { axes: [1], keepdims: 0 }), 'pooler_output', ['batch', PALETTE_SIZE]);
  return g;
}

/**
 * The exact ε-denoiser (posterior mean) of a per-latent-pixel prior: for a prompt that names
 * colours, an equal mixture of N(μ_colour, s²I); for a prompt that names none, N(0, S²I).
 * With z_t = α x₀ + σ ε: component j's evidence is N(z_t; α μ_j, (α²s² + σ²)I), and
 * E[x₀ | z_t, j] = μ_j + (α s² / (α²s² + σ²)) (z_t − α μ_j); ε̂ = (z_t − α E[x₀|z_t]) / σ.
 */
function unet(variant: ColourWorldVariant): OnnxGraph {
  const g = new OnnxGraph('colour_world_unet');
  const batch: Dim = variant.unetBatch === 'dynamic' ? 'batch' : variant.unetBatch;
  const latentShape: Dim[] = [batch, 4, 'height', 'width'];
  const z = floatIn(g, variant, 'sample', latentShape); // [B, 4, h, w]

  let t: string;
  if (variant.timestep === 'int64-batch') t = g.input('timestep', 'int64', [batch]);
  else t = g.op('Cast', [g.input('timestep', variant.floatType, variant.timestep === 'float-scalar' ? [] : [batch])], { to: INT64 });
  const context = floatIn(g, variant, 'encoder_hidden_states', [batch, CONTEXT_LENGTH, PALETTE_SIZE]);

  const schedule = noiseSchedule(SD1_SCHEDULER);
  const alphaBarTable = g.constFloat(schedule.alphasCumprod, [schedule.numTrainTimesteps], 'alphas_cumprod');
  const alphaBar = g.op('Reshape', [g.op('Gather', [alphaBarTable, t], { axis: 0 }), g.constInt64([-1, 1, 1, 1])]); // [B|1, 1, 1, 1]
  const one = g.constFloat([1], []);
  const alpha = g.op('Sqrt', [alphaBar]);
  const sigma2 = g.op('Sub', [one, alphaBar]);
  const sigma = g.op('Sqrt', [sigma2]);
  const alpha2 = g.op('Mul', [alpha, alpha]);

  // Which colours the prompt names: [B, P]; and whether it names any: [B, 1, 1, 1].
  const present = g.op('ReduceMax', [context], { axes: [1], keepdims: 0 });
  const hasColour = g.op('Reshape', [g.op('ReduceMax', [present], { axes: [1], keepdims: 1 }), g.constInt64([-1, 1, 1, 1])]);
  const logWeight = g.op('Unsqueeze', [
    g.op('Mul', [g.op('Sub', [present, one]), g.constFloat([-ABSENT_LOG_WEIGHT], [])]),
    g.constInt64([2, 3]),
  ]); // [B, P, 1, 1]

  const means = COLOUR_NAMES.map((name) => latentOfRgb(PALETTE[name])); // [P][4]
  const meansKernel = g.constFloat(means.flat(), [PALETTE_SIZE, 4, 1, 1], 'colour_means');
  const meansKernelT = g.constFloat([0, 1, 2, 3].flatMap((c) => means.map((m) => m[c])), [4, PALETTE_SIZE, 1, 1], 'colour_means_t');
  const meanNorms = g.constFloat(means.map((m) => m.reduce((s, v) => s + v * v, 0)), [1, PALETTE_SIZE, 1, 1], 'colour_norms');

  // |z − α μ_j|² = |z|² − 2α z·μ_j + α²|μ_j|²: [B, P, h, w]
  const zNorm = g.op('ReduceSum', [g.op('Mul', [z, z]), g.constInt64([1])], { keepdims: 1 });
  const zDotMu = g.op('Conv', [z, meansKernel]);
  const distance2 = g.op('Add', [
    g.op('Sub', [zNorm, g.op('Mul', [g.op('Mul', [alpha, g.constFloat([2], [])]), zDotMu])]),
    g.op('Mul', [alpha2, meanNorms]),
  ]);
  const s2 = g.constFloat([COLOUR_VARIANCE], []);
  const evidenceVar = g.op('Add', [g.op('Mul', [alpha2, s2]), sigma2]); // α²s² + σ²
  const logits = g.op('Sub', [
    logWeight,
    g.op('Div', [distance2, g.op('Mul', [evidenceVar, g.constFloat([2], [])])]),
  ]);
  const responsibility = g.op('Softmax', [logits], { axis: 1 });
  const meanOfMeans = g.op('Conv', [responsibility, meansKernelT]); // Σ_j r_j μ_j: [B, 4, h, w]
  const shrink = g.op('Div', [g.op('Mul', [alpha, s2]), evidenceVar]); // α s² / (α²s² + σ²)
  const x0Mixture = g.op('Add', [
    g.op('Mul', [g.op('Sub', [one, g.op('Mul', [alpha, shrink])]), meanOfMeans]),
    g.op('Mul', [shrink, z]),
  ]);
  const epsMixture = g.op('Div', [g.op('Sub', [z, g.op('Mul', [alpha, x0Mixture])]), sigma]);
  // Broad null prior N(0, S²I): E[x₀|z] = α S² z / (α²S² + σ²), so ε̂ = σ z / (α²S² + σ²).
  const nullEvidenceVar = g.op('Add', [g.op('Mul', [alpha2, g.constFloat([NULL_VARIANCE], [])]), sigma2]);
  const epsNull = g.op('Div', [g.op('Mul', [sigma, z]), nullEvidenceVar]);
  const eps = g.op('Add', [
    g.op('Mul', [hasColour, epsMixture]),
    g.op('Mul', [g.op('Sub', [one, hasColour]), epsNull]),
  ]);

  let prediction = eps;
  if (variant.predictionType === 'v_prediction') {
    // v = α ε − σ x₀ with x₀ = (z − σ ε) / α.
    const x0 = g.op('Div', [g.op('Sub', [z, g.op('Mul', [sigma, eps])]), alpha]);
    prediction = g.op('Sub', [g.op('Mul', [alpha, eps]), g.op('Mul', [sigma, x0])]);
  }
  floatOut(g, variant, prediction, 'out_sample', latentShape);
  return g;
}

/** sample [B, 3, H, W] in [-1, 1] → 8× average pool → linear map to 4 channels (÷ scaling factor). */
function vaeEncoder(variant: ColourWorldVariant): OnnxGraph {
  const g = new OnnxGraph('colour_world_vae_encoder');
  const image = floatIn(g, variant, 'sample', ['batch', 3, 'height', 'width']);
  const pooled = g.op('AveragePool', [image], { kernel_shape: [VAE_FACTOR, VAE_FACTOR], strides: [VAE_FACTOR, VAE_FACTOR] });
  const kernel = g.constFloat(RGB_TO_LATENT.flatMap((row) => row.map((v) => v / SCALING_FACTOR)), [4, 3, 1, 1], 'rgb_to_latent');
  const mean = g.op('Conv', [pooled, kernel]);
  const latentShape: Dim[] = ['batch', 4, 'latent_height', 'latent_width'];
  if (variant.encoderOutput === 'latent_sample') {
    floatOut(g, variant, mean, 'latent_sample', latentShape);
  } else {
    // A deterministic encoder: log-variance far below any sampling noise.
    const logvar = g.op('Add', [g.op('Mul', [mean, g.constFloat([0], [])]), g.constFloat([-30], [])]);
    floatOut(g, variant, g.op('Concat', [mean, logvar], { axis: 1 }), 'latent_parameters', ['batch', 8, 'latent_height', 'latent_width']);
  }
  return g;
}

/** latent_sample [B, 4, h, w] (÷ scaling factor) → least-squares inverse map → 8× nearest upsample. */
function vaeDecoder(variant: ColourWorldVariant): OnnxGraph {
  const g = new OnnxGraph('colour_world_vae_decoder');
  const latent = floatIn(g, variant, 'latent_sample', ['batch', 4, 'latent_height', 'latent_width']);
  const toRgb = latentToRgbMatrix();
  const kernel = g.constFloat(toRgb.flatMap((row) => row.map((v) => v * SCALING_FACTOR)), [3, 4, 1, 1], 'latent_to_rgb');
  const rgb = g.op('Conv', [latent, kernel]);
  const scales = g.constFloat([1, 1, VAE_FACTOR, VAE_FACTOR], [4]);
  const image = g.op('Resize', [rgb, '', scales], { mode: 'nearest' });
  floatOut(g, variant, image, 'sample', ['batch', 3, 'height', 'width']);
  return g;
}
