import { describe, expect, it } from 'vitest';
import { noiseSchedule, schedulerConfigFromJson, SD1_SCHEDULER } from '../src/distill/schedule.js';
import { isGasError } from '../src/errors.js';

describe('noise schedule', () => {
  // ᾱ_t computed independently with numpy (float64): cumprod(1 − linspace(√0.00085, √0.012, 1000)²).
  it('matches independently computed ᾱ at t = 0, 499 and 999 for SD 1.x', () => {
    const schedule = noiseSchedule(SD1_SCHEDULER);
    expect(schedule.alphasCumprod[0]).toBeCloseTo(0.99915, 12);
    expect(schedule.alphasCumprod[499]).toBeCloseTo(0.27766965045646763, 12);
    expect(schedule.alphasCumprod[999]).toBeCloseTo(0.004660098513077238, 12);
  });

  it('gives α_t² + σ_t² = 1', () => {
    const schedule = noiseSchedule(SD1_SCHEDULER);
    for (const t of [0, 50, 500, 948, 999]) expect(schedule.alpha(t) ** 2 + schedule.sigma(t) ** 2).toBeCloseTo(1, 12);
  });

  it('reads a diffusers scheduler_config.json, with SD 1.x defaults for missing fields', () => {
    const config = schedulerConfigFromJson({ beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, prediction_type: 'v_prediction' });
    expect(config).toEqual({ betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear', numTrainTimesteps: 1000, predictionType: 'v_prediction' });
    expect(noiseSchedule(config).alphasCumprod[0]).toBeCloseTo(0.9999, 12);
  });

  it('refuses a prediction type it cannot convert', () => {
    let error: unknown;
    try {
      schedulerConfigFromJson({ prediction_type: 'sample' });
    } catch (e) {
      error = e;
    }
    expect(isGasError(error, 'bundle_invalid')).toBe(true);
    expect((error as Error).message).toMatch(/^scheduler_config.json: prediction_type "sample" is not supported/);
  });
});
