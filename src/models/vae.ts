/**
 * The VAE of a bundle. Encoding returns the scaled latent `mean × scaling_factor`
 * (ALGORITHM.md, "Latents"); decoding takes a scaled latent and divides it back.
 */
import { join } from 'node:path';
import { GasError } from '../errors.js';
import type { ImageTensor, Latent } from '../distill/types.js';
import { asFloatType, floatTensor, toFloat32 } from './tensors.js';
import { checkDims, openSession, requireInput, requireShape, runSession, type ExecutionProvider } from './session.js';
import { LATENT_CHANNELS } from './unet.js';

/** Image pixels per latent pixel side in SD 1.x VAEs. */
export const VAE_DOWNSAMPLE = 8;

export interface VaeEncoderModel {
  encode(image: ImageTensor): Promise<Latent>;
}

export interface VaeDecoderModel {
  decode(latent: Latent): Promise<ImageTensor>;
}

export async function openVaeEncoder(dir: string, provider: ExecutionProvider, scalingFactor: number): Promise<VaeEncoderModel> {
  const model = await openSession(join(dir, 'model.onnx'), provider);
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
      const h = image.height / VAE_DOWNSAMPLE;
      const w = image.width / VAE_DOWNSAMPLE;
      checkDims(model, output.name, result.dims, [1, c === 8 ? 8 : LATENT_CHANNELS, h, w]);
      const values = toFloat32(result, output.name);
      // latent_parameters is mean ‖ logvar: the first four channels are the mean.
      const latent = new Float32Array(LATENT_CHANNELS * h * w);
      for (let i = 0; i < latent.length; i++) latent[i] = values[i] * scalingFactor;
      return { data: latent, height: h, width: w };
    },
  };
}

export async function openVaeDecoder(dir: string, provider: ExecutionProvider, scalingFactor: number): Promise<VaeDecoderModel> {
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
      const height = latent.height * VAE_DOWNSAMPLE;
      const width = latent.width * VAE_DOWNSAMPLE;
      checkDims(model, output.name, result.dims, [1, 3, height, width]);
      return { data: toFloat32(result, output.name), height, width };
    },
  };
}
