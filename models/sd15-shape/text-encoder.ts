/**
 * CLIP ViT-L/14's text model (transformers' CLIPTextModel) as diffusers' ONNX export presents it:
 * input_ids int32 [B, 77] → last_hidden_state [B, 77, 768] and pooler_output [B, 768] (the
 * hidden state at each prompt's end-of-text token). Token + position embeddings, 12 pre-norm
 * layers of causal self-attention and a quick_gelu MLP, then a final LayerNorm.
 */
import type { TextEncoderConfig } from './config.js';
import { Layers } from './layers.js';
import type { BuiltGraph } from './unet.js';
import { WeightedGraph, type FloatDType } from './weighted-graph.js';

const INT32 = 6;
/** What the causal mask adds above the diagonal: far below any score, and finite in fp16. */
const MASKED = -1e4;

export function buildTextEncoder(config: TextEncoderConfig, dtype: FloatDType, seed: number, endOfText: number): BuiltGraph {
  const g = new WeightedGraph('sd15_shape_text_encoder', dtype, seed);
  const L = new Layers(g);
  const { contextLength: n, hidden } = config;
  const ids = g.input('input_ids', 'int32', ['batch', n]);
  const tokens = g.op('Gather', [g.weight('text_model.embeddings.token_embedding.weight', [config.vocabSize, hidden], { std: 0.02 }), ids], { axis: 0 });
  const positions = g.op('Gather', [
    g.weight('text_model.embeddings.position_embedding.weight', [n, hidden], { std: 0.01 }),
    g.constInt64(Array.from({ length: n }, (_, i) => i), [1, n]),
  ], { axis: 0 });
  let h = g.op('Add', [tokens, positions]);
  const mask = g.constant(Array.from({ length: n * n }, (_, i) => (i % n > Math.floor(i / n) ? MASKED : 0)), [1, 1, n, n]);
  const names = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' };
  for (let i = 0; i < config.layers; i++) {
    const layer = `text_model.encoder.layers.${i}`;
    const normed = L.layerNorm(h, `${layer}.layer_norm1`, hidden);
    h = g.op('Add', [h, L.attention(normed, normed, `${layer}.self_attn`, { heads: config.heads, dim: hidden, contextDim: hidden, queries: n, keys: n, qkvBias: true, names, mask })]);
    const mlp = L.linear(L.quickGelu(L.linear(L.layerNorm(h, `${layer}.layer_norm2`, hidden), `${layer}.mlp.fc1`, hidden, config.mlp, { positions: n })), `${layer}.mlp.fc2`, config.mlp, hidden, { positions: n });
    h = g.op('Add', [h, mlp]);
  }
  h = L.layerNorm(h, 'text_model.final_layer_norm', hidden);
  g.output(h, 'last_hidden_state', dtype, ['batch', n, hidden]);
  // The first end-of-text token of each prompt, as transformers finds it: argmax of (ids == eos).
  const isEnd = g.op('Cast', [g.op('Equal', [ids, g.op('Cast', [g.constInt64([endOfText], [])], { to: INT32 })])], { to: INT32 });
  const end = g.op('ArgMax', [isEnd], { axis: -1, keepdims: 1 }); // [B, 1]
  g.output(g.op('GatherND', [h, end], { batch_dims: 1 }), 'pooler_output', dtype, ['batch', hidden]);
  return { graph: g, macs: L.macs };
}
