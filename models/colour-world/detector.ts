/**
 * The colour world's detector: GroundingDINO's exact I/O contract (the transformers-style ONNX
 * export), with behaviour known in closed form: a phrase that names a colour finds the regions of
 * that colour. README.md beside this file gives the definition.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxGraph } from './onnx-graph.js';
import { COLOUR_NAMES, COLOUR_WORDS, PALETTE, PLAIN_WORDS } from './world.js';

/** Instances found per colour, left to right (separated by a column free of that colour). */
export const INSTANCES_PER_COLOUR = 3;
export const MAX_TEXT_LEN = 256;
/** A pooled cell belongs to its nearest palette colour when closer than this (squared RGB distance, 0–1 units). */
const COLOUR_TOLERANCE = 0.02;
/** Logit for a matched (query, token) pair; −LOGIT otherwise. */
const LOGIT = 10;
const POOL = 8;
const IMAGE_MEAN = [0.485, 0.456, 0.406];
const IMAGE_STD = [0.229, 0.224, 0.225];
const FLOAT32 = 1;

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const PUNCTUATION = ['.', ',', '!', '?', '-', "'", ';', ':'];
const CHARACTERS = [...'abcdefghijklmnopqrstuvwxyz0123456789'];

export function detectorVocabulary(): Record<string, number> {
  const words = [...new Set([...Object.keys(COLOUR_WORDS), ...PLAIN_WORDS])].sort();
  const tokens = [...SPECIAL, ...PUNCTUATION, ...CHARACTERS, ...CHARACTERS.map((c) => `##${c}`), ...words.filter((w) => w.length > 1)];
  return Object.fromEntries(tokens.map((t, i) => [t, i]));
}

/** bert-base-uncased's tokenizer.json structure over the detector's small WordPiece vocabulary. */
function bertTokenizerJson(vocab: Record<string, number>): Record<string, unknown> {
  const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    added_tokens: SPECIAL.map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', vocab['[SEP]']], cls: ['[CLS]', vocab['[CLS]']] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/** Bump when the detector builder's output changes. */
export const COLOUR_WORLD_DETECTOR_VERSION = 1;

export function isCurrentColourWorldDetector(dir: string): boolean {
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { _colour_world?: { version?: number } };
    return config._colour_world?.version === COLOUR_WORLD_DETECTOR_VERSION;
  } catch {
    return false;
  }
}

export interface ColourWorldDetectorOptions {
  /**
   * Attend only to the tokens up to the first "." (the others score as unmatched), as public
   * exports traced with a text mask for one phrase do: a joint pass finds only its first phrase.
   */
  firstPhraseOnly?: boolean;
}

export function buildColourWorldDetector(finalDir: string, options: ColourWorldDetectorOptions = {}): void {
  const dir = `${finalDir}.building-${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const json = (path: string, value: unknown) => writeFileSync(join(dir, path), `${JSON.stringify(value, null, 2)}\n`);
  const vocab = detectorVocabulary();
  const queries = COLOUR_NAMES.length * INSTANCES_PER_COLOUR;
  json('config.json', {
    model_type: 'grounding-dino',
    architectures: ['GroundingDinoForObjectDetection'],
    max_text_len: MAX_TEXT_LEN,
    num_queries: queries,
    _colour_world: { description: 'ground-a-score test detector; see models/colour-world/README.md', version: COLOUR_WORLD_DETECTOR_VERSION },
  });
  json('preprocessor_config.json', {
    image_processor_type: 'GroundingDinoImageProcessor',
    do_resize: true,
    // The real model uses 800/1333; the colour world needs no more than this.
    size: { shortest_edge: 256, longest_edge: 448 },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: IMAGE_MEAN,
    image_std: IMAGE_STD,
    do_pad: true,
  });
  json('tokenizer.json', bertTokenizerJson(vocab));
  json('tokenizer_config.json', {
    tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 512,
    cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]',
  });
  detectorGraph(vocab, queries, options).save(join(dir, 'onnx', 'model.onnx'));
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(dir, finalDir);
}

function detectorGraph(vocab: Record<string, number>, queries: number, options: ColourWorldDetectorOptions): OnnxGraph {
  const g = new OnnxGraph('colour_world_grounding_dino');
  const P = COLOUR_NAMES.length;
  const R = INSTANCES_PER_COLOUR;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, 'height', 'width']);
  g.input('pixel_mask', 'int64', ['batch', 'height', 'width']);
  const ids = g.input('input_ids', 'int64', ['batch', 'text_len']);
  const attention = g.input('attention_mask', 'int64', ['batch', 'text_len']);
  g.input('token_type_ids', 'int64', ['batch', 'text_len']);
  const c = (values: number[], dims: number[]) => g.constFloat(values, dims);
  const i64 = (values: number[]) => g.constInt64(values);

  // Image side: undo the normalisation, pool 8×8, assign each cell to its nearest palette colour.
  const rgb = g.op('Add', [g.op('Mul', [pixels, c(IMAGE_STD, [1, 3, 1, 1])]), c(IMAGE_MEAN, [1, 3, 1, 1])]);
  const pooled = g.op('AveragePool', [rgb], { kernel_shape: [POOL, POOL], strides: [POOL, POOL] }); // [B, 3, h, w]
  const colours = COLOUR_NAMES.map((name) => PALETTE[name].map((v) => v / 255));
  const dot = g.op('Conv', [pooled, c(colours.flat(), [P, 3, 1, 1])]); // [B, P, h, w]
  const norm = g.op('ReduceSum', [g.op('Mul', [pooled, pooled]), i64([1])], { keepdims: 1 });
  const colourNorms = c(colours.map((v) => v.reduce((s, x) => s + x * x, 0)), [1, P, 1, 1]);
  const distance2 = g.op('Add', [g.op('Sub', [norm, g.op('Mul', [dot, c([2], [])])]), colourNorms]);
  const nearest = g.op('Cast', [g.op('Equal', [distance2, g.op('ReduceMin', [distance2], { axes: [1], keepdims: 1 })])], { to: FLOAT32 });
  const close = g.op('Cast', [g.op('Less', [distance2, c([COLOUR_TOLERANCE], [])])], { to: FLOAT32 });
  const member = g.op('Mul', [nearest, close]); // [B, P, h, w]

  // Instances: runs of occupied columns, numbered left to right with a cumulative sum of run starts.
  const columns = g.op('ReduceMax', [member], { axes: [2], keepdims: 0 }); // [B, P, w]
  const previous = g.op('Slice', [g.op('Pad', [columns, i64([0, 0, 1, 0, 0, 0])]), i64([0]), i64([-1]), i64([2])]);
  const starts = g.op('Mul', [columns, g.op('Sub', [c([1], []), previous])]);
  const runId = g.op('Mul', [g.op('CumSum', [starts, g.constInt64([2], [])]), columns]); // [B, P, w]: 1…n, 0 = empty
  const runMask = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [runId, i64([2, 3])]), c(Array.from({ length: R }, (_, r) => r + 1), [1, 1, R, 1, 1])])], { to: FLOAT32 }); // [B, P, R, 1, w]
  const regions5 = g.op('Mul', [g.op('Unsqueeze', [member, i64([2])]), runMask]); // [B, P, R, h, w]
  const memberShape = g.op('Shape', [member]);
  const regionShape = g.op('Concat', [g.op('Slice', [memberShape, i64([0]), i64([1])]), i64([queries]), g.op('Slice', [memberShape, i64([2]), i64([4])])], { axis: 0 });
  const regions = g.op('Reshape', [regions5, regionShape]); // [B, Q, h, w]

  // Box of each query's region, normalised; an empty region gives presence 0 and a zero box.
  const BIG = 1e6;
  const extent = (axis: 2 | 3, other: 2 | 3) => {
    const occupied = g.op('ReduceMax', [regions], { axes: [other], keepdims: 0 }); // [B, Q, n]
    const size = g.op('Cast', [g.op('Gather', [memberShape, g.constInt64([axis], [])], { axis: 0 })], { to: FLOAT32 });
    const positions = g.op('Range', [c([0], []), size, c([1], [])]);
    const empty = g.op('Sub', [c([1], []), occupied]);
    const low = g.op('ReduceMin', [g.op('Add', [positions, g.op('Mul', [empty, c([BIG], [])])])], { axes: [2], keepdims: 0 });
    const high = g.op('ReduceMax', [g.op('Sub', [g.op('Mul', [positions, occupied]), g.op('Mul', [empty, c([BIG], [])])])], { axes: [2], keepdims: 0 });
    const present = g.op('ReduceMax', [occupied], { axes: [2], keepdims: 0 }); // [B, Q]
    const lo = g.op('Mul', [g.op('Div', [low, size]), present]);
    const hi = g.op('Mul', [g.op('Div', [g.op('Add', [high, c([1], [])]), size]), present]);
    return { lo, hi, present };
  };
  const x = extent(3, 2);
  const y = extent(2, 3);
  const half = c([0.5], []);
  const column = (v: string) => g.op('Unsqueeze', [v, i64([2])]);
  const boxes = g.op('Concat', [
    column(g.op('Mul', [g.op('Add', [x.lo, x.hi]), half])),
    column(g.op('Mul', [g.op('Add', [y.lo, y.hi]), half])),
    column(g.op('Sub', [x.hi, x.lo])),
    column(g.op('Sub', [y.hi, y.lo])),
  ], { axis: 2 }); // [B, Q, 4] as cx, cy, w, h
  g.output(boxes, 'pred_boxes', 'float32', ['batch', queries, 4]);

  // Text side: token → one-hot colour; query (colour j, instance r) matches the tokens of colour j
  // when its region exists. Padded to 256 text positions, as GroundingDINO's logits are.
  const vocabSize = Object.keys(vocab).length;
  const table = new Float32Array(vocabSize * P);
  for (const [word, colour] of Object.entries(COLOUR_WORDS)) {
    const id = vocab[word];
    if (id !== undefined) table[id * P + COLOUR_NAMES.indexOf(colour)] = 1;
  }
  const gathered = g.op('Gather', [g.constFloat(table, [vocabSize, P], 'token_colour'), ids], { axis: 0 }); // [B, T, P]
  let attended = g.op('Cast', [attention], { to: FLOAT32 }); // [B, T]
  if (options.firstPhraseOnly) {
    // Only the first phrase's tokens have no "." before them.
    const dots = g.op('Cast', [g.op('Equal', [ids, g.constInt64([vocab['.']], [])])], { to: FLOAT32 });
    const dotsBefore = g.op('CumSum', [dots, g.constInt64([1], [])], { exclusive: 1 });
    attended = g.op('Mul', [attended, g.op('Cast', [g.op('Equal', [dotsBefore, c([0], [])])], { to: FLOAT32 })]);
  }
  const tokenColour = g.op('Mul', [gathered, g.op('Unsqueeze', [attended, i64([2])])]);
  const perQuery = g.op('Reshape', [
    g.op('Mul', [g.op('Unsqueeze', [g.op('Transpose', [tokenColour], { perm: [0, 2, 1] }), i64([2])]), c(new Array<number>(R).fill(1), [1, 1, R, 1])]),
    i64([0, queries, -1]),
  ]); // [B, Q, T]
  const presence = g.op('Unsqueeze', [g.op('Mul', [x.present, y.present]), i64([2])]); // [B, Q, 1]
  const matched = g.op('Mul', [perQuery, presence]);
  const logits = g.op('Sub', [g.op('Mul', [matched, c([2 * LOGIT], [])]), c([LOGIT], [])]);
  const textLen = g.op('Gather', [g.op('Shape', [ids]), g.constInt64([1], [])], { axis: 0 });
  const padding = g.op('Reshape', [g.op('Sub', [g.constInt64([MAX_TEXT_LEN], []), textLen]), i64([1])]);
  const pads = g.op('Concat', [i64([0, 0, 0, 0, 0]), padding], { axis: 0 });
  g.output(g.op('Pad', [logits, pads, c([-LOGIT], [])]), 'logits', 'float32', ['batch', queries, MAX_TEXT_LEN]);
  return g;
}
