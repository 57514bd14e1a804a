/**
 * The UNet of a bundle: raw predictions for a batch of latents that share one timestep.
 * Adapts to the exporter's timestep form (int64 [B], float [B], float scalar), float16
 * I/O, and a fixed batch size (the batch is split and the last chunk padded).
 */
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { GasError } from '../errors.js';
import type { NoisePredictor } from '../distill/types.js';
import { asFloatType, floatTensor, intTensor, toFloat32, type FloatType } from './tensors.js';
import { checkDims, fixedBatchSize, openSession, requireInput, requireShape, runSession, type ExecutionProvider, type ModelSession } from './session.js';

export const LATENT_CHANNELS = 4;

export interface UNetModel extends NoisePredictor {
  /** Number of items one session run takes when the export fixes it. */
  readonly fixedBatch: number | undefined;
  /** Latent sides when the export fixes them (static-shape WebNN/Olive exports); only that size runs. */
  readonly fixedLatentSize: { height: number; width: number } | undefined;
  /** Counters since the model was opened, for benchmarks: session runs, images, ms inside ONNX Runtime. */
  readonly stats: { runs: number; images: number; runMs: number };
}

/** `length`: a timestep fixed at [n] whatever the batch (static exports fix it at [1]). */
type TimestepForm = { type: 'int64' | FloatType; scalar: boolean; length: number | undefined };

/** The inputs an SD 1.x/2.x UNet takes; anything else belongs to another family. */
const UNET_INPUTS = new Set(['sample', 'timestep', 'encoder_hidden_states']);
const OTHER_FAMILIES: Record<string, string> = {
  timestep_cond: 'a Latent Consistency Model (LCM) export',
  text_embeds: 'an SDXL export',
  time_ids: 'an SDXL export',
};

/** Refuses at load a UNet that needs inputs we never feed, instead of failing at the first step. */
function refuseExtraInputs(model: ModelSession): void {
  const extra = model.inputs.find((input) => !UNET_INPUTS.has(input.name));
  if (!extra) return;
  const family = OTHER_FAMILIES[extra.name] ? ` (${OTHER_FAMILIES[extra.name]})` : '';
  throw new GasError(
    'bundle_invalid',
    `${model.file} needs the input "${extra.name}"${family}, which gas does not provide. Supported: Stable Diffusion 1.x and 2.x UNets, whose inputs are sample, timestep and encoder_hidden_states.`,
  );
}

const fixedSide = (dim: number | string | undefined) => (typeof dim === 'number' && dim > 0 ? dim : undefined);

export interface UNetOptions {
  /** Run at most this many items per session run (a provider's buffer limits, GPU memory); a fixed-batch export keeps its own. */
  maxBatch?: number;
}

export async function openUNet(dir: string, provider: ExecutionProvider, context: { length: number; dim: number }, options: UNetOptions = {}): Promise<UNetModel> {
  const model = await openSession(join(dir, 'model.onnx'), provider);
  refuseExtraInputs(model);
  const sample = requireInput(model, 'sample', 'float [batch, 4, height, width]');
  requireShape(model, sample, [null, LATENT_CHANNELS, null, null], '[batch, 4, height, width]');
  const floatType = asFloatType(sample.type, `${model.file} input "sample"`);
  const timestep = requireInput(model, 'timestep', 'int64 [batch], float [batch] or a float scalar');
  if (timestep.type !== 'int64' && timestep.type !== 'float32' && timestep.type !== 'float16') {
    throw new GasError('bundle_invalid', `${model.file}: "timestep" has type ${timestep.type}; expected int64, float32 or float16.`);
  }
  if (timestep.shape.length > 1) {
    throw new GasError('bundle_invalid', `${model.file}: "timestep" has shape [${timestep.shape.join(', ')}]; expected [batch] or a scalar.`);
  }
  const form: TimestepForm = { type: timestep.type, scalar: timestep.shape.length === 0, length: fixedSide(timestep.shape[0]) };
  const hidden = requireInput(model, 'encoder_hidden_states', `float [batch, ${context.length}, ${context.dim}]`);
  requireShape(model, hidden, [null, context.length, context.dim], `[batch, ${context.length}, ${context.dim}] to match the text encoder`);
  const contextType = asFloatType(hidden.type, `${model.file} input "encoder_hidden_states"`);
  const output = model.output('out_sample') ?? model.outputs[0];
  requireShape(model, output, [null, LATENT_CHANNELS, null, null], '[batch, 4, height, width]');
  asFloatType(output.type, `${model.file} output "${output.name}"`);
  const fixedBatch = fixedBatchSize(sample) ?? fixedBatchSize(hidden);
  const [fixedHeight, fixedWidth] = [fixedSide(sample.shape[2]), fixedSide(sample.shape[3])];
  const fixedLatentSize = fixedHeight && fixedWidth ? { height: fixedHeight, width: fixedWidth } : undefined;
  if (form.length !== undefined && form.length !== 1 && form.length !== fixedBatch) {
    throw new GasError('bundle_invalid', `${model.file}: "timestep" is fixed at [${form.length}] but the batch is not; expected [batch], [1] or a scalar.`);
  }

  // The contexts of an edit stay the same every iteration: convert them once per array.
  const contextTensors = new WeakMap<Float32Array, Map<string, ort.Tensor>>();
  const contextChunk = (contexts: Float32Array, start: number, count: number, size: number): ort.Tensor => {
    let byChunk = contextTensors.get(contexts);
    if (!byChunk) contextTensors.set(contexts, (byChunk = new Map()));
    const key = `${start}:${count}:${size}`;
    let tensor = byChunk.get(key);
    if (!tensor) {
      tensor = floatTensor(contextType, padBatch(contexts, context.length * context.dim, start, count, size), [size, context.length, context.dim]);
      byChunk.set(key, tensor);
    }
    return tensor;
  };

  const stats = { runs: 0, images: 0, runMs: 0 };
  return {
    fixedBatch,
    fixedLatentSize,
    stats,
    async predict(latents, t, contexts) {
      const { batch, height, width } = latents;
      if (fixedLatentSize && (height !== fixedLatentSize.height || width !== fixedLatentSize.width)) {
        throw new GasError(
          'bad_input',
          `${model.file} is a fixed-shape export: it takes ${fixedLatentSize.width}×${fixedLatentSize.height} latents only, not ${width}×${height}. Use a dynamic-shape export to edit at other sizes.`,
        );
      }
      const item = LATENT_CHANNELS * height * width;
      if (latents.data.length !== batch * item) {
        throw new GasError('model_error', `UNet latents hold ${latents.data.length} values; expected [${batch}, 4, ${height}, ${width}].`);
      }
      if (contexts.length !== batch * context.length * context.dim) {
        throw new GasError('model_error', `UNet contexts hold ${contexts.length} values; expected [${batch}, ${context.length}, ${context.dim}].`);
      }
      const step = fixedBatch ?? Math.min(batch, options.maxBatch ?? batch);
      // One chunk: hand back ONNX Runtime's own output buffer rather than a copy.
      const out = step >= batch ? undefined : new Float32Array(batch * item);
      let single: Float32Array | undefined;
      for (let start = 0; start < batch; start += step) {
        const count = Math.min(step, batch - start);
        // Only a fixed-batch export needs its last chunk padded; a dynamic one runs it as it is.
        const size = fixedBatch ?? count;
        const feeds = {
          sample: floatTensor(floatType, padBatch(latents.data, item, start, count, size), [size, LATENT_CHANNELS, height, width]),
          timestep: timestepTensor(form, t, size),
          encoder_hidden_states: contextChunk(contexts, start, count, size),
        };
        const started = performance.now();
        const result = (await runSession(model, feeds, [output.name]))[output.name];
        stats.runMs += performance.now() - started;
        stats.runs += 1;
        stats.images += size;
        checkDims(model, output.name, result.dims, [size, LATENT_CHANNELS, height, width]);
        const values = toFloat32(result, output.name);
        if (out) out.set(values.subarray(0, count * item), start * item);
        else single = values.length === batch * item ? values : values.slice(0, batch * item);
      }
      return (out ?? single)!;
    },
  };
}

/** Items [start, start+count) of a batch, padded to `size` items by repeating the last one. */
function padBatch(data: Float32Array, itemSize: number, start: number, count: number, size: number): Float32Array {
  const slice = data.subarray(start * itemSize, (start + count) * itemSize);
  if (count === size) return start === 0 && count * itemSize === data.length ? data : slice.slice();
  const padded = new Float32Array(size * itemSize);
  padded.set(slice);
  const last = data.subarray((start + count - 1) * itemSize, (start + count) * itemSize);
  for (let i = count; i < size; i++) padded.set(last, i * itemSize);
  return padded;
}

function timestepTensor(form: TimestepForm, t: number, batch: number): ort.Tensor {
  const length = form.length ?? batch;
  const dims = form.scalar ? [] : [length];
  const values = form.scalar ? [t] : new Array<number>(length).fill(t);
  return form.type === 'int64' ? intTensor('int64', values, dims) : floatTensor(form.type, Float32Array.from(values), dims);
}
