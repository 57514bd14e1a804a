/**
 * Builds a bundle with Stable Diffusion 1.5's architecture and deterministic random weights, in
 * the diffusers ONNX layout: for measuring speed and memory on a provider, never for editing
 * (model_index.json says `gas_random_weights: true`, and `loadDiffusionBundle` refuses it
 * unless asked to allow it). The tokenizer is the colour world's small BPE vocabulary: its
 * words are one token each, as in CLIP's own, and the embedding table keeps CLIP's 49 408 rows.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GasError } from '../../src/errors.js';
import { startDiffusersBundle, writeJson } from '../diffusers-layout.js';
import { repoRoot } from '../colour-world/paths.js';
import { writeColourTokenizer, EOS } from '../colour-world/tokenizer-files.js';
import { RANDOM_SHAPES, type RandomDType, type RandomShapeName, type Sd15ShapeConfig } from './config.js';
import { buildTextEncoder } from './text-encoder.js';
import { buildUNet, type BuiltGraph } from './unet.js';
import { buildVaeDecoder, buildVaeEncoder } from './vae.js';
import type { FloatDType } from './weighted-graph.js';

/** Bump when the builder's output changes, so a bench rebuilds a bundle made by an older builder. */
export const SD15_SHAPE_VERSION = 1;

export interface RandomBundleSpec {
  shape: RandomShapeName;
  dtype: RandomDType;
  seed: number;
}

export const DEFAULT_WEIGHT_SEED = 1;

const floatType = (dtype: RandomDType): FloatDType => (dtype === 'fp16' ? 'float16' : 'float32');

/** Where a random bundle is built unless told otherwise: models/build/<shape>-<dtype>. */
export function randomBundleDir(shape: RandomShapeName, dtype: RandomDType): string {
  return join(repoRoot(), 'models', 'build', `${shape}-${dtype}`);
}

/** The four graphs of a shape, with nothing generated yet: for counting parameters and MACs. */
export function randomBundleGraphs(config: Sd15ShapeConfig, dtype: RandomDType, seed: number, image = { height: 512, width: 512 }, endOfText = 0): Record<'textEncoder' | 'unet' | 'vaeEncoder' | 'vaeDecoder', BuiltGraph> {
  const type = floatType(dtype);
  const downsample = 2 ** (config.vae.blockOutChannels.length - 1);
  const latent = { height: image.height / downsample, width: image.width / downsample };
  return {
    textEncoder: buildTextEncoder(config.text, type, seed, endOfText),
    unet: buildUNet(config.unet, config.text, type, seed, latent),
    vaeEncoder: buildVaeEncoder(config.vae, type, seed, image),
    vaeDecoder: buildVaeDecoder(config.vae, type, seed, latent),
  };
}

/** What a random bundle's model_index.json says about how it was built; undefined for any other folder. */
function builtWith(dir: string): Record<string, unknown> | undefined {
  try {
    const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as { _sd15_shape?: Record<string, unknown> };
    return index._sd15_shape;
  } catch {
    return undefined;
  }
}

/** True when `dir` holds a random bundle of this builder version, spec and architecture. */
export function isCurrentRandomBundle(dir: string, spec: RandomBundleSpec): boolean {
  const built = builtWith(dir);
  return built?.version === SD15_SHAPE_VERSION && built.shape === spec.shape && built.dtype === spec.dtype && built.seed === spec.seed &&
    JSON.stringify(built.config) === JSON.stringify(RANDOM_SHAPES[spec.shape]);
}

export interface BuiltFile {
  path: string;
  bytes: number;
}

/** Writes the bundle next to `finalDir`, then swaps it in, so a reader never sees half a bundle. Returns the files written. */
export function buildRandomBundle(finalDir: string, spec: RandomBundleSpec, onFile?: (file: BuiltFile) => void): BuiltFile[] {
  const config = RANDOM_SHAPES[spec.shape];
  // The new bundle replaces the folder: never one that holds anything but an older random bundle (a real export, say).
  if (existsSync(finalDir) && !builtWith(finalDir) && (!statSync(finalDir).isDirectory() || readdirSync(finalDir).length > 0)) {
    throw new GasError('bad_input', `${finalDir} already holds something other than a random bundle; give another --dir.`);
  }
  const dir = startDiffusersBundle(
    finalDir,
    {
      gas_random_weights: true,
      _sd15_shape: {
        description: 'Stable Diffusion 1.5 architecture with random weights, for speed and memory measurements only (models/sd15-shape)',
        version: SD15_SHAPE_VERSION,
        ...spec,
        config,
      },
    },
    'epsilon',
  );
  const json = (path: string, value: unknown) => writeJson(dir, path, value);
  const { unet, text, vae } = config;
  json('unet/config.json', {
    _class_name: 'UNet2DConditionModel',
    in_channels: 4,
    out_channels: 4,
    block_out_channels: unet.blockOutChannels,
    layers_per_block: unet.layersPerBlock,
    attention_head_dim: unet.heads,
    cross_attention_dim: text.hidden,
    norm_num_groups: unet.groups,
    norm_eps: unet.eps,
    down_block_types: unet.crossAttention.map((cross) => (cross ? 'CrossAttnDownBlock2D' : 'DownBlock2D')),
    up_block_types: [...unet.crossAttention].reverse().map((cross) => (cross ? 'CrossAttnUpBlock2D' : 'UpBlock2D')),
    sample_size: 64,
  });
  json('text_encoder/config.json', {
    architectures: ['CLIPTextModel'],
    hidden_size: text.hidden,
    intermediate_size: text.mlp,
    num_attention_heads: text.heads,
    num_hidden_layers: text.layers,
    max_position_embeddings: text.contextLength,
    vocab_size: text.vocabSize,
    hidden_act: 'quick_gelu',
  });
  const vaeConfig = {
    _class_name: 'AutoencoderKL',
    block_out_channels: vae.blockOutChannels,
    layers_per_block: vae.layersPerBlock,
    norm_num_groups: vae.groups,
    latent_channels: vae.latentChannels,
    in_channels: 3,
    out_channels: 3,
    scaling_factor: vae.scalingFactor,
    sample_size: 512,
  };
  json('vae_encoder/config.json', vaeConfig);
  json('vae_decoder/config.json', vaeConfig);

  const bpe = writeColourTokenizer(dir, text.contextLength, 'vocab-merges');

  const graphs = randomBundleGraphs(config, spec.dtype, spec.seed, undefined, bpe.vocab[EOS]);
  const files: BuiltFile[] = [];
  const parts = [['text_encoder', graphs.textEncoder], ['unet', graphs.unet], ['vae_encoder', graphs.vaeEncoder], ['vae_decoder', graphs.vaeDecoder]] as const;
  for (const [sub, built] of parts) {
    const path = join(dir, sub, 'model.onnx');
    const { external } = built.graph.write(path);
    for (const file of external ? [path, `${path}.data`] : [path]) {
      const written = { path: join(finalDir, sub, file.slice(join(dir, sub).length + 1)), bytes: statSync(file).size };
      files.push(written);
      onFile?.(written);
    }
  }
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(dir, finalDir);
  return files;
}
