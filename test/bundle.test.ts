import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDiffusionBundle } from '../src/models/bundle.js';
import { GasError } from '../src/errors.js';
import { OnnxGraph } from '../models/colour-world/onnx-graph.js';
import { buildVariant, STANDARD_BUNDLE } from './helpers/colour-world.js';

async function loadError(dir: string, provider?: 'cpu' | 'cuda' | 'webgpu'): Promise<GasError> {
  try {
    await loadDiffusionBundle(dir, { provider });
  } catch (error) {
    if (error instanceof GasError) return error;
    throw error;
  }
  throw new Error(`loading ${dir} succeeded`);
}

function copyOfStandard(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'gas-bundle-')), 'bundle');
  cpSync(STANDARD_BUNDLE, dir, { recursive: true });
  return dir;
}

/** A copy of the standard bundle whose UNet is an identity with the given contract. */
function copyWithUNet({ channels, contextDim }: { channels: number; contextDim: number }): string {
  const dir = copyOfStandard();
  const g = new OnnxGraph('wrong_unet');
  const sample = g.input('sample', 'float32', ['batch', channels, 'height', 'width']);
  g.input('timestep', 'int64', ['batch']);
  g.input('encoder_hidden_states', 'float32', ['batch', 77, contextDim]);
  g.output(sample, 'out_sample', 'float32', ['batch', channels, 'height', 'width']);
  g.save(join(dir, 'unet/model.onnx'));
  return dir;
}

describe('loading a diffusion bundle', () => {
  it('reads the scaling factor, scheduler and preview map from the bundle', async () => {
    const bundle = await loadDiffusionBundle(STANDARD_BUNDLE);
    expect(bundle.scalingFactor).toBe(0.18215);
    expect(bundle.scheduler).toMatchObject({ betaSchedule: 'scaled_linear', numTrainTimesteps: 1000, predictionType: 'epsilon' });
    expect(bundle.latentRgbFactors).toHaveLength(4);
    expect(bundle.textEncoder).toMatchObject({ length: 77, dim: 11 });
  });

  it('says how to build the test bundle when there is no bundle at the path', async () => {
    const error = await loadError('/nonexistent/bundle');
    expect(error.code).toBe('bundle_invalid');
    expect(error.message).toContain('No model bundle at /nonexistent/bundle');
    expect(error.message).toContain('npm run models:colour');
  });

  it('names the missing model file', async () => {
    const dir = copyOfStandard();
    rmSync(join(dir, 'unet/model.onnx'));
    const error = await loadError(dir);
    expect(error.code).toBe('bundle_invalid');
    expect(error.message).toBe(`Missing model file ${join(dir, 'unet/model.onnx')}.`);
  });

  it('names the file, the tensor and the expected contract when a UNet has the wrong shape', async () => {
    const dir = copyWithUNet({ channels: 3, contextDim: 11 });
    const error = await loadError(dir);
    expect(error.message).toBe(`${join(dir, 'unet/model.onnx')}: "sample" has shape [batch, 3, height, width]; expected [batch, 4, height, width].`);
  });

  it('refuses a UNet whose context size does not match the text encoder', async () => {
    const dir = copyWithUNet({ channels: 4, contextDim: 768 });
    const error = await loadError(dir);
    expect(error.message).toContain('"encoder_hidden_states" has shape [batch, 77, 768]; expected [batch, 77, 11] to match the text encoder');
  });

  it('refuses a broken scheduler config with the file named', async () => {
    const dir = copyOfStandard();
    writeFileSync(join(dir, 'scheduler/scheduler_config.json'), '{ not json');
    const error = await loadError(dir);
    expect(error.message).toContain(`${join(dir, 'scheduler/scheduler_config.json')} is not valid JSON`);
  });

  it('fails with the install command, not silently on the CPU, when the CUDA provider is missing', async () => {
    const error = await loadError(STANDARD_BUNDLE, 'cuda');
    expect(error.code).toBe('provider_unavailable');
    expect(error.message).toContain('--onnxruntime-node-install=cuda12');
  });

  it('loads float16 models and converts at the boundary', async () => {
    const fp16 = await loadDiffusionBundle(buildVariant({ floatType: 'float16', timestep: 'float-batch' }));
    const fp32 = await loadDiffusionBundle(STANDARD_BUNDLE);
    const prompt = 'a tiger';
    const [e16, e32] = [await fp16.textEncoder.encode(prompt), await fp32.textEncoder.encode(prompt)];
    expect(Array.from(e16.data)).toEqual(Array.from(e32.data));
    const z = Float32Array.from({ length: 4 * 4 }, (_, i) => Math.sin(i) * 0.5);
    const latents = { data: z, batch: 1, height: 2, width: 2 };
    const [p16, p32] = [await fp16.unet.predict(latents, 300, e16.data), await fp32.unet.predict(latents, 300, e32.data)];
    p32.forEach((v, i) => expect(p16[i]).toBeCloseTo(v, 2));
  });
});
