/**
 * The contracts of public exports people download (issue 10): each fixture is the colour world
 * with one part changed the way a real exporter changes it; each loads and gives the right
 * answer, or is refused at load with a message that says why and what to use instead.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openGroundingDino } from '../src/ground/grounding-dino.js';
import { main } from '../src/cli/program.js';
import { createLogger } from '../src/log.js';
import type { CliIo } from '../src/cli/io.js';
import { demoScenePng } from '../src/cli/demo-scene.js';
import { loadDiffusionBundle } from '../src/models/bundle.js';
import { DEFAULT_EDIT_OPTIONS, editImage } from '../src/pipeline/edit.js';
import { imageToTensor } from '../src/image/tensor.js';
import {
  buildDetectorVariants, buildDirectMlDecoderBundle, buildExtraInputUNetBundle, buildFirstPhraseDetector, buildFixedShapeUNetBundle,
  buildFixedSizeDetector, buildSamplingEncoderBundle, buildVaeFactor4Bundle,
} from '../models/fixtures/real-exports.js';
import { rejection } from './helpers/errors.js';
import { SCENE_PLAN, SCENE_REGIONS, STANDARD_BUNDLE, maxDifference, pngToRgb, sceneImage } from './helpers/colour-world.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function fixtureDir(name: string): string {
  const parent = mkdtempSync(join(tmpdir(), 'gas-real-'));
  made.push(parent);
  return join(parent, name);
}

function iou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

describe('GroundingDINO exports in the transformers.js layout', async () => {
  const scene = await sceneImage();

  it('accepts size {height: 800, width: 800} and finds each object after the plain resize', async () => {
    const dir = fixtureDir('fixed-size-detector');
    buildFixedSizeDetector(dir);
    const detector = await openGroundingDino(dir);
    const found = await detector.detect(scene, ['dog', 'sky']);
    expect(found[0].detections).toHaveLength(1);
    expect(iou(found[0].detections[0].box, SCENE_REGIONS.dog)).toBeGreaterThanOrEqual(0.8);
    expect(iou(found[1].detections[0].box, SCENE_REGIONS.sky)).toBeGreaterThanOrEqual(0.8);
  });

  it('finds both objects of a two-phrase request with one phrase per pass when the text mask fits only the first phrase', async () => {
    const dir = fixtureDir('first-phrase-detector');
    buildFirstPhraseDetector(dir);
    const found = await (await openGroundingDino(dir)).detect(scene, ['dog', 'grass']);
    expect(found.map((f) => f.detections.length)).toEqual([1, 1]);
    expect(iou(found[0].detections[0].box, SCENE_REGIONS.dog)).toBeGreaterThanOrEqual(0.8);
    expect(iou(found[1].detections[0].box, SCENE_REGIONS.grass)).toBeGreaterThanOrEqual(0.6);
  });

  it('runs the per-phrase passes one after another when the export fixes its batch at 1', async () => {
    const dir = fixtureDir('batch-of-one-detector');
    buildFirstPhraseDetector(dir, { batchOfOne: true });
    const found = await (await openGroundingDino(dir)).detect(scene, ['dog', 'sky', 'grass']);
    expect(found.map((f) => f.detections.length)).toEqual([1, 1, 1]);
    expect(iou(found[1].detections[0].box, SCENE_REGIONS.sky)).toBeGreaterThanOrEqual(0.8);
  });

  it('queries all phrases in one pass only when config.json says gas_joint_phrases (so this export then misses the second)', async () => {
    const perPhrase = fixtureDir('per-phrase-detector');
    buildFirstPhraseDetector(perPhrase);
    const joint = fixtureDir('joint-detector');
    buildFirstPhraseDetector(joint, { jointPhrases: true });
    const count = async (dir: string) => (await (await openGroundingDino(dir)).detect(scene, ['dog', 'grass'])).map((f) => f.detections.length);
    expect(await count(perPhrase)).toEqual([1, 1]);
    expect(await count(joint)).toEqual([1, 0]);
  });

  for (const variant of ['fp16', 'quantized'] as const) {
    it(`opens onnx/model_${variant}.onnx for --detector-variant ${variant} and finds the same boxes`, async () => {
      const dir = fixtureDir(`${variant}-detector`);
      buildDetectorVariants(dir, { withoutFp32: true });
      const found = await (await openGroundingDino(dir, { variant })).detect(scene, ['dog', 'sky']);
      expect(iou(found[0].detections[0].box, SCENE_REGIONS.dog)).toBeGreaterThanOrEqual(0.8);
      expect(iou(found[1].detections[0].box, SCENE_REGIONS.sky)).toBeGreaterThanOrEqual(0.8);
    });
  }

  it('names the missing variant file and the variants the export has', async () => {
    const dir = fixtureDir('variants-detector');
    buildDetectorVariants(dir, { withoutFp32: true });
    const error = await rejection(openGroundingDino(dir));
    expect(error.code).toBe('bundle_invalid');
    expect(error.message).toContain('has no onnx/model.onnx (the fp32 variant); it has fp16, quantized: pick one with --detector-variant');
  });
});

describe('diffusion bundles from other exporters', async () => {
  const scene = await sceneImage();

  it('makes a VAE encoder that samples with RandomNormalLike deterministic: the same image gives the same bytes, the mean', async () => {
    const dir = fixtureDir('sampling-encoder');
    buildSamplingEncoderBundle(dir);
    const lines: string[] = [];
    const logger = createLogger('test', { level: 'info', destination: { write: (line: string) => lines.push(line) } });
    const bundle = await loadDiffusionBundle(dir, { logger });
    const standard = await loadDiffusionBundle(STANDARD_BUNDLE);
    const image = imageToTensor(scene);
    const [first, second, mean] = [await bundle.vaeEncoder.encode(image), await bundle.vaeEncoder.encode(image), await standard.vaeEncoder.encode(image)];
    expect(Buffer.from(first.data.buffer).equals(Buffer.from(second.data.buffer))).toBe(true);
    expect(Array.from(first.data)).toEqual(Array.from(mean.data));
    expect(bundle.adaptations).toHaveLength(1);
    expect(bundle.adaptations[0]).toContain('samples its latent (sample_noise); the noise is set to 0 in memory');
    expect(lines.map((line) => JSON.parse(line) as { level: number; msg: string })).toEqual([
      expect.objectContaining({ level: 40, msg: bundle.adaptations[0] }),
    ]);
  });

  it('refuses a sampling VAE encoder whose weights are in an external file, which cannot be rewritten in memory', async () => {
    const dir = fixtureDir('sampling-encoder-external');
    buildSamplingEncoderBundle(dir, { externalWeights: true });
    const error = await rejection(loadDiffusionBundle(dir));
    expect(error.code).toBe('bundle_invalid');
    expect(error.message).toBe(
      `${join(dir, 'vae_encoder', 'model.onnx')} samples its latent (RandomNormalLike) and keeps its weights in a separate file, so gas cannot make it deterministic. Use an export with the weights inside model.onnx, or one that returns latent_parameters (optimum ≥ 1.23).`,
    );
  });

  it('refuses at load a UNet that needs timestep_cond, naming the input and the supported families', async () => {
    const dir = fixtureDir('lcm-unet');
    buildExtraInputUNetBundle(dir, { name: 'timestep_cond', dims: ['batch', 256] });
    const error = await rejection(loadDiffusionBundle(dir));
    expect(error.code).toBe('bundle_invalid');
    expect(error.message).toContain('needs the input "timestep_cond" (a Latent Consistency Model (LCM) export)');
    expect(error.message).toContain('Supported: Stable Diffusion 1.x and 2.x UNets');
  });

  it('refuses at load an SDXL UNet by its text_embeds input', async () => {
    const dir = fixtureDir('sdxl-unet');
    buildExtraInputUNetBundle(dir, { name: 'text_embeds', dims: ['batch', 1280] });
    expect((await rejection(loadDiffusionBundle(dir))).message).toContain('needs the input "text_embeds" (an SDXL export)');
  });

  it('edits at the fixed size of a static-shape UNet (64×64 latents, batch 1, timestep [1]) whatever --max-side says', async () => {
    const dir = fixtureDir('static-unet');
    buildFixedShapeUNetBundle(dir);
    const bundle = await loadDiffusionBundle(dir);
    expect(bundle.unet.fixedLatentSize).toEqual({ height: 64, width: 64 });
    expect(bundle.unet.fixedBatch).toBe(1);
    expect(bundle.fixedImageSize).toEqual({ width: 512, height: 512 });
    // 256 would give 32×32 latents, which this export cannot take: the working size is forced to 512², and the edit is
    // the dynamic export's at 512² with the same seed.
    const edit = async (b: typeof bundle, maxSide: number) =>
      pngToRgb((await editImage(b, scene, SCENE_PLAN, { ...DEFAULT_EDIT_OPTIONS, steps: 20, seed: 7, maxSide, composite: false })).image);
    const fixed = await edit(bundle, 256);
    const dynamic = await edit(await loadDiffusionBundle(STANDARD_BUNDLE), 512);
    expect([fixed.width, fixed.height]).toEqual([scene.width, scene.height]);
    expect(maxDifference(scene, fixed, 'dog')).toBeGreaterThan(10);
    let largest = 0;
    for (let i = 0; i < fixed.data.length; i++) largest = Math.max(largest, Math.abs(fixed.data[i] - dynamic.data[i]));
    expect(largest).toBeLessThanOrEqual(1);
  });

  it('refuses latents of another size on a static-shape UNet with the size it takes', async () => {
    const dir = fixtureDir('static-unet-refuses');
    buildFixedShapeUNetBundle(dir);
    const bundle = await loadDiffusionBundle(dir);
    const latents = { data: new Float32Array(4 * 40 * 32), batch: 1, height: 40, width: 32 };
    const error = await rejection(bundle.unet.predict(latents, 500, new Float32Array(77 * bundle.textEncoder.dim)));
    expect(error.code).toBe('bad_input');
    expect(error.message).toContain('is a fixed-shape export: it takes 64×64 latents only, not 32×40');
  });

  it('says a DirectML/CUDA-optimised export (com.microsoft.GroupNorm) has no CPU kernel and what to use instead', async () => {
    const dir = fixtureDir('directml-decoder');
    buildDirectMlDecoderBundle(dir);
    const error = await rejection(loadDiffusionBundle(dir));
    expect(error.code).toBe('bundle_invalid');
    expect(error.message).toBe(`${join(dir, 'vae_decoder', 'model.onnx')} uses operators the cpu provider has no kernel for (exports optimised for DirectML/CUDA, with fused com.microsoft operators, do). Use a plain export, or --provider cuda.`);
  });

  it("reads the VAE's downsampling factor from block_out_channels (3 blocks: 4×) and round-trips the colours", async () => {
    const dir = fixtureDir('vae-factor-4');
    buildVaeFactor4Bundle(dir);
    const bundle = await loadDiffusionBundle(dir);
    expect(bundle.vaeDownsample).toBe(4);
    const latent = await bundle.vaeEncoder.encode(imageToTensor(scene));
    expect([latent.width, latent.height]).toEqual([scene.width / 4, scene.height / 4]);
    const decoded = await bundle.vaeDecoder.decode(latent);
    expect([decoded.width, decoded.height]).toEqual([scene.width, scene.height]);
    // The sky's centre pixel comes back within 2/255.
    const p = Math.round(0.1 * scene.height) * scene.width + Math.round(0.5 * scene.width);
    for (let c = 0; c < 3; c++) {
      expect(Math.abs((decoded.data[c * scene.width * scene.height + p] + 1) * 127.5 - scene.data[3 * p + c])).toBeLessThanOrEqual(2);
    }
  });
});

describe('gas plan --detector-variant', async () => {
  const work = mkdtempSync(join(tmpdir(), 'gas-real-cli-'));
  made.push(work);
  const scene = join(work, 'scene.png');
  writeFileSync(scene, await demoScenePng());
  const detector = fixtureDir('cli-variants-detector');
  buildDetectorVariants(detector, { withoutFp32: true });

  async function gas(args: string[], env: Record<string, string> = {}) {
    const run = { stdout: '', stderr: '' };
    const io: CliIo = { stdout: { write: (text: string) => (run.stdout += text) }, stderr: { write: (text: string) => (run.stderr += text) } };
    const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
    Object.assign(process.env, env);
    try {
      return { code: await main(args, io), ...run };
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  }

  it('grounds with the quantized file named by GAS_DETECTOR_VARIANT', async () => {
    const run = await gas(['plan', scene, 'turn the dog into a tiger', '--planner', 'offline', '--detector', detector, '--out', join(work, 'out')], { GAS_DETECTOR_VARIANT: 'quantized' });
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as { subtasks: { boxes: number[][] }[] };
    expect(iou(plan.subtasks[0].boxes[0], SCENE_REGIONS.dog)).toBeGreaterThanOrEqual(0.8);
  });

  it('refuses a variant that is not one of fp32, fp16, quantized (exit 2)', async () => {
    const run = await gas(['plan', scene, 'turn the dog into a tiger', '--planner', 'offline', '--detector', detector, '--detector-variant', 'int4', '--out', join(work, 'refused')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--detector-variant must be one of fp32, fp16, quantized (got "int4").');
  });
});
