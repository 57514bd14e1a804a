/**
 * Tensors at the model boundary: the engine works in float32, exporters declare float32 or
 * float16 inputs and int32 or int64 ids. These helpers adapt both ways, from the types
 * that a session's metadata declares.
 */
import * as ort from 'onnxruntime-node';
import { Float16Array, getFloat16 } from '@petamoriken/float16';
import { GasError } from '../errors.js';

export type FloatType = 'float32' | 'float16';
export type IntType = 'int32' | 'int64';

let float16Table: Float32Array | undefined;

/** float16 bits → float32 through a 64 K table (built once with the library): the hot path is every UNet output. */
function float16ToFloat32(bits: Uint16Array): Float32Array {
  if (!float16Table) {
    const view = new DataView(new ArrayBuffer(2));
    float16Table = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) {
      view.setUint16(0, b, true);
      float16Table[b] = getFloat16(view, 0, true);
    }
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16Table[bits[i]];
  return out;
}

export function floatTensor(type: FloatType, data: Float32Array, dims: readonly number[]): ort.Tensor {
  if (type === 'float32') return new ort.Tensor('float32', data, dims);
  return new ort.Tensor('float16', new Uint16Array(new Float16Array(data).buffer), dims);
}

export function intTensor(type: IntType, values: readonly number[], dims: readonly number[]): ort.Tensor {
  return type === 'int64'
    ? new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims)
    : new ort.Tensor('int32', Int32Array.from(values), dims);
}

/** A float output as float32, whatever the model returned. */
export function toFloat32(tensor: ort.Tensor, name: string): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') return float16ToFloat32(tensor.data as Uint16Array);
  throw new GasError('model_error', `Output "${name}" has type ${tensor.type}; expected float32 or float16.`);
}

export function asFloatType(type: string, where: string): FloatType {
  if (type === 'float32' || type === 'float16') return type;
  throw new GasError('bundle_invalid', `${where} has type ${type}; expected float32 or float16.`);
}

export function asIntType(type: string, where: string): IntType {
  if (type === 'int32' || type === 'int64') return type;
  throw new GasError('bundle_invalid', `${where} has type ${type}; expected int32 or int64.`);
}
