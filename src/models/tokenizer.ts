/**
 * The CLIP BPE tokenizer of a diffusion bundle, through @huggingface/tokenizers.
 * Bundles ship either `tokenizer.json` or the slow tokenizer's `vocab.json` + `merges.txt`;
 * for the latter we assemble the same tokenizer.json that transformers' slow→fast converter
 * writes for CLIP, so both go through one library code path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { GasError } from '../errors.js';

export const CLIP_CONTEXT_LENGTH = 77;

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

export interface PromptTokenizer {
  readonly contextLength: number;
  /** Token ids with BOS/EOS, truncated (keeping EOS last) and padded to the context length. */
  encode(text: string): number[];
}

/** tokenizer.json for CLIP from a BPE vocabulary and merge list. */
export function clipTokenizerJson(vocab: Record<string, number>, merges: readonly string[]): Record<string, unknown> {
  const special = (content: string) => ({
    id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
  });
  return {
    version: '1.0',
    added_tokens: [special(BOS), special(EOS)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [EOS, vocab[EOS]],
      cls: [BOS, vocab[BOS]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/** Loads `<bundle>/tokenizer`: tokenizer.json if present, else vocab.json + merges.txt. */
export function loadClipTokenizer(dir: string): PromptTokenizer {
  const file = (name: string) => join(dir, name);
  const readJson = (name: string): Record<string, unknown> => {
    try {
      return JSON.parse(readFileSync(file(name), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new GasError('bundle_invalid', `Could not read ${file(name)}: ${(error as Error).message}`);
    }
  };

  let tokenizerJson: Record<string, unknown>;
  if (existsSync(file('tokenizer.json'))) {
    tokenizerJson = readJson('tokenizer.json');
  } else if (existsSync(file('vocab.json')) && existsSync(file('merges.txt'))) {
    const merges = readFileSync(file('merges.txt'), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0 && !line.startsWith('#version'));
    tokenizerJson = clipTokenizerJson(readJson('vocab.json') as Record<string, number>, merges);
  } else {
    throw new GasError(
      'bundle_invalid',
      `No tokenizer in ${dir}: expected tokenizer.json, or vocab.json and merges.txt.`,
    );
  }
  const config = existsSync(file('tokenizer_config.json')) ? readJson('tokenizer_config.json') : {};
  const tokenizer = new Tokenizer(tokenizerJson, config);

  const tokenId = (token: unknown, fallback: string): number => {
    const content = typeof token === 'string' ? token : (token as { content?: string } | undefined)?.content ?? fallback;
    const ids = tokenizer.encode(content, { add_special_tokens: false }).ids;
    if (ids.length !== 1) throw new GasError('bundle_invalid', `Tokenizer in ${dir} has no single token for "${content}".`);
    return ids[0];
  };
  const eos = tokenId(config.eos_token, EOS);
  // SD 1.x pads with EOS; SD 2.x exports name "!" as pad_token. Respect the bundle.
  const pad = tokenId(config.pad_token, EOS);
  const contextLength = typeof config.model_max_length === 'number' && config.model_max_length <= 1024
    ? config.model_max_length
    : CLIP_CONTEXT_LENGTH;

  return {
    contextLength,
    encode(text: string): number[] {
      const ids = tokenizer.encode(text, { add_special_tokens: true }).ids;
      if (ids.length > contextLength) {
        const truncated = ids.slice(0, contextLength);
        truncated[contextLength - 1] = eos;
        return truncated;
      }
      return [...ids, ...new Array<number>(contextLength - ids.length).fill(pad)];
    },
  };
}
