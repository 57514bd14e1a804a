import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClipTokenizer } from '../src/models/tokenizer.js';
import { SCALAR_BUNDLE, STANDARD_BUNDLE } from './helpers/colour-world.js';

const vocab = JSON.parse(readFileSync(join(STANDARD_BUNDLE, 'tokenizer/vocab.json'), 'utf8')) as Record<string, number>;
const BOS = vocab['<|startoftext|>'];
const EOS = vocab['<|endoftext|>'];

describe('CLIP tokenizer', () => {
  const tokenizer = loadClipTokenizer(join(STANDARD_BUNDLE, 'tokenizer'));

  it('encodes a prompt as BOS, one token per known word, EOS, padded with EOS to 77', () => {
    const ids = tokenizer.encode('A Dog on the  grass');
    expect(ids).toHaveLength(77);
    expect(ids.slice(0, 7)).toEqual([BOS, vocab['a</w>'], vocab['dog</w>'], vocab['on</w>'], vocab['the</w>'], vocab['grass</w>'], EOS]);
    expect(new Set(ids.slice(7))).toEqual(new Set([EOS]));
  });

  it('splits an unknown word into byte-level pieces with the end-of-word suffix', () => {
    const ids = tokenizer.encode('zq');
    expect(ids.slice(0, 4)).toEqual([BOS, vocab.z, vocab['q</w>'], EOS]);
  });

  it('truncates long prompts to 77 tokens and keeps EOS last', () => {
    const ids = tokenizer.encode(Array.from({ length: 100 }, () => 'dog').join(' '));
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(BOS);
    expect(ids[75]).toBe(vocab['dog</w>']);
    expect(ids[76]).toBe(EOS);
  });

  it('gives the same ids from tokenizer.json as from vocab.json + merges.txt', () => {
    const fromJson = loadClipTokenizer(join(SCALAR_BUNDLE, 'tokenizer'));
    for (const prompt of ['a photo of a tiger lying on the snow', 'the cloudy sky, a red car!', 'unknownword 42']) {
      expect(fromJson.encode(prompt)).toEqual(tokenizer.encode(prompt));
    }
  });
});
