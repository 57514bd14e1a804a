/**
 * An OnnxGraph whose weights are generated while the file is written, so a graph's weights are
 * never all in memory at once: SD 1.5's UNet is 1.7 GB in fp16 and 3.4 GB in fp32. Weights are
 * deterministic uniform noise from a seed and the weight's name, so each one is reproducible on
 * its own. Graphs whose weights would pass protobuf's 2 GB limit keep them in `model.onnx.data`
 * (ONNX external data); smaller ones embed them, as real exports do.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import onnxProto from 'onnx-proto';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { ELEM, OnnxGraph, OPSET } from '../colour-world/onnx-graph.js';

const { onnx } = onnxProto;

export type FloatDType = 'float16' | 'float32';

/** Uniform noise with this standard deviation, one value everywhere, or the values given. */
export type WeightFill = { std: number } | { value: number } | { values: ArrayLike<number> };

interface Weight {
  name: string;
  dims: number[];
  type: FloatDType;
  fill: WeightFill;
  /** A model parameter (counted), or a constant an exporter adds (norm unit scales, masks, frequencies). */
  parameter: boolean;
}

/** Protobuf refuses messages over 2 GiB; leave room for the graph itself. */
const EMBED_LIMIT = 2 ** 31 - 2 ** 26;
/** External tensors start on a page boundary, as onnx's own writer aligns them, so they can be mapped. */
const EXTERNAL_ALIGN = 4096;
/** Smaller parameters stay inside the graph, as onnx's own converter leaves tensors under 1 KiB. */
const EXTERNAL_MIN_BYTES = 1024;
/** Elements generated and written at a time. */
const CHUNK = 1 << 22;
/** Levels of the uniform noise: 12 bits, two per 32-bit draw. */
const LEVELS = 4096;

/** ONNX element type numbers → the names ONNX Runtime's metadata uses. */
const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ELEM).map(([name, number]) => [number, name]));

/** Protobuf field tags (field number << 3 | wire type 2, length-delimited). */
const TAG = { modelGraph: (7 << 3) | 2, graphInitializer: (5 << 3) | 2, tensorRawData: (9 << 3) | 2 };

export class WeightedGraph extends OnnxGraph {
  private readonly weights: Weight[] = [];

  constructor(name: string, readonly dtype: FloatDType, private readonly seed: number) {
    super(name);
  }

  /** A named model parameter in the graph's float type. */
  weight(name: string, dims: number[], fill: WeightFill): string {
    this.weights.push({ name, dims, type: this.dtype, fill, parameter: true });
    return name;
  }

  /** A constant that is not a parameter, in the graph's float type unless `type` says otherwise. */
  constant(fill: number | ArrayLike<number>, dims: number[], type: FloatDType = this.dtype, hint = 'const'): string {
    const name = this.fresh(hint);
    this.weights.push({ name, dims, type, fill: typeof fill === 'number' ? { value: fill } : { values: fill }, parameter: false });
    return name;
  }

  /** Splits `x` along `axis` into parts of the given sizes (Split has several outputs, which `op` does not name). */
  split(x: string, sizes: number[], axis: number): string[] {
    const outputs = sizes.map(() => this.fresh('split'));
    this.nodes.push({ opType: 'Split', name: `Split_${this.nodes.length}`, input: [x, this.constInt64(sizes)], output: outputs, attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }] });
    return outputs;
  }

  /** Number of model parameters (what a PyTorch state dict holds). */
  parameterCount(): number {
    return this.weights.reduce((sum, w) => sum + (w.parameter ? elements(w.dims) : 0), 0);
  }

  /** Bytes of all weights and constants. */
  weightBytes(): number {
    return this.weights.reduce((sum, w) => sum + elements(w.dims) * bytesPer(w.type), 0);
  }

  /** The declared inputs and outputs: names, element types and dims (numbers fixed, strings symbolic). */
  signature(): Record<'inputs' | 'outputs', { name: string; type: string; shape: (number | string)[] }[]> {
    const describe = (info: onnxProto.onnx.IValueInfoProto) => ({
      name: info.name ?? '',
      type: TYPE_NAMES[info.type?.tensorType?.elemType ?? 0] ?? 'unknown',
      shape: (info.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue)),
    });
    return { inputs: this.inputs.map(describe), outputs: this.outputs.map(describe) };
  }

  /**
   * Writes `path`, generating each weight as it goes. Weights past `embedLimit` bytes in all
   * (default: what protobuf can hold) go to `path.data` instead.
   */
  write(path: string, options: { embedLimit?: number } = {}): { external: boolean } {
    const external = this.weightBytes() > (options.embedLimit ?? EMBED_LIMIT);
    const dataFile = `${basename(path)}.data`;
    let dataOffset = 0;
    // head: the tensor's fields but its data; raw: the bytes streamed after it; offset: where its data starts in the data file.
    const embedded = (meta: onnxProto.onnx.ITensorProto) => ({ head: onnx.TensorProto.encode(meta).finish(), weight: undefined, raw: 0, offset: undefined });
    const tensors: { head: Uint8Array; weight: Weight | undefined; raw: number; offset: number | undefined }[] = [
      ...this.initializers.map((init) => embedded({
        name: init.name,
        dims: init.dims,
        dataType: init.data instanceof Float32Array ? ELEM.float32 : ELEM.int64,
        rawData: Buffer.from(init.data.buffer, init.data.byteOffset, init.data.byteLength),
      })),
      ...this.weights.map((weight) => {
        const meta: onnxProto.onnx.ITensorProto = { name: weight.name, dims: weight.dims, dataType: ELEM[weight.type] };
        const length = elements(weight.dims) * bytesPer(weight.type);
        // Constants stay inside: shape inference reads some of them (Resize's scales), and cannot read external data.
        if (!external || !weight.parameter || length < EXTERNAL_MIN_BYTES) return { head: onnx.TensorProto.encode(meta).finish(), weight, raw: length, offset: undefined };
        const offset = Math.ceil(dataOffset / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
        dataOffset = offset + length;
        meta.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        meta.externalData = [
          { key: 'location', value: dataFile },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(length) },
        ];
        return { head: onnx.TensorProto.encode(meta).finish(), weight, raw: 0, offset };
      }),
    ];
    // raw_data is appended by hand after a tensor's other fields (protobuf allows any field order), so it can be streamed.
    const tensorLength = (t: (typeof tensors)[number]) => t.head.length + (t.raw > 0 ? 1 + varintLength(t.raw) + t.raw : 0);

    const graph = onnx.GraphProto.encode({ name: this.name, node: this.nodes, input: this.inputs, output: this.outputs }).finish();
    const graphLength = graph.length + tensors.reduce((sum, t) => sum + 1 + varintLength(tensorLength(t)) + tensorLength(t), 0);
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      producerName: 'ground-a-score sd15-shape builder (random weights)',
      opsetImport: [{ domain: '', version: OPSET }],
    }).finish();

    const fd = openSync(path, 'w');
    const dataFd = external ? openSync(`${path}.data`, 'w') : undefined;
    try {
      const put = (bytes: Uint8Array) => writeAll(fd, bytes, null);
      put(model);
      put(field(TAG.modelGraph, graphLength));
      put(graph);
      for (const tensor of tensors) {
        put(field(TAG.graphInitializer, tensorLength(tensor)));
        put(tensor.head);
        if (!tensor.weight) continue;
        if (tensor.offset !== undefined) {
          let position = tensor.offset;
          for (const chunk of this.chunks(tensor.weight)) position = writeAll(dataFd!, chunk, position);
        } else {
          put(field(TAG.tensorRawData, tensor.raw));
          for (const chunk of this.chunks(tensor.weight)) put(chunk);
        }
      }
    } finally {
      closeSync(fd);
      if (dataFd !== undefined) closeSync(dataFd);
    }
    return { external };
  }

  /** A weight's bytes (little-endian), CHUNK elements at a time. */
  private *chunks(weight: Weight): Generator<Uint8Array> {
    const count = elements(weight.dims);
    const fill = weight.fill;
    if ('values' in fill) {
      yield bytesOf(weight.type, Float32Array.from(fill.values));
      return;
    }
    if ('value' in fill) {
      const block = bytesOf(weight.type, new Float32Array(Math.min(count, CHUNK)).fill(fill.value));
      for (let done = 0; done < count; done += CHUNK) yield block.subarray(0, Math.min(CHUNK, count - done) * bytesPer(weight.type));
      return;
    }
    // Uniform on [-a, a] has standard deviation a/√3; its LEVELS values are converted to the dtype once.
    const a = fill.std * Math.sqrt(3);
    const levels = Float32Array.from({ length: LEVELS }, (_, i) => a * ((2 * i + 1) / LEVELS - 1));
    const table = weight.type === 'float16' ? new Uint16Array(new Float16Array(levels).buffer) : levels;
    const rng = xoroshiro128plus(seedOf(this.seed, weight.name));
    for (let done = 0; done < count; done += CHUNK) {
      const n = Math.min(CHUNK, count - done);
      const out = weight.type === 'float16' ? new Uint16Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i += 2) {
        const r = rng.next();
        out[i] = table[r & (LEVELS - 1)];
        if (i + 1 < n) out[i + 1] = table[(r >>> 16) & (LEVELS - 1)];
      }
      yield new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
  }
}

/** Writes all of `bytes` at `position` (null: the file's current position); returns the position after them. */
function writeAll(fd: number, bytes: Uint8Array, position: number | null): number {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position === null ? null : position + done);
  return (position ?? 0) + done;
}

const elements = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const bytesPer = (type: FloatDType) => (type === 'float16' ? 2 : 4);

function bytesOf(type: FloatDType, values: Float32Array): Uint8Array {
  const typed = type === 'float16' ? new Float16Array(values) : values;
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/** FNV-1a of the seed and the weight's name: each weight has its own stream. */
function seedOf(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash | 0;
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length += 1;
  }
  return length;
}

/** A length-delimited field's tag and length prefix. */
function field(tag: number, length: number): Uint8Array {
  const bytes = [tag];
  let value = length;
  while (value >= 128) {
    bytes.push((value % 128) | 128);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return Uint8Array.from(bytes);
}
