/**
 * A Stable Diffusion 1.x bundle in the diffusers ONNX layout (docs/architecture.md, "Model bundles"),
 * loaded from disk only. Every part is checked against its contract at load, so a broken
 * bundle fails before an edit starts, with the file and tensor named.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { GasError } from '../errors.js';
import { schedulerConfigFromJson, type SchedulerConfig } from '../distill/schedule.js';
import { loadClipTokenizer } from './tokenizer.js';
import { openTextEncoder, type TextEncoderModel } from './text-encoder.js';
import { openUNet, type UNetModel } from './unet.js';
import { openVaeDecoder, openVaeEncoder, VAE_DOWNSAMPLE, vaeDownsampleFromConfig, type VaeDecoderModel, type VaeEncoderModel } from './vae.js';
import type { Logger } from '../log.js';
import type { ExecutionProvider } from './session.js';

/** SD 1.x's VAE scaling factor, used when the bundle's VAE config does not say. */
export const SD1_SCALING_FACTOR = 0.18215;

export interface DiffusionBundle {
  readonly dir: string;
  readonly provider: ExecutionProvider;
  readonly scheduler: SchedulerConfig;
  readonly scalingFactor: number;
  /** Image pixels per latent pixel side, from the VAE config's block_out_channels (8 when it does not say). */
  readonly vaeDownsample: number;
  /** Fixed working image size when the UNet export has fixed latent sides (WebNN/Olive static shapes). */
  readonly fixedImageSize: { width: number; height: number } | undefined;
  /** What was adapted at load to make this export behave (also logged), e.g. a sampling VAE encoder made deterministic. */
  readonly adaptations: readonly string[];
  /** The bundle's own latent → RGB preview map [4][3], when it ships one (latent_preview.json). */
  readonly latentRgbFactors: number[][] | undefined;
  readonly textEncoder: TextEncoderModel;
  readonly unet: UNetModel;
  readonly vaeEncoder: VaeEncoderModel;
  readonly vaeDecoder: VaeDecoderModel;
}

export interface BundleOptions {
  provider?: ExecutionProvider;
  /** Where adaptations made at load are reported (warn). */
  logger?: Logger;
  /** At most this many latents per UNet session run (see UNetOptions). */
  maxUNetBatch?: number;
  /** Open a bundle marked `gas_random_weights` (built to measure speed; its edits are noise). */
  allowRandomWeights?: boolean;
}

const previewSchema = z.object({ latent_rgb_factors: z.array(z.array(z.number()).length(3)).length(4) });

export async function loadDiffusionBundle(path: string, options: BundleOptions = {}): Promise<DiffusionBundle> {
  const dir = resolve(path);
  const provider = options.provider ?? 'cpu';
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new GasError(
      'bundle_invalid',
      `No model bundle at ${dir}. Build the test bundle with \`npm run models:colour\`, or point --bundle at a diffusers ONNX export of Stable Diffusion 1.x.`,
    );
  }
  const readJson = (rel: string, required: boolean): Record<string, unknown> | undefined => {
    const file = join(dir, rel);
    if (!existsSync(file)) {
      if (required) throw new GasError('bundle_invalid', `The bundle at ${dir} has no ${rel}; it is not a diffusers ONNX export.`);
      return undefined;
    }
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new GasError('bundle_invalid', `${file} is not valid JSON: ${(error as Error).message}`);
    }
  };

  const index = readJson('model_index.json', true)!;
  if (index.gas_random_weights === true && !options.allowRandomWeights) {
    throw new GasError(
      'bundle_invalid',
      `The bundle at ${dir} has random weights (built by \`gas models build-random\` to measure speed): its edits would be noise. Pass --allow-random-weights to run it anyway.`,
    );
  }
  const scheduler = schedulerConfigFromJson(readJson('scheduler/scheduler_config.json', true)!, join(dir, 'scheduler/scheduler_config.json'));
  const vaeConfig = readJson('vae_decoder/config.json', false) ?? readJson('vae_encoder/config.json', false) ?? {};
  const scalingFactor = typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : SD1_SCALING_FACTOR;
  const vaeDownsample = vaeDownsampleFromConfig(vaeConfig) ?? VAE_DOWNSAMPLE;
  const previewJson = readJson('latent_preview.json', false);
  let latentRgbFactors: number[][] | undefined;
  if (previewJson) {
    const parsed = previewSchema.safeParse(previewJson);
    if (!parsed.success) throw new GasError('bundle_invalid', `${join(dir, 'latent_preview.json')}: latent_rgb_factors must be 4 rows of 3 numbers.`);
    latentRgbFactors = parsed.data.latent_rgb_factors;
  }

  const tokenizer = loadClipTokenizer(join(dir, 'tokenizer'));
  const textEncoder = await openTextEncoder(join(dir, 'text_encoder'), provider, tokenizer);
  const unet = await openUNet(join(dir, 'unet'), provider, textEncoder, { maxBatch: options.maxUNetBatch });
  const adaptations: string[] = [];
  const vaeOptions = {
    scalingFactor,
    downsample: vaeDownsample,
    onAdapted: (note: string) => {
      adaptations.push(note);
      options.logger?.warn({ bundle: dir }, note);
    },
  };
  const vaeEncoder = await openVaeEncoder(join(dir, 'vae_encoder'), provider, vaeOptions);
  const vaeDecoder = await openVaeDecoder(join(dir, 'vae_decoder'), provider, vaeOptions);
  const fixedImageSize = unet.fixedLatentSize && { width: unet.fixedLatentSize.width * vaeDownsample, height: unet.fixedLatentSize.height * vaeDownsample };
  return { dir, provider, scheduler, scalingFactor, vaeDownsample, fixedImageSize, adaptations, latentRgbFactors, textEncoder, unet, vaeEncoder, vaeDecoder };
}
