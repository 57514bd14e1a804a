/**
 * The VAE of a bundle. Encoding returns the scaled latent `mean × scaling_factor`
 * (docs/algorithm.md §2.3); decoding takes a scaled latent and divides it back (§11.1).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GasError } from '../errors.js';
import type { ImageTensor, Latent } from '../distill/types.js';
import { asFloatType, floatTensor, toFloat32 } from './tensors.js';
import { checkDims, openSession, requireInput, requireShape, runSession, type ExecutionProvider } from './session.js';
import { LATENT_CHANNELS } from './unet.js';
import { withoutNoise } from './model-graph.js';

/** Image pixels per latent pixel side in SD 1.x VAEs, used when the VAE's config does not say. */
export const VAE_DOWNSAMPLE = 8;

/** diffusers' AutoencoderKL halves the size once between each pair of blocks: 2^(blocks − 1). */
export function vaeDownsampleFromConfig(config: Record<string, unknown>): number | undefined {
  const blocks = config.block_out_channels;
  return Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : undefined;
}

export interface VaeEncoderModel {
  encode(image: ImageTensor): Promise<Latent>;
}

export interface VaeDecoderModel {
  decode(latent: Latent): Promise<ImageTensor>;
}

export interface VaeOptions {
  scalingFactor: number;
  /** Image pixels per latent pixel side (VAE_DOWNSAMPLE unless the config says otherwise). */
  downsample: number;
  /** Told what was adapted at load, for the logs. */
  onAdapted?: (note: string) => void;
}

export async function openVaeEncoder(dir: string, provider: ExecutionProvider, options: VaeOptions): Promise<VaeEncoderModel> {
  const { scalingFactor, downsample } = options;
  const file = join(dir, 'model.onnx');
  // Exports that sample the latent (a RandomNormalLike node) would make the same seed give different edits.
  const denoised = existsSync(file) ? withoutNoise(file) : { bytes: undefined, replaced: [] };
  const model = await openSession(file, provider, { bytes: denoised.bytes });
  if (denoised.replaced.length > 0) {
    options.onAdapted?.(`${file} samples its latent (${denoised.replaced.join(', ')}); the noise is set to 0 in memory, so it returns the mean and the same seed gives the same edit.`);
  }
  const input = requireInput(model, 'sample', 'float [batch, 3, height, width]');
  requireShape(model, input, [null, 3, null, null], '[batch, 3, height, width]');
  const floatType = asFloatType(input.type, `${model.file} input "sample"`);
  const output = model.output('latent_sample') ?? model.output('latent_parameters') ?? model.outputs[0];
  asFloatType(output.type, `${model.file} output "${output.name}"`);
  const channels = output.shape[1];
  if (output.shape.length !== 4 || (typeof channels === 'number' && channels !== 4 && channels !== 8)) {
    throw new GasError(
      'bundle_invalid',
      `${model.file}: "${output.name}" has shape [${output.shape.join(', ')}]; expected latent_sample [batch, 4, h, w] or latent_parameters [batch, 8, h, w].`,
    );
  }
  return {
    async encode(image) {
      const feed = floatTensor(floatType, image.data, [1, 3, image.height, image.width]);
      const result = (await runSession(model, { sample: feed }, [output.name]))[output.name];
      const [, c] = result.dims;
      const h = image.height / downsample;
      const w = image.width / downsample;
      checkDims(model, output.name, result.dims, [1, c === 8 ? 8 : LATENT_CHANNELS, h, w]);
      const values = toFloat32(result, output.name);
      // latent_parameters is mean ‖ logvar: the first four channels are the mean.
      const latent = new Float32Array(LATENT_CHANNELS * h * w);
      for (let i = 0; i < latent.length; i++) latent[i] = values[i] * scalingFactor;
      return { data: latent, height: h, width: w };
    },
  };
}

export async function openVaeDecoder(dir: string, provider: ExecutionProvider, options: VaeOptions): Promise<VaeDecoderModel> {
  const { scalingFactor, downsample } = options;
  const model = await openSession(join(dir, 'model.onnx'), provider);
  const input = requireInput(model, 'latent_sample', 'float [batch, 4, height, width]');
  requireShape(model, input, [null, LATENT_CHANNELS, null, null], '[batch, 4, height, width]');
  const floatType = asFloatType(input.type, `${model.file} input "latent_sample"`);
  const output = model.output('sample') ?? model.outputs[0];
  requireShape(model, output, [null, 3, null, null], '[batch, 3, height, width]');
  asFloatType(output.type, `${model.file} output "${output.name}"`);
  return {
    async decode(latent) {
      const unscaled = new Float32Array(latent.data.length);
      for (let i = 0; i < unscaled.length; i++) unscaled[i] = latent.data[i] / scalingFactor;
      const feed = floatTensor(floatType, unscaled, [1, LATENT_CHANNELS, latent.height, latent.width]);
      const result = (await runSession(model, { latent_sample: feed }, [output.name]))[output.name];
      const height = latent.height * downsample;
      const width = latent.width * downsample;
      checkDims(model, output.name, result.dims, [1, 3, height, width]);
      return { data: toFloat32(result, output.name), height, width };
    },
  };
}
