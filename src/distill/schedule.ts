/**
 * The DDPM noise schedule (ALGORITHM.md, "Noise schedule"), from a diffusers
 * `scheduler_config.json`.
 */
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

/** Reads the fields the engine needs from a diffusers scheduler config, with SD 1.x defaults. */
export function schedulerConfigFromJson(json: Record<string, unknown>): SchedulerConfig {
  const pick = <T>(key: string, fallback: T): T => (json[key] === undefined ? fallback : (json[key] as T));
  const config: SchedulerConfig = {
    betaStart: pick('beta_start', SD1_SCHEDULER.betaStart),
    betaEnd: pick('beta_end', SD1_SCHEDULER.betaEnd),
    betaSchedule: pick('beta_schedule', SD1_SCHEDULER.betaSchedule),
    numTrainTimesteps: pick('num_train_timesteps', SD1_SCHEDULER.numTrainTimesteps),
    predictionType: pick('prediction_type', SD1_SCHEDULER.predictionType),
  };
  if (config.betaSchedule !== 'scaled_linear' && config.betaSchedule !== 'linear') {
    throw new GasError('bundle_invalid', `beta_schedule "${String(config.betaSchedule)}" is not supported (use scaled_linear or linear).`);
  }
  if (config.predictionType !== 'epsilon' && config.predictionType !== 'v_prediction') {
    throw new GasError('bundle_invalid', `prediction_type "${String(config.predictionType)}" is not supported (use epsilon or v_prediction).`);
  }
  return config;
}

/** β_i = linspace(√β_start, √β_end, T)² (scaled_linear) or linspace(β_start, β_end, T); ᾱ_t = Π_{i≤t}(1−β_i). */
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
