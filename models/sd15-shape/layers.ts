/**
 * The layers of SD 1.5's models as a PyTorch → ONNX export (opset 17) writes them: GroupNorm as
 * Reshape → InstanceNormalization → Reshape → Mul → Add, Linear as MatMul (+ Add), attention as
 * MatMul → Softmax → MatMul, GELU through Erf, SiLU as Sigmoid × x. Weights carry diffusers' and
 * transformers' state-dict names. Each layer adds the multiply-accumulates it costs per image to
 * `macs`, from the positions (pixels or tokens) the caller says it runs on.
 */
import type { WeightedGraph } from './weighted-graph.js';

/** Initial weights: std = gain / √fan_in keeps activations near unit scale; residual branches end small so the stream stays finite in fp16. */
export const RESIDUAL_GAIN = 0.2;
const BIAS_STD = 0.01;

export interface AttentionShape {
  heads: number;
  dim: number;
  /** Width of the keys' and values' source (the text hidden size for cross-attention). */
  contextDim: number;
  queries: number;
  keys: number;
  /** Biases on to_q/to_k/to_v: CLIP and the VAE have them, the UNet does not. */
  qkvBias: boolean;
  /** Names of the projections: diffusers' to_q…to_out.0, or transformers' q_proj…out_proj. */
  names: { q: string; k: string; v: string; out: string };
  /** An additive mask [queries, keys] (CLIP's causal mask). */
  mask?: string;
}

export const DIFFUSERS_ATTENTION = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };

export class Layers {
  /** Multiply-accumulates per image so far: with weights (convolutions, linear layers), and between activations (attention's two products). */
  readonly macs = { weights: 0, attention: 0 };

  constructor(readonly g: WeightedGraph) {}

  conv(x: string, prefix: string, cin: number, cout: number, o: { kernel?: number; stride?: number; pads?: number[]; positions: number; gain?: number }): string {
    const k = o.kernel ?? 3;
    const pad = (k - 1) / 2;
    const w = this.g.weight(`${prefix}.weight`, [cout, cin, k, k], { std: (o.gain ?? 1) / Math.sqrt(cin * k * k) });
    const b = this.g.weight(`${prefix}.bias`, [cout], { std: BIAS_STD });
    this.macs.weights += cout * cin * k * k * o.positions;
    return this.g.op('Conv', [x, w, b], { kernel_shape: [k, k], strides: [o.stride ?? 1, o.stride ?? 1], pads: o.pads ?? [pad, pad, pad, pad] });
  }

  /** x [..., cin] → [..., cout]; the weight is stored [cin, cout], as exporters transpose it for MatMul. */
  linear(x: string, prefix: string, cin: number, cout: number, o: { positions: number; bias?: boolean; gain?: number }): string {
    const w = this.g.weight(`${prefix}.weight`, [cin, cout], { std: (o.gain ?? 1) / Math.sqrt(cin) });
    this.macs.weights += cin * cout * o.positions;
    const y = this.g.op('MatMul', [x, w]);
    return o.bias === false ? y : this.g.op('Add', [y, this.g.weight(`${prefix}.bias`, [cout], { std: BIAS_STD })]);
  }

  /** torch's GroupNorm below opset 18: normalise each group with InstanceNormalization, then the per-channel affine. */
  groupNorm(x: string, prefix: string, channels: number, groups: number, eps: number): string {
    const grouped = this.g.op('Reshape', [x, this.g.constInt64([0, groups, -1])]);
    const normalised = this.g.op('InstanceNormalization', [grouped, this.g.constant(1, [groups]), this.g.constant(0, [groups])], { epsilon: eps });
    const back = this.g.op('Reshape', [normalised, this.g.op('Shape', [x])]);
    const gamma = this.g.weight(`${prefix}.weight`, [channels, 1, 1], { value: 1 });
    const beta = this.g.weight(`${prefix}.bias`, [channels, 1, 1], { value: 0 });
    return this.g.op('Add', [this.g.op('Mul', [back, gamma]), beta]);
  }

  layerNorm(x: string, prefix: string, dim: number, eps = 1e-5): string {
    const gamma = this.g.weight(`${prefix}.weight`, [dim], { value: 1 });
    const beta = this.g.weight(`${prefix}.bias`, [dim], { value: 0 });
    return this.g.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: eps });
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  /** GELU as torch exports it: x · ½ · (1 + erf(x / √2)). */
  gelu(x: string): string {
    const erf = this.g.op('Erf', [this.g.op('Div', [x, this.g.constant(Math.SQRT2, [])])]);
    return this.g.op('Mul', [this.g.op('Mul', [x, this.g.op('Add', [erf, this.g.constant(1, [])])]), this.g.constant(0.5, [])]);
  }

  /** CLIP's quick_gelu: x · sigmoid(1.702 x). */
  quickGelu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [this.g.op('Mul', [x, this.g.constant(1.702, [])])])]);
  }

  /** Multi-head attention: x [B, N, dim] attends to context [B, M, contextDim] → [B, N, dim]. */
  attention(x: string, context: string, prefix: string, a: AttentionShape): string {
    const { heads, dim } = a;
    const headDim = dim / heads;
    const project = (input: string, name: string, cin: number, positions: number) =>
      this.linear(input, `${prefix}.${name}`, cin, dim, { positions, bias: a.qkvBias });
    // Queries are scaled before the product, where it costs N·dim multiplies rather than N·M per head.
    const q = this.g.op('Mul', [project(x, a.names.q, dim, a.queries), this.g.constant(1 / Math.sqrt(headDim), [])]);
    const k = project(context, a.names.k, a.contextDim, a.keys);
    const v = project(context, a.names.v, a.contextDim, a.keys);
    const split = (t: string, perm: number[]) => this.g.op('Transpose', [this.g.op('Reshape', [t, this.g.constInt64([0, 0, heads, headDim])])], { perm });
    let scores = this.g.op('MatMul', [split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])]); // [B, h, N, M]
    if (a.mask) scores = this.g.op('Add', [scores, a.mask]);
    const weights = this.g.op('Softmax', [scores], { axis: -1 });
    const mixed = this.g.op('MatMul', [weights, split(v, [0, 2, 1, 3])]); // [B, h, N, d]
    this.macs.attention += 2 * a.queries * a.keys * dim;
    const merged = this.g.op('Reshape', [this.g.op('Transpose', [mixed], { perm: [0, 2, 1, 3] }), this.g.constInt64([0, 0, dim])]);
    return this.linear(merged, `${prefix}.${a.names.out}`, dim, dim, { positions: a.queries, gain: RESIDUAL_GAIN });
  }

  /**
   * diffusers' ResnetBlock2D: GroupNorm → SiLU → conv → (+ time embedding) → GroupNorm → SiLU → conv,
   * plus the input (through a 1×1 conv when the channels change).
   */
  resnet(x: string, prefix: string, o: { cin: number; cout: number; groups: number; eps: number; positions: number; temb?: { value: string; dim: number } }): string {
    const { cin, cout, positions } = o;
    let h = this.conv(this.silu(this.groupNorm(x, `${prefix}.norm1`, cin, o.groups, o.eps)), `${prefix}.conv1`, cin, cout, { positions });
    if (o.temb) {
      const t = this.linear(this.silu(o.temb.value), `${prefix}.time_emb_proj`, o.temb.dim, cout, { positions: 1 });
      h = this.g.op('Add', [h, this.g.op('Unsqueeze', [t, this.g.constInt64([2, 3])])]);
    }
    h = this.conv(this.silu(this.groupNorm(h, `${prefix}.norm2`, cout, o.groups, o.eps)), `${prefix}.conv2`, cout, cout, { positions, gain: RESIDUAL_GAIN });
    const shortcut = cin === cout ? x : this.conv(x, `${prefix}.conv_shortcut`, cin, cout, { kernel: 1, positions });
    return this.g.op('Add', [shortcut, h]);
  }

  /** [B, C, H, W] → [B, H·W, C], and the shape to undo it with. */
  toTokens(x: string, channels: number): { tokens: string; shape: string } {
    const nhwc = this.g.op('Transpose', [x], { perm: [0, 2, 3, 1] });
    return { tokens: this.g.op('Reshape', [nhwc, this.g.constInt64([0, -1, channels])]), shape: this.g.op('Shape', [nhwc]) };
  }

  fromTokens(tokens: string, shape: string): string {
    return this.g.op('Transpose', [this.g.op('Reshape', [tokens, shape])], { perm: [0, 3, 1, 2] });
  }

  upsample(x: string, prefix: string, channels: number, positions: number): string {
    const scales = this.g.constant([1, 1, 2, 2], [4], 'float32');
    const up = this.g.op('Resize', [x, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
    return this.conv(up, `${prefix}.conv`, channels, channels, { positions });
  }
}
