/**
 * The manifest of known-good model exports that `gas models pull` fetches: each a Hugging Face
 * repo, ideally pinned to a full commit, with an explicit file list (no safety checker, no feature
 * extractor). What could not be checked against the hub when the manifest was written is marked:
 * an entry without a commit pulls the repo's main revision, a file without a sha256 is checked
 * against the hub's own listing and its size only, and `gas models list` says which.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { GasError } from '../errors.js';
import { EXECUTION_PROVIDERS } from './providers.js';

const fileSchema = z
  .object({
    /** Path inside the repo. */
    path: z.string().min(1).refine((p) => !p.split('/').includes('..') && !p.startsWith('/'), 'must stay inside the repo'),
    /** Where it goes in the pulled folder, when the loader expects another name (default: path). */
    to: z.string().min(1).refine((p) => !p.split('/').includes('..') && !p.startsWith('/'), 'must stay inside the folder').optional(),
    /** Exact bytes, checked against the hub. */
    size: z.number().int().min(0).optional(),
    /** Rounded size from the hub's public file listing, for `gas models list` only. */
    approxSize: z.number().int().min(0).optional(),
    /** The LFS oid (sha256 of the content), checked against the hub. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  })
  .strict();

const entrySchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lower-case letters, digits, "." and "-"'),
    description: z.string().min(1),
    kind: z.enum(['diffusion', 'detector']),
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name'),
    /** Full 40-hex commit; absent: the repo's main revision (unpinned). */
    commit: z.string().regex(/^[0-9a-f]{40}$/, 'a full 40-hex commit hash').optional(),
    /** Providers this export is known to run on. */
    providers: z.array(z.enum(EXECUTION_PROVIDERS)).min(1),
    /** What the load check expects of a diffusion bundle. */
    predictionType: z.enum(['epsilon', 'v_prediction']).optional(),
    files: z.array(fileSchema).min(1),
    /** What was checked against the hub when this entry was written, and what was not. */
    provenance: z.string().min(1),
  })
  .strict();

export type ManifestFile = z.infer<typeof fileSchema>;
export type ManifestEntry = z.infer<typeof entrySchema>;

const manifestSchema = z.object({ models: z.array(entrySchema) }).strict();

/** An entry is verified when its commit and every file's size and sha256 were checked against the hub. */
export function isVerified(entry: ManifestEntry): boolean {
  return entry.commit !== undefined && entry.files.every((f) => f.size !== undefined && f.sha256 !== undefined);
}

/** Total bytes: exact where known, else the listing's rounded figure; `approx` when any was rounded, `partial` when some size is not known at all. */
export function entryBytes(entry: ManifestEntry): { bytes: number; approx: boolean; partial: boolean } {
  let bytes = 0;
  let approx = false;
  let partial = false;
  for (const file of entry.files) {
    if (file.size !== undefined) bytes += file.size;
    else if (file.approxSize !== undefined) {
      bytes += file.approxSize;
      approx = true;
    } else partial = true;
  }
  return { bytes, approx, partial };
}

/** "1.72 GB", "≈2.1 GB" (rounded sizes), "≥4.07 GB" (some sizes unknown). */
export function describeEntrySize(entry: ManifestEntry, format: (bytes: number) => string): string {
  const { bytes, approx, partial } = entryBytes(entry);
  return `${partial ? '≥' : approx ? '≈' : ''}${format(bytes)}`;
}

/** Where a manifest file lands in the pulled folder. */
export const localPath = (file: ManifestFile) => file.to ?? file.path;

/** Sizes as the hub's pages round them, in whole bytes. */
const KB = (n: number) => Math.round(n * 1e3);
const MB = (n: number) => Math.round(n * 1e6);
const GB = (n: number) => Math.round(n * 1e9);

/**
 * The built-in entries, written without access to the hub: commits and sizes come from the
 * hub's public tree pages (sizes there are rounded), sha256s are unknown. Run
 * `gas models pull <name>` on a machine that reaches the hub to see the exact values it checks.
 */
const BUILT_IN: ManifestEntry[] = [
  {
    name: 'sd15',
    description: 'Stable Diffusion 1.5, fp32 (onnx-community export)',
    kind: 'diffusion',
    repo: 'onnx-community/stable-diffusion-v1-5-ONNX',
    providers: ['cpu', 'cuda', 'webgpu'],
    predictionType: 'epsilon',
    files: [
      { path: 'model_index.json', approxSize: 670 },
      { path: 'scheduler/scheduler_config.json' },
      { path: 'text_encoder/model.onnx', approxSize: MB(493) },
      { path: 'tokenizer/merges.txt', approxSize: KB(574) },
      { path: 'tokenizer/special_tokens_map.json', approxSize: 496 },
      { path: 'tokenizer/tokenizer_config.json', approxSize: 734 },
      { path: 'tokenizer/vocab.json', approxSize: MB(1.11) },
      { path: 'unet/model.onnx', approxSize: MB(1.09) },
      { path: 'unet/weights.pb', approxSize: GB(3.44) },
      { path: 'vae_decoder/model.onnx' },
      { path: 'vae_encoder/model.onnx', approxSize: MB(137) },
    ],
    provenance:
      'Files and rounded sizes from the hub tree page of main (commit 90ff1f1, only its short form seen); vae_decoder and scheduler sizes not seen; no sha256 known. Pulls main, unpinned.',
  },
  {
    name: 'sd15-fp16',
    description: 'Stable Diffusion 1.5, fp16 (nmkd export)',
    kind: 'diffusion',
    repo: 'nmkd/stable-diffusion-1.5-onnx-fp16',
    commit: '38dacf2c14c89e3538b5e32da888eb9c46e0e1bf',
    providers: ['cuda', 'webgpu'],
    predictionType: 'epsilon',
    files: [
      { path: 'model_index.json', approxSize: 592 },
      { path: 'scheduler/scheduler_config.json', approxSize: 498 },
      { path: 'text_encoder/model.onnx', approxSize: MB(246) },
      { path: 'tokenizer/merges.txt' },
      { path: 'tokenizer/special_tokens_map.json' },
      { path: 'tokenizer/tokenizer_config.json' },
      { path: 'tokenizer/vocab.json', approxSize: MB(1.06) },
      { path: 'unet/model.onnx', approxSize: MB(1.22) },
      { path: 'unet/weights.pb', approxSize: GB(1.72) },
      { path: 'vae_decoder/model.onnx', approxSize: MB(99.1) },
      { path: 'vae_encoder/model.onnx', approxSize: MB(68.4) },
    ],
    provenance:
      'Commit "Upload correct fp16 weights" (the newest on main in the public listing; the one before it had fp32 VAE weights); rounded sizes from its tree pages; tokenizer sizes not seen; no sha256 known.',
  },
  ...(['', 'fp16', 'quantized'] as const).map((variant): ManifestEntry => {
    const model = { '': { file: 'onnx/model.onnx', size: MB(719) }, fp16: { file: 'onnx/model_fp16.onnx', size: MB(360) }, quantized: { file: 'onnx/model_quantized.onnx', size: MB(204) } }[variant];
    return {
      name: variant ? `grounding-dino-tiny-${variant}` : 'grounding-dino-tiny',
      description: `GroundingDINO tiny${variant ? `, ${variant === 'fp16' ? 'fp16' : 'int8-quantized'}` : ', fp32'} (onnx-community export)`,
      kind: 'detector',
      repo: 'onnx-community/grounding-dino-tiny-ONNX',
      providers: variant === 'quantized' ? ['cpu'] : variant === 'fp16' ? ['cuda'] : ['cpu', 'cuda'],
      files: [
        { path: 'config.json', approxSize: KB(1.58) },
        { path: 'preprocessor_config.json', approxSize: 496 },
        { path: 'special_tokens_map.json', approxSize: 695 },
        { path: 'tokenizer.json', approxSize: KB(711) },
        { path: 'tokenizer_config.json', approxSize: KB(1.27) },
        { path: model.file, ...(model.file === 'onnx/model.onnx' ? {} : { to: 'onnx/model.onnx' }), approxSize: model.size },
      ],
      provenance: 'Files and rounded sizes from the hub tree pages of main (commit ff690b0, only its short form seen); no sha256 known. Pulls main, unpinned.',
    };
  }),
];

/** The built-in entries, plus (and overridden by) those of a manifest file when one is given. */
export function loadManifest(extraFile?: string): ManifestEntry[] {
  const entries = new Map(BUILT_IN.map((e) => [e.name, e]));
  if (extraFile) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(extraFile, 'utf8'));
    } catch (error) {
      throw new GasError('bad_input', `The manifest ${extraFile} could not be read as JSON: ${(error as Error).message}`);
    }
    const parsed = manifestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new GasError('bad_input', `The manifest ${extraFile}: ${issue.message} at ${issue.path.join('.')}.`);
    }
    for (const entry of parsed.data.models) entries.set(entry.name, entry);
  }
  return [...entries.values()];
}

export function findEntry(entries: readonly ManifestEntry[], name: string): ManifestEntry {
  const entry = entries.find((e) => e.name === name);
  if (!entry) throw new GasError('bad_input', `No model named "${name}" in the manifest. Known: ${entries.map((e) => e.name).join(', ')} (see \`gas models list\`).`);
  return entry;
}
