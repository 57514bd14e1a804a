/**
 * The terms of one Ground-A-Score step (docs/algorithm.md §4–§9). Pure functions over flat
 * float arrays: a latent is [4·h·w] (channel-major), a mask is [h·w] and broadcasts over the channels.
 */

/** Classifier-free guidance scale of the reference (docs/algorithm.md §5). */
export const GUIDANCE_SCALE = 7.5;
/** γ's coefficient on the masked mean |ε(∅) − ε(c)| (docs/algorithm.md §6). */
export const NULL_PENALTY_COEFFICIENT = 5;
/** γ applies only to regions smaller than this fraction of the image (the reference's `reweight`; docs/algorithm.md §6). */
export const NULL_PENALTY_MAX_AREA = 0.15;

/** v-prediction → ε: ε = α_t·v + σ_t·z_t (docs/algorithm.md §4.3). In place on `prediction`. */
export function epsilonFromVelocity(prediction: Float32Array, noisy: Float32Array, alpha: number, sigma: number): Float32Array {
  for (let i = 0; i < prediction.length; i++) prediction[i] = alpha * prediction[i] + sigma * noisy[i];
  return prediction;
}

/** z_t = α_t·z + σ_t·ε, written into `out` (docs/algorithm.md §4.2, §5). */
export function addNoise(out: Float32Array, latent: Float32Array, noise: Float32Array, alpha: number, sigma: number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = alpha * latent[i] + sigma * noise[i];
  return out;
}

/**
 * γ = clamp(mean_over_all_latent_elements(|ε(z_t^tgt, ∅) − ε(z_t^tgt, c_tgt)| · 5 · M), 0, 1),
 * on raw (unguided) predictions (docs/algorithm.md §6).
 */
export function nullTextPenalty(nullTarget: Float32Array, condTarget: Float32Array, mask: Float32Array): number {
  const pixels = mask.length;
  let sum = 0;
  for (let base = 0; base < nullTarget.length; base += pixels) {
    for (let p = 0; p < pixels; p++) {
      const m = mask[p];
      if (m !== 0) sum += Math.abs(nullTarget[base + p] - condTarget[base + p]) * m;
    }
  }
  return Math.min(1, Math.max(0, (sum * NULL_PENALTY_COEFFICIENT) / nullTarget.length));
}

/** β(t) = [0.5, 0.4, 0.3, 0.2, 0.1][⌊t/200⌋]: the full-prompt term's weight (docs/algorithm.md §8). */
export function fullPromptWeight(t: number): number {
  const weights = [0.5, 0.4, 0.3, 0.2, 0.1];
  return weights[Math.min(weights.length - 1, Math.floor(t / 200))];
}

/** The four predictions one DDS term needs, each [4·h·w] (docs/algorithm.md §5). */
export interface TermPredictions {
  nullSource: Float32Array;
  nullTarget: Float32Array;
  condSource: Float32Array;
  condTarget: Float32Array;
}

/**
 * out += weight · M · g with g = ε̂(z_t^tgt, c_tgt) − ε̂(z_t^src, c_src) and
 * ε̂(z, c) = ε(z, ∅) + w·(ε(z, c) − ε(z, ∅)) (docs/algorithm.md §5).
 */
export function accumulateDdsGradient(
  out: Float32Array,
  p: TermPredictions,
  mask: Float32Array,
  weight: number,
  guidance = GUIDANCE_SCALE,
): void {
  const pixels = mask.length;
  const { nullSource, nullTarget, condSource, condTarget } = p;
  for (let base = 0; base < out.length; base += pixels) {
    for (let px = 0; px < pixels; px++) {
      const m = mask[px];
      if (m === 0) continue;
      const i = base + px;
      const target = nullTarget[i] + guidance * (condTarget[i] - nullTarget[i]);
      const source = nullSource[i] + guidance * (condSource[i] - nullSource[i]);
      out[i] += weight * m * (target - source);
    }
  }
}

/**
 * The SGD step: loss = lossScale · Σ(z_tgt · g · M) / (h·w), so
 * z_tgt ← z_tgt − (learningRate · lossScale / (h·w)) · (Σ weighted M·g) (docs/algorithm.md §9).
 */
export function sgdStep(latent: Float32Array, gradient: Float32Array, learningRate: number, lossScale: number, pixels: number): void {
  const step = (learningRate * lossScale) / pixels;
  for (let i = 0; i < latent.length; i++) latent[i] -= step * gradient[i];
}
