/**
 * SD 1.5's UNet2DConditionModel as diffusers' ONNX export presents it: sample [B, 4, h, w],
 * timestep [B] and encoder_hidden_states [B, 77, 768] in the model's float type → out_sample.
 * conv_in → 3 CrossAttnDownBlock2D + DownBlock2D → UNetMidBlock2DCrossAttn → UpBlock2D +
 * 3 CrossAttnUpBlock2D → GroupNorm → SiLU → conv_out, with skip connections between them.
 */
import { DIFFUSERS_ATTENTION, Layers, RESIDUAL_GAIN } from './layers.js';
import type { TextEncoderConfig, UNetConfig } from './config.js';
import { WeightedGraph, type FloatDType } from './weighted-graph.js';

const LATENT_CHANNELS = 4;
const TRANSFORMER_NORM_EPS = 1e-6;
const MAX_PERIOD = 10_000;
const FLOAT32 = 1;
const FLOAT16 = 10;

export interface BuiltGraph {
  graph: WeightedGraph;
  /** Multiply-accumulates per image at the size given to the builder: with weights, and attention's products. */
  macs: { weights: number; attention: number };
}

/** `latent`: the size the MAC count is for; the graph itself takes any size (multiples of 8). */
export function buildUNet(config: UNetConfig, text: TextEncoderConfig, dtype: FloatDType, seed: number, latent = { height: 64, width: 64 }): BuiltGraph {
  const g = new WeightedGraph('sd15_shape_unet', dtype, seed);
  const L = new Layers(g);
  const channels = config.blockOutChannels;
  const timeDim = 4 * channels[0];
  const sample = g.input('sample', dtype, ['batch', LATENT_CHANNELS, 'height', 'width']);
  const timestep = g.input('timestep', dtype, ['batch']);
  const context = g.input('encoder_hidden_states', dtype, ['batch', text.contextLength, text.hidden]);

  // Timesteps(320, flip_sin_to_cos=True, downscale_freq_shift=0), in float32 as diffusers computes it, then TimestepEmbedding.
  const half = channels[0] / 2;
  const frequencies = Array.from({ length: half }, (_, i) => Math.exp((-Math.log(MAX_PERIOD) * i) / half));
  const angles = g.op('Mul', [
    g.op('Unsqueeze', [g.op('Cast', [timestep], { to: FLOAT32 }), g.constInt64([1])]),
    g.constant(frequencies, [1, half], 'float32'),
  ]);
  let temb = g.op('Concat', [g.op('Cos', [angles]), g.op('Sin', [angles])], { axis: 1 });
  if (dtype === 'float16') temb = g.op('Cast', [temb], { to: FLOAT16 });
  temb = L.linear(L.silu(L.linear(temb, 'time_embedding.linear_1', channels[0], timeDim, { positions: 1 })), 'time_embedding.linear_2', timeDim, timeDim, { positions: 1 });
  const time = { value: temb, dim: timeDim };

  let size = { ...latent };
  const positions = () => size.height * size.width;
  const resnet = (x: string, prefix: string, cin: number, cout: number) =>
    L.resnet(x, prefix, { cin, cout, groups: config.groups, eps: config.eps, positions: positions(), temb: time });
  const transformer = (x: string, prefix: string, dim: number) => transformer2d(L, x, context, prefix, dim, config, text, positions());

  let h = L.conv(sample, 'conv_in', LATENT_CHANNELS, channels[0], { positions: positions() });
  const skips: { value: string; channels: number }[] = [{ value: h, channels: channels[0] }];
  let current = channels[0];
  channels.forEach((out, i) => {
    for (let j = 0; j < config.layersPerBlock; j++) {
      h = resnet(h, `down_blocks.${i}.resnets.${j}`, current, out);
      if (config.crossAttention[i]) h = transformer(h, `down_blocks.${i}.attentions.${j}`, out);
      current = out;
      skips.push({ value: h, channels: out });
    }
    if (i < channels.length - 1) {
      size = { height: Math.ceil(size.height / 2), width: Math.ceil(size.width / 2) };
      h = L.conv(h, `down_blocks.${i}.downsamplers.0.conv`, out, out, { stride: 2, positions: positions() });
      skips.push({ value: h, channels: out });
    }
  });

  const mid = channels[channels.length - 1];
  h = resnet(h, 'mid_block.resnets.0', mid, mid);
  h = transformer(h, 'mid_block.attentions.0', mid);
  h = resnet(h, 'mid_block.resnets.1', mid, mid);

  const reversed = [...channels].reverse();
  const reversedAttention = [...config.crossAttention].reverse();
  reversed.forEach((out, i) => {
    for (let j = 0; j <= config.layersPerBlock; j++) {
      const skip = skips.pop()!;
      h = resnet(g.op('Concat', [h, skip.value], { axis: 1 }), `up_blocks.${i}.resnets.${j}`, current + skip.channels, out);
      if (reversedAttention[i]) h = transformer(h, `up_blocks.${i}.attentions.${j}`, out);
      current = out;
    }
    if (i < reversed.length - 1) {
      size = { height: size.height * 2, width: size.width * 2 };
      h = L.upsample(h, `up_blocks.${i}.upsamplers.0`, out, positions());
    }
  });

  h = L.silu(L.groupNorm(h, 'conv_norm_out', channels[0], config.groups, config.eps));
  h = L.conv(h, 'conv_out', channels[0], LATENT_CHANNELS, { positions: positions() });
  g.output(h, 'out_sample', dtype, ['batch', LATENT_CHANNELS, 'height', 'width']);
  return { graph: g, macs: L.macs };
}

/** Transformer2DModel with conv 1×1 proj_in/proj_out and one BasicTransformerBlock (self-attention, cross-attention, GEGLU). */
function transformer2d(L: Layers, x: string, context: string, prefix: string, dim: number, config: UNetConfig, text: TextEncoderConfig, positions: number): string {
  const { g } = L;
  const normed = L.groupNorm(x, `${prefix}.norm`, dim, config.groups, TRANSFORMER_NORM_EPS);
  const { tokens, shape } = L.toTokens(L.conv(normed, `${prefix}.proj_in`, dim, dim, { kernel: 1, positions }), dim);
  const block = `${prefix}.transformer_blocks.0`;
  const attention = { heads: config.heads, dim, queries: positions, qkvBias: false, names: DIFFUSERS_ATTENTION };
  let h = tokens;
  let n = L.layerNorm(h, `${block}.norm1`, dim);
  h = g.op('Add', [h, L.attention(n, n, `${block}.attn1`, { ...attention, contextDim: dim, keys: positions })]);
  n = L.layerNorm(h, `${block}.norm2`, dim);
  h = g.op('Add', [h, L.attention(n, context, `${block}.attn2`, { ...attention, contextDim: text.hidden, keys: text.contextLength })]);
  n = L.layerNorm(h, `${block}.norm3`, dim);
  // GEGLU: one projection to 2 × 4·dim, split into the value and its GELU gate.
  const inner = 4 * dim;
  const projected = L.linear(n, `${block}.ff.net.0.proj`, dim, 2 * inner, { positions });
  const [value, gate] = g.split(projected, [inner, inner], -1);
  const ff = L.linear(g.op('Mul', [value, L.gelu(gate)]), `${block}.ff.net.2`, inner, dim, { positions, gain: RESIDUAL_GAIN });
  h = g.op('Add', [h, ff]);
  const out = L.conv(L.fromTokens(h, shape), `${prefix}.proj_out`, dim, dim, { kernel: 1, positions, gain: RESIDUAL_GAIN });
  return g.op('Add', [out, x]);
}
