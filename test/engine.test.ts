/** The engine against hand computations on the colour world (docs/algorithm.md §5–§12, step by step). */
import { describe, expect, it } from 'vitest';
import { groundAScore, REFERENCE_OPTIONS, type DistillOptions, type DistillRequest } from '../src/distill/engine.js';
import { seededRandom } from '../src/distill/random.js';
import { noiseSchedule } from '../src/distill/schedule.js';
import type { NoisePredictor, TextEmbedding } from '../src/distill/types.js';
import { loadDiffusionBundle, type DiffusionBundle } from '../src/models/bundle.js';
import { isGasError } from '../src/errors.js';
import { PALETTE, latentOfRgb } from '../models/colour-world/world.js';
import { buildVariant, STANDARD_BUNDLE } from './helpers/colour-world.js';

// The reference's latent size (a 512×512 image), so the SGD step is the reference's 0.1·2000/4096.
const H = 64;
const W = 64;
const P = H * W;
// Dog: a small box (area 0.0625 < 0.15, so γ applies); grass: the bottom half (γ = 1).
const DOG_BOX = [0.25, 0.5, 0.5, 0.75] as const; // latent x 16…32, y 32…48
const GRASS_BOX = [0, 0.5, 1, 1] as const; // latent y 32…64
const inDog = (p: number) => { const x = p % W; const y = Math.floor(p / W); return x >= 16 && x < 32 && y >= 32 && y < 48; };
const inGrass = (p: number) => Math.floor(p / W) >= 32;
// Overlap rule by hand: grass is larger, so it yields (0.3) where the dog is.
const dogMask = (p: number) => (inDog(p) ? 1 : 0);
const grassMask = (p: number) => (inDog(p) ? 0.3 : inGrass(p) ? 1 : 0);
const fullMask = (p: number) => (inGrass(p) ? 1 : 0);

function sceneLatent(): Float32Array {
  const z = new Float32Array(4 * P);
  for (let p = 0; p < P; p++) {
    const colour = latentOfRgb(inDog(p) ? PALETTE.brown : inGrass(p) ? PALETTE.green : PALETTE.blue);
    for (let c = 0; c < 4; c++) z[c * P + p] = colour[c];
  }
  return z;
}

async function sceneRequest(bundle: DiffusionBundle): Promise<DistillRequest> {
  const e = (prompt: string) => bundle.textEncoder.encode(prompt);
  return {
    source: { data: sceneLatent(), height: H, width: W },
    nullText: await e(''),
    subtasks: [
      { source: await e('a dog'), target: await e('a tiger'), boxes: [DOG_BOX], intensity: 1 },
      { source: await e('the grass'), target: await e('the snow'), boxes: [GRASS_BOX], intensity: 1 },
    ],
    full: { source: await e('a dog on the grass'), target: await e('a tiger on the snow') },
  };
}

const options = (overrides: Partial<DistillOptions>): DistillOptions => ({ ...REFERENCE_OPTIONS, schedule: 'aggregated', iterations: 2, seed: 11, ...overrides });

/** ε for one latent and one prompt, one UNet call each: no batching to get wrong. */
async function eps(bundle: DiffusionBundle, z: Float32Array, t: number, c: TextEmbedding): Promise<Float32Array> {
  return bundle.unet.predict({ data: z, batch: 1, height: H, width: W }, t, c.data);
}

describe('Ground-A-Score engine', async () => {
  const bundle = await loadDiffusionBundle(STANDARD_BUNDLE);
  const schedule = noiseSchedule(bundle.scheduler);
  const request = await sceneRequest(bundle);
  const step = (0.1 * 2000) / P;
  const beta = (t: number) => [0.5, 0.4, 0.3, 0.2, 0.1][Math.floor(t / 200)];

  it('matches a hand computation of two aggregated iterations', async () => {
    const random = seededRandom(11);
    const z = request.source.data.slice();
    for (let iteration = 0; iteration < 2; iteration++) {
      const t = random.integer(50, 948);
      const noise = random.fillNormal(new Float32Array(4 * P));
      const [a, s] = [schedule.alpha(t), schedule.sigma(t)];
      const zs = request.source.data.map((v, i) => a * v + s * noise[i]);
      const zt = z.map((v, i) => a * v + s * noise[i]);
      const nS = await eps(bundle, zs, t, request.nullText);
      const nT = await eps(bundle, zt, t, request.nullText);
      const terms = [
        { src: request.subtasks[0].source, tgt: request.subtasks[0].target, mask: dogMask, penalised: true, weight: 1 },
        { src: request.subtasks[1].source, tgt: request.subtasks[1].target, mask: grassMask, penalised: false, weight: 1 },
        { src: request.full.source, tgt: request.full.target, mask: fullMask, penalised: false, weight: beta(t) },
      ];
      const update = new Float64Array(4 * P);
      for (const term of terms) {
        const cS = await eps(bundle, zs, t, term.src);
        const cT = await eps(bundle, zt, t, term.tgt);
        let weight = term.weight;
        if (term.penalised) {
          let sum = 0;
          for (let i = 0; i < 4 * P; i++) sum += Math.abs(nT[i] - cT[i]) * 5 * term.mask(i % P);
          weight *= Math.min(1, Math.max(0, sum / (4 * P)));
        }
        for (let i = 0; i < 4 * P; i++) {
          const g = nT[i] + 7.5 * (cT[i] - nT[i]) - (nS[i] + 7.5 * (cS[i] - nS[i]));
          update[i] += weight * term.mask(i % P) * g;
        }
      }
      for (let i = 0; i < 4 * P; i++) z[i] -= step * update[i];
    }

    const before = { ...bundle.unet.stats };
    const result = await groundAScore(bundle.unet, schedule, request, options({ schedule: 'aggregated' }));
    expect(bundle.unet.stats.runs - before.runs).toBe(2);
    expect(bundle.unet.stats.images - before.images).toBe(2 * (2 + 2 * 3)); // 2K + 4 images, K = 2
    result.data.forEach((v, i) => expect(v).toBeCloseTo(z[i], 4));
    // Sky (no mask) did not move at all.
    for (let p = 0; p < P; p++) if (!inGrass(p)) for (let c = 0; c < 4; c++) expect(result.data[c * P + p]).toBe(request.source.data[c * P + p]);
  });

  it('matches a hand computation of one official iteration: each term its own t, ε and step', async () => {
    const random = seededRandom(5);
    const z = request.source.data.slice();
    const terms = [
      { src: request.subtasks[0].source, tgt: request.subtasks[0].target, mask: dogMask, kind: 'dog' },
      { src: request.subtasks[1].source, tgt: request.subtasks[1].target, mask: grassMask, kind: 'grass' },
      { src: request.full.source, tgt: request.full.target, mask: fullMask, kind: 'full' },
    ];
    for (const term of terms) {
      const t = random.integer(50, 948);
      const noise = random.fillNormal(new Float32Array(4 * P));
      const [a, s] = [schedule.alpha(t), schedule.sigma(t)];
      const zs = request.source.data.map((v, i) => a * v + s * noise[i]);
      const zt = z.map((v, i) => a * v + s * noise[i]);
      const [nS, nT, cS, cT] = [await eps(bundle, zs, t, request.nullText), await eps(bundle, zt, t, request.nullText), await eps(bundle, zs, t, term.src), await eps(bundle, zt, t, term.tgt)];
      let weight = term.kind === 'full' ? beta(t) : 1;
      if (term.kind === 'dog') {
        let sum = 0;
        for (let i = 0; i < 4 * P; i++) sum += Math.abs(nT[i] - cT[i]) * 5 * term.mask(i % P);
        weight = Math.min(1, sum / (4 * P));
      }
      for (let i = 0; i < 4 * P; i++) {
        const g = nT[i] + 7.5 * (cT[i] - nT[i]) - (nS[i] + 7.5 * (cS[i] - nS[i]));
        z[i] -= step * weight * term.mask(i % P) * g;
      }
    }
    const before = { ...bundle.unet.stats };
    const result = await groundAScore(bundle.unet, schedule, request, options({ schedule: 'official', iterations: 1, seed: 5 }));
    expect(bundle.unet.stats.runs - before.runs).toBe(3); // K + 1 runs of 4 images
    expect(bundle.unet.stats.images - before.images).toBe(12);
    result.data.forEach((v, i) => expect(v).toBeCloseTo(z[i], 4));
  });

  it('splits the batch to fit a UNet exported with a fixed batch size, with the same result', async () => {
    const fixed = await loadDiffusionBundle(buildVariant({ unetBatch: 3 }));
    expect(fixed.unet.fixedBatch).toBe(3);
    const fixedRequest = await sceneRequest(fixed);
    const a = await groundAScore(fixed.unet, schedule, fixedRequest, options({ iterations: 3 }));
    const b = await groundAScore(bundle.unet, schedule, request, options({ iterations: 3 }));
    expect(fixed.unet.stats.runs).toBe(3 * Math.ceil(8 / 3));
    a.data.forEach((v, i) => expect(v).toBeCloseTo(b.data[i], 6));
  });

  it('drops the term of a subtask with intensity 0 but keeps its region in the masks and the union', async () => {
    const green = latentOfRgb(PALETTE.green);
    const white = latentOfRgb(PALETTE.white);
    const grassTowardSnow = async (intensity: number) => {
      const scaled = { ...request, subtasks: [request.subtasks[0], { ...request.subtasks[1], intensity }] };
      const before = { ...bundle.unet.stats };
      const result = await groundAScore(bundle.unet, schedule, scaled, options({ iterations: 100 }));
      const mean = [0, 0, 0, 0];
      let n = 0;
      for (let p = 0; p < P; p++) {
        for (let c = 0; c < 4; c++) {
          const i = c * P + p;
          if (!inGrass(p)) expect(result.data[i]).toBe(request.source.data[i]); // the sky is in no region
          else if (!inDog(p)) mean[c] += result.data[i];
        }
        if (inGrass(p) && !inDog(p)) n += 1;
      }
      let dot = 0;
      let norm = 0;
      for (let c = 0; c < 4; c++) {
        dot += (mean[c] / n - green[c]) * (white[c] - green[c]);
        norm += (white[c] - green[c]) ** 2;
      }
      return { fraction: dot / norm, images: (bundle.unet.stats.images - before.images) / 100 };
    };
    const skipped = await grassTowardSnow(0);
    const full = await grassTowardSnow(1);
    expect(skipped.images).toBe(2 + 2 * 2); // the dog and the full prompt: 2K + 4 with K = 1
    expect(full.images).toBe(2 + 2 * 3);
    // Without its own term the grass still moves, through the full prompt ("… on the snow"), but less.
    expect(full.fraction).toBeGreaterThan(0.8);
    expect(skipped.fraction).toBeLessThan(full.fraction - 0.1);
  });

  it('refuses a request where every subtask has intensity 0', async () => {
    const none = { ...request, subtasks: request.subtasks.map((s) => ({ ...s, intensity: 0 })) };
    await expect(groundAScore(bundle.unet, schedule, none, options({}))).rejects.toThrow('Every subtask has intensity 0: nothing would change.');
  });

  it('is reproducible: the same seed gives the same latent, another seed another', async () => {
    const a = await groundAScore(bundle.unet, schedule, request, options({ iterations: 5, seed: 3 }));
    const b = await groundAScore(bundle.unet, schedule, request, options({ iterations: 5, seed: 3 }));
    const c = await groundAScore(bundle.unet, schedule, request, options({ iterations: 5, seed: 4 }));
    expect(Buffer.from(a.data.buffer)).toEqual(Buffer.from(b.data.buffer));
    expect(Buffer.from(a.data.buffer)).not.toEqual(Buffer.from(c.data.buffer));
  });

  it('reports progress every iteration and a preview latent every N', async () => {
    const progress: number[] = [];
    const previews: number[] = [];
    await groundAScore(bundle.unet, schedule, request, options({
      iterations: 10,
      previewAt: (i) => i % 4 === 0,
      onProgress: (p) => {
        progress.push(p.iteration);
        expect(p.total).toBe(10);
        expect(p.etaMs).toBeGreaterThanOrEqual(0);
      },
      onPreview: (latent, iteration) => {
        previews.push(iteration);
        expect(latent.data).toHaveLength(4 * P);
      },
    }));
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(previews).toEqual([4, 8]);
  });

  it('stops between iterations when cancelled', async () => {
    const controller = new AbortController();
    let last = 0;
    const run = groundAScore(bundle.unet, schedule, request, options({
      iterations: 100,
      signal: controller.signal,
      onProgress: (p) => {
        last = p.iteration;
        if (p.iteration === 3) controller.abort();
      },
    }));
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(last).toBe(3);
  });

  it('stops with a clear error when the UNet returns NaN', async () => {
    let calls = 0;
    const broken: NoisePredictor = {
      async predict(latents, t, contexts) {
        calls += 1;
        const out = await bundle.unet.predict(latents, t, contexts);
        if (calls === 2) out[40 * W + 20] = Number.NaN; // a null prediction inside the dog's region
        return out;
      },
    };
    const error = await groundAScore(broken, schedule, request, options({ iterations: 5 })).catch((e: unknown) => e);
    expect(isGasError(error, 'model_error')).toBe(true);
    expect((error as Error).message).toMatch(/^The UNet returned NaN or infinite values \(iteration 2, t=\d+\)/);
  });

  it('refuses bad options with the value named', async () => {
    await expect(groundAScore(bundle.unet, schedule, request, options({ iterations: 0 }))).rejects.toThrow('steps must be a whole number from 1 to 10000 (got 0)');
    await expect(groundAScore(bundle.unet, schedule, request, options({ minTimestep: 900, maxTimestep: 100 }))).rejects.toThrow('900…100');
  });
});
