/** The CLIP text encoder of a bundle: prompt → embeddings [L, D]. */
import { join } from 'node:path';
import { GasError } from '../errors.js';
import type { TextEmbedding } from '../distill/types.js';
import { asFloatType, asIntType, intTensor, toFloat32 } from './tensors.js';
import { fixedBatchSize, openSession, requireInput, requireShape, runSession, type ExecutionProvider } from './session.js';
import type { PromptTokenizer } from './tokenizer.js';


export interface TextEncoderModel {
  readonly length: number;
  readonly dim: number;
  encode(prompt: string): Promise<TextEmbedding>;
}

export async function openTextEncoder(dir: string, provider: ExecutionProvider, tokenizer: PromptTokenizer): Promise<TextEncoderModel> {
  const model = await openSession(join(dir, 'model.onnx'), provider);
  const ids = requireInput(model, 'input_ids', 'int32/int64 [batch, 77]');
  const idType = asIntType(ids.type, `${model.file} input "input_ids"`);
  const L = tokenizer.contextLength;
  requireShape(model, ids, [null, L], `[batch, ${L}] (the tokenizer's context length)`);
  const out = model.output('last_hidden_state') ?? model.outputs[0];
  asFloatType(out.type, `${model.file} output "${out.name}"`);
  if (out.shape.length !== 3) {
    throw new GasError('bundle_invalid', `${model.file}: "${out.name}" has shape [${out.shape.join(', ')}]; expected [batch, ${L}, hidden].`);
  }
  const batch = fixedBatchSize(ids) ?? 1;

  const encode = async (prompt: string): Promise<TextEmbedding> => {
    const tokens = tokenizer.encode(prompt);
    const feed = intTensor(idType, Array.from({ length: batch }, () => tokens).flat(), [batch, L]);
    const result = (await runSession(model, { input_ids: feed }, [out.name]))[out.name];
    const [, length, hidden] = result.dims;
    if (length !== L) {
      throw new GasError('model_error', `${model.file}: "${out.name}" came back as [${result.dims.join(', ')}]; expected [${batch}, ${L}, hidden].`);
    }
    // Keep only the first item when the export fixes a batch larger than one.
    return { data: toFloat32(result, out.name).slice(0, L * hidden), length: L, dim: hidden };
  };
  // Exports often leave the hidden size symbolic: one run on the empty prompt tells it.
  const { dim } = await encode('');
  return { length: L, dim, encode };
}
