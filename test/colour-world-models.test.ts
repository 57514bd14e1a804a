/** The colour world's models against their closed-form definitions (models/colour-world/README.md). */
import { describe, expect, it } from 'vitest';
import { loadDiffusionBundle } from '../src/models/bundle.js';
import { noiseSchedule } from '../src/distill/schedule.js';
import { COLOUR_VARIANCE, NULL_VARIANCE, PALETTE, latentOfRgb } from '../models/colour-world/world.js';
import { SCALAR_BUNDLE, STANDARD_BUNDLE } from './helpers/colour-world.js';

describe('colour-world bundle', async () => {
  const bundle = await loadDiffusionBundle(STANDARD_BUNDLE);
  const schedule = noiseSchedule(bundle.scheduler);

  it('encodes a flat colour into its latent and decodes it back exactly', async () => {
    const [r, g, b] = PALETTE.orange.map((v) => v / 127.5 - 1);
    const plane = 16 * 16;
    const image = new Float32Array(3 * plane);
    image.fill(r, 0, plane);
    image.fill(g, plane, 2 * plane);
    image.fill(b, 2 * plane);
    const latent = await bundle.vaeEncoder.encode({ data: image, height: 16, width: 16 });
    expect([latent.height, latent.width]).toEqual([2, 2]);
    const expected = latentOfRgb(PALETTE.orange);
    for (let c = 0; c < 4; c++) expect(latent.data[c * 4]).toBeCloseTo(expected[c], 5);
    const decoded = await bundle.vaeDecoder.decode(latent);
    expect(decoded.data[0]).toBeCloseTo(r, 5);
    expect(decoded.data[plane + 17]).toBeCloseTo(g, 5);
    expect(decoded.data[2 * plane + 255]).toBeCloseTo(b, 5);
  });

  it('predicts the posterior-mean ε of one narrow Gaussian for a one-colour prompt, and of N(0, 100·I) for the null prompt', async () => {
    const t = 400;
    const alpha = schedule.alpha(t);
    const sigma = schedule.sigma(t);
    const z = Float32Array.from([0.3, -0.2, 0.1, 0.05]); // one latent pixel
    const dog = await bundle.textEncoder.encode('a dog');
    const empty = await bundle.textEncoder.encode('');
    const contexts = new Float32Array(2 * dog.data.length);
    contexts.set(dog.data, 0);
    contexts.set(empty.data, dog.data.length);
    const latents = new Float32Array(8);
    latents.set(z, 0);
    latents.set(z, 4);
    const eps = await bundle.unet.predict({ data: latents, batch: 2, height: 1, width: 1 }, t, contexts);
    const mu = latentOfRgb(PALETTE.brown);
    const v = alpha ** 2 * COLOUR_VARIANCE + sigma ** 2;
    for (let c = 0; c < 4; c++) {
      expect(eps[c]).toBeCloseTo(((z[c] - alpha * mu[c]) * sigma) / v, 4);
      expect(eps[4 + c]).toBeCloseTo((z[c] * sigma) / (alpha ** 2 * NULL_VARIANCE + sigma ** 2), 5);
    }
  });

  it('predicts v = α·ε − σ·x̂₀ in the v-prediction variant', async () => {
    const vBundle = await loadDiffusionBundle(SCALAR_BUNDLE);
    expect(vBundle.scheduler.predictionType).toBe('v_prediction');
    const t = 700;
    const alpha = schedule.alpha(t);
    const sigma = schedule.sigma(t);
    const z = Float32Array.from([0.5, 0.1, -0.4, 0.2]);
    const eps = await bundle.unet.predict({ data: z, batch: 1, height: 1, width: 1 }, t, (await bundle.textEncoder.encode('a tiger')).data);
    const vel = await vBundle.unet.predict({ data: z, batch: 1, height: 1, width: 1 }, t, (await vBundle.textEncoder.encode('a tiger')).data);
    for (let c = 0; c < 4; c++) {
      const x0 = (z[c] - sigma * eps[c]) / alpha;
      expect(vel[c]).toBeCloseTo(alpha * eps[c] - sigma * x0, 4);
    }
  });
});
