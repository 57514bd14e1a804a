/**
 * The architecture of Stable Diffusion 1.5 as numbers (diffusers' UNet2DConditionModel and
 * AutoencoderKL configs of runwayml/stable-diffusion-v1-5, transformers' CLIPTextModel of
 * openai/clip-vit-large-patch14), and a scaled-down copy with fewer channels that runs on a CPU.
 */

export interface UNetConfig {
  blockOutChannels: readonly number[];
  layersPerBlock: number;
  /** diffusers' `attention_head_dim` 8 of SD 1.5 is in fact the number of heads. */
  heads: number;
  /** Which down blocks are CrossAttnDownBlock2D (the up blocks mirror them). */
  crossAttention: readonly boolean[];
  groups: number;
  /** GroupNorm eps of the ResNet blocks (Transformer2DModel's own GroupNorm uses 1e-6). */
  eps: number;
}

export interface TextEncoderConfig {
  vocabSize: number;
  contextLength: number;
  hidden: number;
  layers: number;
  heads: number;
  mlp: number;
}

export interface VaeConfig {
  blockOutChannels: readonly number[];
  layersPerBlock: number;
  groups: number;
  latentChannels: number;
  scalingFactor: number;
}

export interface Sd15ShapeConfig {
  unet: UNetConfig;
  text: TextEncoderConfig;
  vae: VaeConfig;
}

export const SD15: Sd15ShapeConfig = {
  unet: { blockOutChannels: [320, 640, 1280, 1280], layersPerBlock: 2, heads: 8, crossAttention: [true, true, true, false], groups: 32, eps: 1e-5 },
  text: { vocabSize: 49408, contextLength: 77, hidden: 768, layers: 12, heads: 12, mlp: 3072 },
  vae: { blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, groups: 32, latentChannels: 4, scalingFactor: 0.18215 },
};

/**
 * The same networks with a tenth of the channels, a narrower text encoder and 2 attention heads
 * (8 heads of 4 channels would spend a CPU's time on softmax over 8 score maps): about a
 * second per iteration on a CPU.
 */
export const SD15_TINY: Sd15ShapeConfig = {
  unet: { ...SD15.unet, blockOutChannels: [32, 64, 128, 128], heads: 2, groups: 8 },
  text: { ...SD15.text, hidden: 64, heads: 4, mlp: 256 },
  vae: { ...SD15.vae, blockOutChannels: [16, 32, 64, 64], groups: 8 },
};

export const RANDOM_SHAPES = { 'sd15-shape': SD15, 'sd15-shape-tiny': SD15_TINY } as const;
export type RandomShapeName = keyof typeof RANDOM_SHAPES;
export const RANDOM_SHAPE_NAMES = Object.keys(RANDOM_SHAPES) as RandomShapeName[];

export const RANDOM_DTYPES = ['fp16', 'fp32'] as const;
export type RandomDType = (typeof RANDOM_DTYPES)[number];

/** Published parameter counts of SD 1.5's parts (PyTorch state dicts), which the full shape must match. */
export const SD15_PARAMETERS = { unet: 859_520_964, textEncoder: 123_060_480, vae: 83_653_863 } as const;
