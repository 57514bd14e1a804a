/**
 * GroundingDINO through onnxruntime-node, for the transformers-style export (docs/architecture.md,
 * "Model bundles"): config.json, preprocessor_config.json, tokenizer.json, onnx/model.onnx. Loaded from
 * disk only. Pre- and post-processing follow transformers' GroundingDinoImageProcessor and
 * post_process_grounded_object_detection, with boxes kept per phrase. Phrases are queried one per
 * pass unless config.json says `"gas_joint_phrases": true`: public exports were traced with a text
 * mask for one phrase, so in a joint pass only the first phrase is attended to correctly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { GasError } from '../errors.js';
import type { Box } from '../distill/masks.js';
import { asIntType, intTensor, toFloat32 } from '../models/tensors.js';
import { fixedBatchSize, openSession, requireInput, runSession, type ExecutionProvider } from '../models/session.js';
import { DEFAULT_THRESHOLDS, DETECTOR_VARIANTS, type Detection, type DetectionThresholds, type Detector, type DetectorVariant, type PhraseDetections } from './detector.js';
import type { RgbImage } from '../image/decode.js';

/** `size` is shortest/longest edge (transformers) or a fixed height × width (transformers.js exports: a plain resize). */
const sizeSchema = z.union([
  z.object({ shortest_edge: z.number().int().positive(), longest_edge: z.number().int().positive().optional() }),
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
]);

const preprocessorSchema = z.object({
  size: sizeSchema.default({ shortest_edge: 800, longest_edge: 1333 }),
  rescale_factor: z.number().default(1 / 255),
  image_mean: z.array(z.number()).length(3).default([0.485, 0.456, 0.406]),
  image_std: z.array(z.number()).length(3).default([0.229, 0.224, 0.225]),
});

/** Where each variant's model lives in a transformers.js export. */
const VARIANT_FILES: Record<DetectorVariant, string> = {
  fp32: 'onnx/model.onnx',
  fp16: 'onnx/model_fp16.onnx',
  quantized: 'onnx/model_quantized.onnx',
};

export interface GroundingDinoOptions {
  provider?: ExecutionProvider;
  /** Which model file to open (default fp32); all take and give float32. */
  variant?: DetectorVariant;
}

/** transformers' get_size_with_aspect_ratio: shortest edge to `shortest`, unless the longest would pass `longest`. */
export function detectorInputSize(width: number, height: number, shortest: number, longest?: number): { width: number; height: number } {
  let size = shortest;
  const [lo, hi] = [Math.min(width, height), Math.max(width, height)];
  if (longest !== undefined && (hi / lo) * size > longest) size = Math.round((longest * lo) / hi);
  if ((height <= width && height === size) || (width <= height && width === size)) return { width, height };
  return width < height
    ? { width: size, height: Math.trunc((size * height) / width) }
    : { width: Math.trunc((size * width) / height), height: size };
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

export async function openGroundingDino(dir: string, options: GroundingDinoOptions = {}): Promise<Detector> {
  const file = (name: string) => join(dir, name);
  if (!existsSync(dir)) {
    throw new GasError('bundle_invalid', `No detector at ${dir}. Point --detector at a transformers-style GroundingDINO ONNX export (config.json, preprocessor_config.json, tokenizer.json, onnx/model.onnx).`);
  }
  const readJson = (name: string): Record<string, unknown> => {
    if (!existsSync(file(name))) throw new GasError('bundle_invalid', `The detector at ${dir} has no ${name}.`);
    try {
      return JSON.parse(readFileSync(file(name), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new GasError('bundle_invalid', `${file(name)} is not valid JSON: ${(error as Error).message}`);
    }
  };
  const config = readJson('config.json');
  const maxTextLen = typeof config.max_text_len === 'number' ? config.max_text_len : 256;
  // Exports traced with a text mask for one phrase attend correctly to the first phrase only; a
  // bundle whose mask follows the phrases says so with "gas_joint_phrases": true.
  const jointPhrases = config.gas_joint_phrases === true;
  const parsed = preprocessorSchema.safeParse(readJson('preprocessor_config.json'));
  if (!parsed.success) throw new GasError('bundle_invalid', `${file('preprocessor_config.json')}: ${parsed.error.issues[0].message} at ${parsed.error.issues[0].path.join('.')}.`);
  const pre = parsed.data;
  const tokenizerConfig = existsSync(file('tokenizer_config.json')) ? readJson('tokenizer_config.json') : {};
  const tokenizer = new Tokenizer(readJson('tokenizer.json'), tokenizerConfig);
  const tokenId = (token: string) => {
    const ids = tokenizer.encode(token, { add_special_tokens: false }).ids;
    if (ids.length !== 1) throw new GasError('bundle_invalid', `The detector's tokenizer has no single token for ${token}.`);
    return ids[0];
  };
  const [cls, sep] = [tokenId(String(tokenizerConfig.cls_token ?? '[CLS]')), tokenId(String(tokenizerConfig.sep_token ?? '[SEP]'))];
  const dot = tokenizer.encode('.', { add_special_tokens: false }).ids;
  const padIds = tokenizer.encode(String(tokenizerConfig.pad_token ?? '[PAD]'), { add_special_tokens: false }).ids;
  const pad = padIds.length === 1 ? padIds[0] : 0;

  const variant = options.variant ?? 'fp32';
  let modelFile = file(VARIANT_FILES[variant]);
  if (variant === 'fp32' && !existsSync(modelFile) && existsSync(file('model.onnx'))) modelFile = file('model.onnx');
  if (!existsSync(modelFile)) {
    const present = DETECTOR_VARIANTS.filter((v) => existsSync(file(VARIANT_FILES[v])));
    throw new GasError(
      'bundle_invalid',
      `The detector at ${dir} has no ${VARIANT_FILES[variant]} (the ${variant} variant)${present.length > 0 ? `; it has ${present.join(', ')}: pick one with --detector-variant` : ''}.`,
    );
  }
  const model = await openSession(modelFile, options.provider ?? 'cpu');
  const pixelValues = requireInput(model, 'pixel_values', 'float [batch, 3, height, width]');
  if (pixelValues.type !== 'float32') throw new GasError('bundle_invalid', `${modelFile}: "pixel_values" has type ${pixelValues.type}; expected float32.`);
  const idType = asIntType(requireInput(model, 'input_ids', 'int64 [batch, text]').type, `${modelFile} input "input_ids"`);
  const maskType = asIntType(requireInput(model, 'attention_mask', 'int64 [batch, text]').type, `${modelFile} input "attention_mask"`);
  const typeOf = (name: string) => asIntType(model.input(name)?.type ?? 'int64', `${modelFile} input "${name}"`);
  for (const name of ['logits', 'pred_boxes']) {
    if (!model.output(name)) throw new GasError('bundle_invalid', `${modelFile} has no output "${name}"; expected logits [batch, queries, 256] and pred_boxes [batch, queries, 4].`);
  }
  // Per-phrase passes go in one run when neither the image nor the text batch is fixed.
  const batchable = fixedBatchSize(pixelValues) === undefined && fixedBatchSize(model.input('input_ids')!) === undefined;

  /** "[CLS] phrase one . phrase two . [SEP]", lower-case; which tokens belong to which phrase (by index into `phrases`). */
  const encodeText = (phrases: readonly string[], indices: readonly number[]): TextPass => {
    const ids = [cls];
    const spans = indices.map((k) => {
      const tokens = tokenizer.encode(phrases[k].toLowerCase().replace(/[.\s]+$/, ''), { add_special_tokens: false }).ids;
      const start = ids.length;
      ids.push(...tokens, ...dot);
      return { phrase: k, start, end: start + tokens.length };
    });
    ids.push(sep);
    if (ids.length > maxTextLen) {
      throw new GasError('bad_input', `The phrases to find are too long for the detector (${ids.length} tokens, at most ${maxTextLen}). Use shorter object names.`);
    }
    return { ids, spans };
  };

  /** Resize (edges, or a fixed size), rescale, normalise: [3, h, w] planes. */
  const preprocess = async (image: RgbImage) => {
    const size = 'height' in pre.size
      ? { width: pre.size.width, height: pre.size.height }
      : detectorInputSize(image.width, image.height, pre.size.shortest_edge, pre.size.longest_edge);
    const resized = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    const plane = size.width * size.height;
    const pixels = new Float32Array(3 * plane);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) pixels[c * plane + p] = (resized[3 * p + c] * pre.rescale_factor - pre.image_mean[c]) / pre.image_std[c];
    }
    return { pixels, ...size };
  };

  return {
    async detect(image, phrases, thresholds = DEFAULT_THRESHOLDS): Promise<PhraseDetections[]> {
      const all = phrases.map((_, k) => k);
      const passes = jointPhrases ? [encodeText(phrases, all)] : all.map((k) => encodeText(phrases, [k]));
      const { pixels, width, height } = await preprocess(image);
      const found: Detection[][] = phrases.map(() => []);
      for (const group of batchable ? [passes] : passes.map((pass) => [pass])) {
        if (group.length === 0) continue;
        // A batch of passes: the same image, each text padded to the longest with the mask at 0.
        const B = group.length;
        const T = Math.max(...group.map((pass) => pass.ids.length));
        const ids = group.flatMap((pass) => [...pass.ids, ...new Array<number>(T - pass.ids.length).fill(pad)]);
        const mask = group.flatMap((pass) => Array.from({ length: T }, (_, t) => (t < pass.ids.length ? 1 : 0)));
        const batchPixels = new Float32Array(B * pixels.length);
        for (let b = 0; b < B; b++) batchPixels.set(pixels, b * pixels.length);
        const feeds: Record<string, ort.Tensor> = {
          pixel_values: new ort.Tensor('float32', batchPixels, [B, 3, height, width]),
          input_ids: intTensor(idType, ids, [B, T]),
          attention_mask: intTensor(maskType, mask, [B, T]),
        };
        if (model.input('pixel_mask')) feeds.pixel_mask = intTensor(typeOf('pixel_mask'), new Array<number>(B * width * height).fill(1), [B, height, width]);
        if (model.input('token_type_ids')) feeds.token_type_ids = intTensor(typeOf('token_type_ids'), new Array<number>(B * T).fill(0), [B, T]);
        const out = await runSession(model, feeds, ['logits', 'pred_boxes']);
        const logits = toFloat32(out.logits, 'logits');
        const boxes = toFloat32(out.pred_boxes, 'pred_boxes');
        const [, queries, textLen] = out.logits.dims;
        group.forEach((pass, b) => {
          const passLogits = logits.subarray(b * queries * textLen, (b + 1) * queries * textLen);
          const passBoxes = boxes.subarray(b * queries * 4, (b + 1) * queries * 4);
          for (const [k, detection] of decodeQueries(pass, passLogits, passBoxes, queries, textLen, thresholds)) found[k].push(detection);
        });
      }
      return phrases.map((phrase, k) => ({ phrase, detections: found[k].sort((a, b) => b.score - a.score) }));
    },
  };
}

interface TextPass {
  ids: number[];
  spans: { phrase: number; start: number; end: number }[];
}

/** Per query: the box score is its best token; it belongs to the phrase whose tokens score best. */
function decodeQueries(
  pass: TextPass,
  logits: Float32Array,
  boxes: Float32Array,
  queries: number,
  textLen: number,
  thresholds: DetectionThresholds,
): [number, Detection][] {
  const kept: [number, Detection][] = [];
  for (let q = 0; q < queries; q++) {
    const row = (t: number) => sigmoid(logits[q * textLen + t]);
    let boxScore = 0;
    for (let t = 0; t < Math.min(pass.ids.length, textLen); t++) boxScore = Math.max(boxScore, row(t));
    if (boxScore <= thresholds.box) continue;
    let best = -1;
    let bestScore = thresholds.text;
    for (const span of pass.spans) {
      for (let t = span.start; t < span.end; t++) {
        if (row(t) > bestScore) {
          bestScore = row(t);
          best = span.phrase;
        }
      }
    }
    if (best < 0) continue;
    const [cx, cy, w, h] = boxes.subarray(q * 4, q * 4 + 4);
    const clamp = (v: number) => Math.min(1, Math.max(0, v));
    const box: Box = [clamp(cx - w / 2), clamp(cy - h / 2), clamp(cx + w / 2), clamp(cy + h / 2)];
    if (box[2] > box[0] && box[3] > box[1]) kept.push([best, { box, score: boxScore }]);
  }
  return kept;
}
