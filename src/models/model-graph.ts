/**
 * In-memory rewrites of an ONNX model before its session is created, for exports whose graph
 * does something we must not do at run time. Only the graph is touched; the file on disk stays
 * as it was.
 */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { GasError } from '../errors.js';

const { onnx } = onnxProto;

const RANDOM_NORMAL = /^RandomNormal(Like)?$/;

export interface DenoisedModel {
  /** The rewritten model, or undefined when it draws no noise and can be opened from its file. */
  bytes: Uint8Array | undefined;
  /** The names of the noise nodes replaced by zeros. */
  replaced: string[];
}

/**
 * Replaces every RandomNormal/RandomNormalLike node by its mean (zeros: torch's randn traces with
 * mean 0), so a VAE encoder that samples `mean + std·noise` returns its mean, and the same seed
 * gives the same edit. A model that draws no noise is not parsed at all: the op's name is looked
 * for in the bytes first, since parsing a large graph costs seconds.
 */
export function withoutNoise(file: string): DenoisedModel {
  const raw = readFileSync(file);
  if (!raw.includes('RandomNormal')) return { bytes: undefined, replaced: [] };
  const model = onnx.ModelProto.decode(raw);
  const graph = model.graph;
  if (!graph) return { bytes: undefined, replaced: [] };
  if ((graph.initializer ?? []).some((init) => init.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)) {
    // A session made from bytes has no folder to find external weights in (onnxruntime-node takes no external data).
    throw new GasError(
      'bundle_invalid',
      `${file} samples its latent (RandomNormalLike) and keeps its weights in a separate file, so gas cannot make it deterministic. Use an export with the weights inside model.onnx, or one that returns latent_parameters (optimum ≥ 1.23).`,
    );
  }
  const replaced: string[] = [];
  const nodes: onnxProto.onnx.INodeProto[] = [];
  (graph.node ?? []).forEach((node, index) => {
    if ((node.domain ?? '') !== '' || !RANDOM_NORMAL.test(node.opType ?? '')) {
      nodes.push(node);
      return;
    }
    const name = node.name || `${node.opType}_${index}`;
    replaced.push(name);
    const out = node.output?.[0] ?? name;
    const attr = (key: string) => node.attribute?.find((a) => a.name === key);
    const mean = attr('mean')?.f ?? 0;
    const dtype = attr('dtype')?.i;
    if (node.opType === 'RandomNormalLike') {
      // x − x: zeros of x's shape and type (then the declared dtype, when there is one).
      const zeros = dtype === undefined && mean === 0 ? out : `${out}__zeros`;
      nodes.push({ opType: 'Sub', name: `${name}__zero_noise`, input: [node.input?.[0] ?? '', node.input?.[0] ?? ''], output: [zeros] });
      let value = zeros;
      if (dtype !== undefined) {
        value = mean === 0 ? out : `${out}__cast`;
        nodes.push({ opType: 'Cast', name: `${name}__cast`, input: [zeros], output: [value], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: dtype }] });
      }
      if (mean !== 0) {
        const meanName = `${out}__mean`;
        (graph.initializer ??= []).push({ name: meanName, dims: [], dataType: Number(dtype ?? onnx.TensorProto.DataType.FLOAT), floatData: [mean] });
        nodes.push({ opType: 'Add', name: `${name}__mean`, input: [value, meanName], output: [out] });
      }
    } else {
      // RandomNormal has its shape as an attribute: a constant of that shape, all `mean`.
      const shape = (attr('shape')?.ints ?? []).map(Number);
      const count = shape.reduce((a, b) => a * b, 1);
      const dataType = Number(dtype ?? onnx.TensorProto.DataType.FLOAT);
      const value: onnxProto.onnx.ITensorProto = { name: `${out}__value`, dims: shape, dataType };
      if (dataType === onnx.TensorProto.DataType.FLOAT) value.floatData = new Array<number>(count).fill(mean);
      else if (dataType === onnx.TensorProto.DataType.DOUBLE) value.doubleData = new Array<number>(count).fill(mean);
      else value.int32Data = new Array<number>(count).fill(0); // float16 and integer types: zeros (torch traces randn with mean 0)
      nodes.push({
        opType: 'Constant',
        name: `${name}__zero_noise`,
        output: [out],
        attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: value }],
      });
    }
  });
  graph.node = nodes;
  return { bytes: onnx.ModelProto.encode(model).finish(), replaced };
}
