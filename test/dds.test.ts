import { describe, expect, it } from 'vitest';
import { accumulateDdsGradient, epsilonFromVelocity, fullPromptWeight, nullTextPenalty, sgdStep } from '../src/distill/dds.js';

const f = (values: number[]) => Float32Array.from(values);

describe('DDS terms', () => {
  it('weights the full prompt by β(t) = [0.5, 0.4, 0.3, 0.2, 0.1][⌊t/200⌋]', () => {
    expect([0, 199, 200, 399, 400, 600, 799, 800, 948, 999].map(fullPromptWeight)).toEqual([0.5, 0.5, 0.4, 0.4, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1]);
  });

  it('computes γ as the clamped mean of 5·|ε(∅) − ε(c)|·M over every latent element', () => {
    // 2 channels × 2 pixels; mask covers pixel 0 only.
    const nullTarget = f([0.1, 0.5, -0.2, 0.0]);
    const condTarget = f([0.0, 0.0, 0.0, 9.0]);
    const mask = f([1, 0]);
    // masked |diff|: 0.1 (c0,p0) + 0.2 (c1,p0) = 0.3; × 5 / 4 elements = 0.375
    expect(nullTextPenalty(nullTarget, condTarget, mask)).toBeCloseTo(0.375, 6);
    expect(nullTextPenalty(f([0, 0, 0, 0]), f([1, 1, 1, 1]), f([1, 1]))).toBe(1);
    expect(nullTextPenalty(f([1, 1, 1, 1]), f([1, 1, 1, 1]), f([1, 1]))).toBe(0);
  });

  it('accumulates weight·M·(ε̂_tgt − ε̂_src) with classifier-free guidance', () => {
    const out = f([1, 1]);
    const p = { nullSource: f([0, 1]), nullTarget: f([1, 1]), condSource: f([2, 1]), condTarget: f([1, 3]) };
    accumulateDdsGradient(out, p, f([0.5, 1]), 2, 7.5);
    // pixel 0: tgt = 1 + 7.5·0 = 1, src = 0 + 7.5·2 = 15, g = −14 → 1 + 2·0.5·−14 = −13
    // pixel 1: tgt = 1 + 7.5·2 = 16, src = 1 + 0 = 1, g = 15 → 1 + 2·1·15 = 31
    expect(Array.from(out)).toEqual([-13, 31]);
  });

  it('steps by lr·2000/(h·w) along the gradient', () => {
    const latent = f([1, 2]);
    sgdStep(latent, f([4096, -4096]), 0.1, 2000, 4096);
    expect(Array.from(latent)).toEqual([1 - 200, 2 + 200]);
  });

  it('converts v-predictions to ε = α·v + σ·z_t', () => {
    expect(Array.from(epsilonFromVelocity(f([1, -1]), f([0.5, 2]), 0.6, 0.8))).toEqual([Math.fround(0.6 + 0.4), Math.fround(-0.6 + 1.6)]);
  });
});
