/**
 * The DDPM noise schedule (docs/algorithm.md §4), from a diffusers
 * `scheduler_config.json`.
 */
import { z } from 'zod';
import { GasError } from '../errors.js';

export type PredictionType = 'epsilon' | 'v_prediction';

export interface SchedulerConfig {
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  numTrainTimesteps: number;
  predictionType: PredictionType;
}

export const SD1_SCHEDULER: SchedulerConfig = {
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  numTrainTimesteps: 1000,
  predictionType: 'epsilon',
};

export interface NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly predictionType: PredictionType;
  /** ᾱ_t for t = 0 … T−1. */
  readonly alphasCumprod: Float64Array;
  /** α_t = √ᾱ_t. */
  alpha(t: number): number;
  /** σ_t = √(1 − ᾱ_t). */
  sigma(t: number): number;
}

const schedulerJsonSchema = z.object({
  beta_start: z.number().positive().lt(1).default(SD1_SCHEDULER.betaStart),
  beta_end: z.number().positive().lt(1).default(SD1_SCHEDULER.betaEnd),
  beta_schedule: z.enum(['scaled_linear', 'linear']).default(SD1_SCHEDULER.betaSchedule),
  num_train_timesteps: z.number().int().min(2).default(SD1_SCHEDULER.numTrainTimesteps),
  prediction_type: z.enum(['epsilon', 'v_prediction']).default(SD1_SCHEDULER.predictionType),
});

/** Reads the fields the engine needs from a diffusers scheduler config, with SD 1.x defaults (docs/algorithm.md §4.1). */
export function schedulerConfigFromJson(json: Record<string, unknown>, file = 'scheduler_config.json'): SchedulerConfig {
  const parsed = schedulerJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue.path[0]);
    throw new GasError('bundle_invalid', `${file}: ${field} ${JSON.stringify(json[field])} is not supported (${issue.message}).`);
  }
  const c = parsed.data;
  return {
    betaStart: c.beta_start,
    betaEnd: c.beta_end,
    betaSchedule: c.beta_schedule,
    numTrainTimesteps: c.num_train_timesteps,
    predictionType: c.prediction_type,
  };
}

/** β_i = linspace(√β_start, √β_end, T)² (scaled_linear) or linspace(β_start, β_end, T); ᾱ_t = Π_{i≤t}(1−β_i) (docs/algorithm.md §4.1). */
export function noiseSchedule(config: SchedulerConfig): NoiseSchedule {
  const T = config.numTrainTimesteps;
  const alphasCumprod = new Float64Array(T);
  const scaled = config.betaSchedule === 'scaled_linear';
  const lo = scaled ? Math.sqrt(config.betaStart) : config.betaStart;
  const hi = scaled ? Math.sqrt(config.betaEnd) : config.betaEnd;
  let product = 1;
  for (let i = 0; i < T; i++) {
    const b = lo + ((hi - lo) * i) / (T - 1);
    product *= 1 - (scaled ? b * b : b);
    alphasCumprod[i] = product;
  }
  return {
    numTrainTimesteps: T,
    predictionType: config.predictionType,
    alphasCumprod,
    alpha: (t) => Math.sqrt(alphasCumprod[t]),
    sigma: (t) => Math.sqrt(1 - alphasCumprod[t]),
  };
}
