/**
 * Writes a CLIP-style BPE vocabulary (vocab.json + merges.txt) for the colour world's words.
 * The merges are generated so that every listed word becomes exactly one token under CLIP's
 * byte-level BPE with the `</w>` end-of-word suffix; any other word falls apart into
 * single-character tokens, as rare words do in the real CLIP vocabulary.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clipTokenizerJson } from '../../src/models/tokenizer.js';
import { COLOUR_WORDS, PLAIN_WORDS } from './world.js';

export const BOS = '<|startoftext|>';
export const EOS = '<|endoftext|>';

export interface BpeFiles {
  vocab: Record<string, number>;
  merges: [string, string][];
}

/** GPT-2/CLIP's reversible byte → printable-unicode map. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    map[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return map;
}

export function buildBpeFiles(words: readonly string[]): BpeFiles {
  const base = bytesToUnicode();
  const tokens: string[] = [...base, ...base.map((c) => `${c}</w>`)];
  const merges: [string, string][] = [];
  const rank = new Map<string, number>();

  for (const word of [...new Set(words)].sort()) {
    let symbols = [...word].map((ch, i, all) => (i === all.length - 1 ? `${ch}</w>` : ch));
    symbols = applyMerges(symbols, rank);
    // Merging the leftmost pair with a new, lowest-priority merge cannot change how earlier
    // words tokenise: they already merge to one symbol before this rank is ever reached.
    while (symbols.length > 1) {
      const pair: [string, string] = [symbols[0], symbols[1]];
      rank.set(pair.join(' '), merges.length);
      merges.push(pair);
      tokens.push(pair[0] + pair[1]);
      symbols = applyMerges(symbols, rank);
    }
  }
  tokens.push(BOS, EOS);
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    vocab[t] = i;
  });
  return { vocab, merges };
}

function applyMerges(symbols: string[], rank: Map<string, number>): string[] {
  let parts = symbols;
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < parts.length - 1; i++) {
      const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) return parts;
    parts = [...parts.slice(0, best), parts[best] + parts[best + 1], ...parts.slice(best + 2)];
  }
}

export function mergesText(merges: readonly [string, string][]): string {
  return `#version: 0.2\n${merges.map((m) => m.join(' ')).join('\n')}\n`;
}

/**
 * The colour world's tokenizer files in a bundle's `tokenizer/` folder: its words, one token each,
 * as vocab.json + merges.txt or as one tokenizer.json (the two layouts exporters write).
 */
export function writeColourTokenizer(dir: string, contextLength: number, form: 'vocab-merges' | 'tokenizer-json'): BpeFiles {
  const bpe = buildBpeFiles([...Object.keys(COLOUR_WORDS), ...PLAIN_WORDS]);
  const json = (path: string, value: unknown) => writeFileSync(join(dir, 'tokenizer', path), `${JSON.stringify(value, null, 2)}\n`);
  json('tokenizer_config.json', {
    model_max_length: contextLength,
    bos_token: BOS,
    eos_token: EOS,
    unk_token: EOS,
    pad_token: EOS,
    do_lower_case: true,
    tokenizer_class: 'CLIPTokenizer',
  });
  if (form === 'tokenizer-json') {
    json('tokenizer.json', clipTokenizerJson(bpe.vocab, bpe.merges.map((m) => m.join(' '))));
  } else {
    json('vocab.json', bpe.vocab);
    writeFileSync(join(dir, 'tokenizer', 'merges.txt'), mergesText(bpe.merges));
  }
  return bpe;
}
