/**
 * A small builder for ONNX graphs, written against onnx-proto's generated protobuf classes.
 * No npm package builds ONNX graphs from TypeScript, so this thin layer names values,
 * adds nodes and serialises; the ops themselves are plain ONNX (opset 17).
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const OPSET = 17;

export type ElemType = 'float32' | 'float16' | 'int32' | 'int64';
export const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

export type Dim = number | string;
export type AttrValue = number | number[] | string | Float32Array;

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export class OnnxGraph {
  // Protected for subclasses that write their weights differently (models/sd15-shape streams them).
  protected readonly nodes: onnxProto.onnx.INodeProto[] = [];
  protected readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  protected readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  protected readonly initializers: Initializer[] = [];
  private counter = 0;

  constructor(protected readonly name: string) {}

  input(name: string, type: ElemType, shape: Dim[]): string {
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  output(value: string, name: string, type: ElemType, shape: Dim[]): void {
    this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, type, shape));
  }

  constFloat(values: ArrayLike<number>, dims: number[], hint = 'c'): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims, data: Float32Array.from(values) });
    return name;
  }

  constInt64(values: ArrayLike<number>, dims: number[] = [values.length], hint = 'i'): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims, data: BigInt64Array.from(Array.from(values), BigInt) });
    return name;
  }

  /** Adds one node and returns the name of its (first) output. */
  op(opType: string, inputs: string[], attributes: Record<string, AttrValue> = {}, outputName?: string): string {
    const out = outputName ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: inputs,
      output: [out],
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return out;
  }

  /**
   * Serialises to `path`. Initializers of at least `externalAbove` elements go to an external
   * data file next to it (`<file>.data`), as large real exports do.
   */
  save(path: string, options: { externalAbove?: number } = {}): void {
    const externalAbove = options.externalAbove ?? Infinity;
    const dataFile = `${basename(path)}.data`;
    const chunks: Buffer[] = [];
    let offset = 0;
    const initializer = this.initializers.map((init) => {
      const bytes = Buffer.from(init.data.buffer, init.data.byteOffset, init.data.byteLength);
      const tensor: onnxProto.onnx.ITensorProto = {
        name: init.name,
        dims: init.dims,
        dataType: init.data instanceof Float32Array ? ELEM.float32 : ELEM.int64,
      };
      if (init.data.length >= externalAbove) {
        tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        tensor.externalData = [
          { key: 'location', value: dataFile },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.length) },
        ];
        chunks.push(bytes);
        offset += bytes.length;
      } else {
        tensor.rawData = bytes;
      }
      return tensor;
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'ground-a-score colour-world builder',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer,
      },
    });
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
    if (chunks.length > 0) writeFileSync(`${path}.data`, Buffer.concat(chunks));
  }

  protected fresh(hint: string): string {
    this.counter += 1;
    return `${hint}_${this.counter}`;
  }
}

export function valueInfo(name: string, type: ElemType, shape: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: {
          dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function attribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (value instanceof Float32Array) return { name, type: AttributeType.FLOATS, floats: Array.from(value) };
  return Number.isInteger(value)
    ? { name, type: AttributeType.INT, i: value }
    : { name, type: AttributeType.FLOAT, f: value };
}
