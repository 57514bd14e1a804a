/**
 * The SD 1.5-shaped bundle with random weights (models/sd15-shape): the full-size graphs have SD 1.5's
 * parameter counts and I/O contracts (built as structure only, nothing generated); the scaled-down
 * bundle, from the same code, loads through the project's loader, runs the engine on the CPU, and
 * is refused for editing without --allow-random-weights.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { groundAScore, REFERENCE_OPTIONS, type DistillRequest } from '../src/distill/engine.js';
import { seededRandom } from '../src/distill/random.js';
import { noiseSchedule } from '../src/distill/schedule.js';
import { loadDiffusionBundle, type DiffusionBundle } from '../src/models/bundle.js';
import { openSession } from '../src/models/session.js';
import { demoScenePng } from '../src/cli/demo-scene.js';
import { SD15, SD15_PARAMETERS, SD15_TINY } from '../models/sd15-shape/config.js';
import { buildRandomBundle, isCurrentRandomBundle, randomBundleGraphs } from '../models/sd15-shape/build.js';
import { gas } from './helpers/cli.js';
import { rejection } from './helpers/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gas-sd15-shape-'));
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const finite = (values: Float32Array) => values.every(Number.isFinite);

/** The I/O contract of SD 1.5's diffusers ONNX export for a text width and a float type. */
function sd15Contract(hidden: number, type: 'float32' | 'float16') {
  return {
    textEncoder: {
      inputs: [{ name: 'input_ids', type: 'int32', shape: ['batch', 77] }],
      outputs: [{ name: 'last_hidden_state', type, shape: ['batch', 77, hidden] }, { name: 'pooler_output', type, shape: ['batch', hidden] }],
    },
    unet: {
      inputs: [
        { name: 'sample', type, shape: ['batch', 4, 'height', 'width'] },
        { name: 'timestep', type, shape: ['batch'] },
        { name: 'encoder_hidden_states', type, shape: ['batch', 77, hidden] },
      ],
      outputs: [{ name: 'out_sample', type, shape: ['batch', 4, 'height', 'width'] }],
    },
    vaeEncoder: {
      inputs: [{ name: 'sample', type, shape: ['batch', 3, 'height', 'width'] }],
      outputs: [{ name: 'latent_parameters', type, shape: ['batch', 8, 'latent_height', 'latent_width'] }],
    },
    vaeDecoder: {
      inputs: [{ name: 'latent_sample', type, shape: ['batch', 4, 'latent_height', 'latent_width'] }],
      outputs: [{ name: 'sample', type, shape: ['batch', 3, 'height', 'width'] }],
    },
  };
}

describe('the full-size SD 1.5 shape (structure only)', () => {
  const graphs = randomBundleGraphs(SD15, 'fp16', 1);

  it("has SD 1.5's parameter counts: UNet 859.5 M, CLIP ViT-L/14 text 123.1 M, VAE 83.7 M", () => {
    expect(graphs.unet.graph.parameterCount()).toBe(SD15_PARAMETERS.unet);
    expect(graphs.textEncoder.graph.parameterCount()).toBe(SD15_PARAMETERS.textEncoder);
    expect(graphs.vaeEncoder.graph.parameterCount() + graphs.vaeDecoder.graph.parameterCount()).toBe(SD15_PARAMETERS.vae);
  });

  it('costs ≈ 339 GMAC per 512² UNet image in convolutions and linear layers, plus the attention products', () => {
    expect(graphs.unet.macs.weights / 1e9).toBeCloseTo(338.6, 1);
    // Self-attention over 4096, 1024, 256 and 64 positions, and cross-attention over 77 tokens.
    expect(graphs.unet.macs.attention / 1e9).toBeCloseTo(63.0, 1);
  });

  it("declares the I/O names, types and shapes of SD 1.5's diffusers ONNX export", () => {
    const contract = sd15Contract(768, 'float16');
    for (const part of ['textEncoder', 'unet', 'vaeEncoder', 'vaeDecoder'] as const) {
      expect(graphs[part].graph.signature(), part).toEqual(contract[part]);
    }
  });

  it('writes weights past 2 GB to external data: the fp32 UNet (3.4 GB), and nothing else', () => {
    const fp32 = randomBundleGraphs(SD15, 'fp32', 1);
    const limit = 2 ** 31;
    expect(fp32.unet.graph.weightBytes()).toBeGreaterThan(limit);
    expect(graphs.unet.graph.weightBytes()).toBeLessThan(limit);
    expect(fp32.textEncoder.graph.weightBytes()).toBeLessThan(limit);
  });
});

describe('the scaled-down bundle (sd15-shape-tiny, same code)', () => {
  const dir = join(tmp(), 'sd15-shape-tiny-fp32');
  let bundle: DiffusionBundle;

  beforeAll(async () => {
    buildRandomBundle(dir, { shape: 'sd15-shape-tiny', dtype: 'fp32', seed: 1 });
    bundle = await loadDiffusionBundle(dir, { allowRandomWeights: true });
  });

  it("passes ONNX Runtime's checks and declares SD 1.5's I/O, read back from the sessions", async () => {
    const contract = sd15Contract(SD15_TINY.text.hidden, 'float32');
    const parts = { textEncoder: 'text_encoder', unet: 'unet', vaeEncoder: 'vae_encoder', vaeDecoder: 'vae_decoder' } as const;
    for (const [part, sub] of Object.entries(parts) as [keyof typeof parts, string][]) {
      const session = await openSession(join(dir, sub, 'model.onnx'), 'cpu');
      expect({ inputs: session.inputs, outputs: session.outputs }, part).toEqual(contract[part]);
    }
    expect(isCurrentRandomBundle(dir, { shape: 'sd15-shape-tiny', dtype: 'fp32', seed: 1 })).toBe(true);
    expect(isCurrentRandomBundle(dir, { shape: 'sd15-shape-tiny', dtype: 'fp32', seed: 2 })).toBe(false);
  });

  it('runs one engine iteration of each schedule on the CPU: finite, the latent shape kept, the latent moved', async () => {
    const side = 16;
    const embed = (prompt: string) => bundle.textEncoder.encode(prompt);
    const source = seededRandom(3).fillNormal(new Float32Array(4 * side * side));
    const request: DistillRequest = {
      source: { data: source, height: side, width: side },
      nullText: await embed(''),
      subtasks: [{ source: await embed('a dog'), target: await embed('a tiger'), boxes: [[0.1, 0.1, 0.4, 0.4]], intensity: 1 }],
      full: { source: await embed('a dog'), target: await embed('a tiger') },
    };
    const schedule = noiseSchedule(bundle.scheduler);
    for (const mode of ['aggregated', 'official'] as const) {
      const before = { ...bundle.unet.stats };
      const result = await groundAScore(bundle.unet, schedule, request, { ...REFERENCE_OPTIONS, schedule: mode, seed: 1, iterations: 1 });
      expect([result.height, result.width, result.data.length]).toEqual([side, side, 4 * side * side]);
      expect(finite(result.data)).toBe(true);
      expect(result.data.some((v, i) => v !== source[i])).toBe(true);
      // 2K+4 images in one run, or K+1 runs of 4 (K = 1).
      expect(bundle.unet.stats.images - before.images).toBe(mode === 'aggregated' ? 6 : 8);
    }
  });

  it('splits UNet runs at maxUNetBatch without padding the last one, predicting the same', async () => {
    const chunked = await loadDiffusionBundle(dir, { allowRandomWeights: true, maxUNetBatch: 4 });
    const side = 8;
    const latents = seededRandom(7).fillNormal(new Float32Array(6 * 4 * side * side));
    const text = await bundle.textEncoder.encode('a dog');
    const contexts = new Float32Array(6 * text.data.length);
    for (let i = 0; i < 6; i++) contexts.set(text.data, i * text.data.length);
    const whole = await bundle.unet.predict({ data: latents, batch: 6, height: side, width: side }, 300, contexts);
    const split = await chunked.unet.predict({ data: latents, batch: 6, height: side, width: side }, 300, contexts);
    expect(chunked.unet.stats).toMatchObject({ runs: 2, images: 6 });
    expect(split.length).toBe(whole.length);
    split.forEach((v, i) => expect(v).toBeCloseTo(whole[i], 4));
  });

  it('encodes and decodes through the VAE at 8× per side', async () => {
    const image = seededRandom(4).fillNormal(new Float32Array(3 * 64 * 64)).map((v) => Math.tanh(v));
    const latent = await bundle.vaeEncoder.encode({ data: image, height: 64, width: 64 });
    expect([latent.height, latent.width]).toEqual([8, 8]);
    const decoded = await bundle.vaeDecoder.decode(latent);
    expect([decoded.height, decoded.width, decoded.data.length]).toEqual([64, 64, 3 * 64 * 64]);
    expect(finite(latent.data) && finite(decoded.data)).toBe(true);
  });

  it('never replaces a folder that holds something other than a random bundle', () => {
    const real = tmp();
    writeFileSync(join(real, 'model_index.json'), '{"_class_name": "OnnxStableDiffusionPipeline"}\n');
    expect(() => buildRandomBundle(real, { shape: 'sd15-shape-tiny', dtype: 'fp32', seed: 1 })).toThrow(/something other than a random bundle/);
    expect(readFileSync(join(real, 'model_index.json'), 'utf8')).toContain('OnnxStableDiffusionPipeline');
  });

  it('is the same bytes from the same seed, and other weights from another seed', () => {
    const again = join(tmp(), 'again');
    buildRandomBundle(again, { shape: 'sd15-shape-tiny', dtype: 'fp32', seed: 1 });
    expect(sha256(join(again, 'unet/model.onnx'))).toBe(sha256(join(dir, 'unet/model.onnx')));
    const other = join(tmp(), 'other');
    buildRandomBundle(other, { shape: 'sd15-shape-tiny', dtype: 'fp32', seed: 2 });
    expect(sha256(join(other, 'unet/model.onnx'))).not.toBe(sha256(join(dir, 'unet/model.onnx')));
  });

  it('predicts the same from external weights as from embedded ones, and in fp16 close to fp32', async () => {
    const graphs = randomBundleGraphs(SD15_TINY, 'fp32', 1);
    const externalDir = tmp();
    expect(graphs.unet.graph.write(join(externalDir, 'model.onnx'), { embedLimit: 0 })).toEqual({ external: true });
    const external = await openSession(join(externalDir, 'model.onnx'), 'cpu');
    const embedded = await openSession(join(dir, 'unet/model.onnx'), 'cpu');
    const ort = await import('onnxruntime-node');
    const feeds = {
      sample: new ort.Tensor('float32', seededRandom(5).fillNormal(new Float32Array(2 * 4 * 8 * 8)), [2, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.from([500, 500]), [2]),
      encoder_hidden_states: new ort.Tensor('float32', seededRandom(6).fillNormal(new Float32Array(2 * 77 * SD15_TINY.text.hidden)), [2, 77, SD15_TINY.text.hidden]),
    };
    const run = async (session: typeof embedded) => (await session.session.run(feeds)).out_sample.data as Float32Array;
    const reference = await run(embedded);
    expect(await run(external)).toEqual(reference);

    const fp16Dir = join(tmp(), 'fp16');
    buildRandomBundle(fp16Dir, { shape: 'sd15-shape-tiny', dtype: 'fp16', seed: 1 });
    const fp16 = await loadDiffusionBundle(fp16Dir, { allowRandomWeights: true });
    const contexts = feeds.encoder_hidden_states.data as Float32Array;
    const half = await fp16.unet.predict({ data: feeds.sample.data as Float32Array, batch: 2, height: 8, width: 8 }, 500, contexts);
    let error = 0;
    let norm = 0;
    half.forEach((v, i) => {
      error += (v - reference[i]) ** 2;
      norm += reference[i] ** 2;
    });
    expect(Math.sqrt(error / norm)).toBeLessThan(0.02);
  });

  it('is refused for editing unless --allow-random-weights says so', async () => {
    const error = await rejection(loadDiffusionBundle(dir));
    expect(error.message).toContain('--allow-random-weights');
    const work = tmp();
    const photo = join(work, 'scene.png');
    writeFileSync(photo, await demoScenePng());
    const run = await gas(['edit', photo, 'turn the dog into a tiger', '--bundle', dir, '--box', 'dog=0.1,0.1,0.4,0.4', '--planner', 'offline', '--out', join(work, 'out')]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('has random weights');
    expect(run.stderr).toContain('--allow-random-weights');
  });
});
