/** `gas edit` and `gas demo`: run one edit in-process and write the files. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { GasError } from '../errors.js';
import { ABLATIONS, SCHEDULES, type Ablation, type Schedule } from '../distill/engine.js';
import { loadDiffusionBundle } from '../models/bundle.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../models/session.js';
import { decodeImage, encodePng, type RgbImage } from '../image/decode.js';
import { DEFAULT_EDIT_OPTIONS, editImage, planRegions } from '../pipeline/edit.js';
import { parsePlan, type Plan } from '../plan/schema.js';
import { progressReporter } from './progress.js';

/** What the command line gives, as commander parses it (strings until validated). */
export interface EditFlags {
  plan?: string;
  out?: string;
  bundle: string;
  provider: string;
  steps?: string;
  seed?: string;
  schedule: string;
  ablate?: string;
  composite: boolean;
  previews: boolean;
  maxSide?: string;
  intensity?: string;
}

export interface EditCommandResult {
  outDir: string;
  files: string[];
  seed: number;
}

function wholeNumber(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new GasError('bad_input', `--${name} must be a whole number from ${min} to ${max} (got "${value}").`);
  return n;
}

function oneOf<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new GasError('bad_input', `--${name} must be one of ${allowed.join(', ')} (got "${value}").`);
  return value as T;
}

export function readPlanFile(path: string): Plan {
  if (!existsSync(path)) throw new GasError('bad_input', `No plan file at ${path}.`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GasError('bad_plan', `${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parsePlan(json);
}

export async function readImageFile(path: string): Promise<RgbImage> {
  if (!existsSync(path)) throw new GasError('bad_input', `No image at ${path}.`);
  return decodeImage(readFileSync(path));
}

/** Validates every input before loading models or writing anything, then edits. */
export async function runEditCommand(imagePath: string, flags: EditFlags, io = { stderr: process.stderr }): Promise<EditCommandResult> {
  if (!flags.plan) throw new GasError('bad_input', 'Give the edit plan with --plan plan.json (see the README for its format).');
  const plan = readPlanFile(flags.plan);
  planRegions(plan);
  const steps = wholeNumber(flags.steps, 'steps', 1, 10000) ?? DEFAULT_EDIT_OPTIONS.steps;
  const seed = wholeNumber(flags.seed, 'seed', 0, 2 ** 31 - 1);
  const schedule = oneOf<Schedule>(flags.schedule, 'schedule', SCHEDULES) ?? DEFAULT_EDIT_OPTIONS.schedule;
  const ablation = oneOf<Ablation>(flags.ablate, 'ablate', ABLATIONS);
  const provider = oneOf<ExecutionProvider>(flags.provider, 'provider', EXECUTION_PROVIDERS) ?? 'cpu';
  const maxSide = wholeNumber(flags.maxSide, 'max-side', 64, 2048) ?? DEFAULT_EDIT_OPTIONS.maxSide;
  const intensity = flags.intensity?.split(',').map((v) => {
    const n = Number(v.trim());
    if (v.trim() === '' || !Number.isFinite(n)) throw new GasError('bad_input', `--intensity takes numbers separated by commas (got "${flags.intensity}").`);
    return n;
  });
  const image = await readImageFile(imagePath);
  plan.subtasks.forEach((subtask, k) => {
    if (subtask.preserveForm) {
      io.stderr.write(
        `note: subtask ${k + 1} asks to preserve form; that needs the reference's CDS loss (back-propagation through the UNet), ` +
          'which an inference-only runtime cannot run, so it is edited without it.\n',
      );
    }
  });
  const bundle = await loadDiffusionBundle(flags.bundle, { provider });

  const outDir = resolve(flags.out ?? join('out', basename(imagePath, extname(imagePath))));
  const previews: { iteration: number; png: Promise<Buffer> }[] = [];
  const progress = progressReporter(io.stderr, 'editing');
  const result = await editImage(bundle, image, plan, {
    ...DEFAULT_EDIT_OPTIONS,
    steps,
    seed,
    schedule,
    ablation,
    composite: flags.composite,
    intensity,
    maxSide,
    previewEvery: flags.previews ? Math.max(1, Math.floor(steps / 10)) : 0,
    onProgress: (p) => {
      progress.update(p);
      if (p.preview) previews.push({ iteration: p.iteration, png: encodePng(p.preview) });
    },
  });
  progress.done();

  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, data: Buffer) => {
    const file = join(outDir, name);
    writeFileSync(file, data);
    files.push(file);
  };
  write('edit.png', result.image);
  write('masks.png', result.overlay);
  for (const preview of previews) write(`preview-${String(preview.iteration).padStart(4, '0')}.png`, await preview.png);
  return { outDir, files, seed: result.seed };
}
