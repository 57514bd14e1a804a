/**
 * SD 1.5's AutoencoderKL, split as diffusers' ONNX export splits it: the encoder (sample
 * [B, 3, H, W] → latent_parameters [B, 8, H/8, W/8], mean ‖ logvar after quant_conv) and the
 * decoder (latent_sample [B, 4, h, w] → post_quant_conv → sample [B, 3, 8h, 8w]). Both have a
 * mid block of ResNet, single-head attention, ResNet.
 */
import type { VaeConfig } from './config.js';
import { DIFFUSERS_ATTENTION, Layers } from './layers.js';
import type { BuiltGraph } from './unet.js';
import { WeightedGraph, type FloatDType } from './weighted-graph.js';

const EPS = 1e-6;
const IMAGE_CHANNELS = 3;

/** `image`: the size the MAC count is for. */
export function buildVaeEncoder(config: VaeConfig, dtype: FloatDType, seed: number, image = { height: 512, width: 512 }): BuiltGraph {
  const g = new WeightedGraph('sd15_shape_vae_encoder', dtype, seed);
  const L = new Layers(g);
  const channels = config.blockOutChannels;
  let size = { ...image };
  const positions = () => size.height * size.width;
  const sample = g.input('sample', dtype, ['batch', IMAGE_CHANNELS, 'height', 'width']);
  let h = L.conv(sample, 'encoder.conv_in', IMAGE_CHANNELS, channels[0], { positions: positions() });
  let current = channels[0];
  channels.forEach((out, i) => {
    for (let j = 0; j < config.layersPerBlock; j++) {
      h = L.resnet(h, `encoder.down_blocks.${i}.resnets.${j}`, { cin: current, cout: out, groups: config.groups, eps: EPS, positions: positions() });
      current = out;
    }
    if (i < channels.length - 1) {
      // diffusers pads right and bottom by one, then convolves with stride 2 and no padding.
      size = { height: Math.floor(size.height / 2), width: Math.floor(size.width / 2) };
      h = L.conv(h, `encoder.down_blocks.${i}.downsamplers.0.conv`, out, out, { stride: 2, pads: [0, 0, 1, 1], positions: positions() });
    }
  });
  h = midBlock(L, h, 'encoder.mid_block', current, config, positions());
  h = L.silu(L.groupNorm(h, 'encoder.conv_norm_out', current, config.groups, EPS));
  const moments = 2 * config.latentChannels;
  h = L.conv(h, 'encoder.conv_out', current, moments, { positions: positions() });
  h = L.conv(h, 'quant_conv', moments, moments, { kernel: 1, positions: positions() });
  g.output(h, 'latent_parameters', dtype, ['batch', moments, 'latent_height', 'latent_width']);
  return { graph: g, macs: L.macs };
}

/** `latent`: the size the MAC count is for. */
export function buildVaeDecoder(config: VaeConfig, dtype: FloatDType, seed: number, latent = { height: 64, width: 64 }): BuiltGraph {
  const g = new WeightedGraph('sd15_shape_vae_decoder', dtype, seed);
  const L = new Layers(g);
  const reversed = [...config.blockOutChannels].reverse();
  let size = { ...latent };
  const positions = () => size.height * size.width;
  const z = config.latentChannels;
  const latentSample = g.input('latent_sample', dtype, ['batch', z, 'latent_height', 'latent_width']);
  let h = L.conv(latentSample, 'post_quant_conv', z, z, { kernel: 1, positions: positions() });
  h = L.conv(h, 'decoder.conv_in', z, reversed[0], { positions: positions() });
  let current = reversed[0];
  h = midBlock(L, h, 'decoder.mid_block', current, config, positions());
  reversed.forEach((out, i) => {
    for (let j = 0; j <= config.layersPerBlock; j++) {
      h = L.resnet(h, `decoder.up_blocks.${i}.resnets.${j}`, { cin: current, cout: out, groups: config.groups, eps: EPS, positions: positions() });
      current = out;
    }
    if (i < reversed.length - 1) {
      size = { height: size.height * 2, width: size.width * 2 };
      h = L.upsample(h, `decoder.up_blocks.${i}.upsamplers.0`, out, positions());
    }
  });
  h = L.silu(L.groupNorm(h, 'decoder.conv_norm_out', current, config.groups, EPS));
  h = L.conv(h, 'decoder.conv_out', current, IMAGE_CHANNELS, { positions: positions() });
  g.output(h, 'sample', dtype, ['batch', IMAGE_CHANNELS, 'height', 'width']);
  return { graph: g, macs: L.macs };
}

/** UNetMidBlock2D: ResNet, then GroupNorm → single-head attention over the pixels (+ input), then ResNet. */
function midBlock(L: Layers, x: string, prefix: string, channels: number, config: VaeConfig, positions: number): string {
  const resnet = (h: string, name: string) => L.resnet(h, `${prefix}.resnets.${name}`, { cin: channels, cout: channels, groups: config.groups, eps: EPS, positions });
  let h = resnet(x, '0');
  const attention = `${prefix}.attentions.0`;
  const { tokens, shape } = L.toTokens(L.groupNorm(h, `${attention}.group_norm`, channels, config.groups, EPS), channels);
  const attended = L.attention(tokens, tokens, attention, {
    heads: 1, dim: channels, contextDim: channels, queries: positions, keys: positions, qkvBias: true,
    names: DIFFUSERS_ATTENTION,
  });
  h = L.g.op('Add', [L.fromTokens(attended, shape), h]);
  return resnet(h, '1');
}
