/** `gas edit` and `gas plan`: run the pipeline in-process and write the files. */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { GasError, isGasError } from '../errors.js';
import { ABLATIONS, SCHEDULES, type Ablation, type Schedule } from '../distill/engine.js';
import { loadDiffusionBundle } from '../models/bundle.js';
import type { ExecutionProvider } from '../models/providers.js';
import { openGroundingDino } from '../ground/grounding-dino.js';
import { DEFAULT_THRESHOLDS, type DetectionThresholds, type Detector } from '../ground/detector.js';
import { decodePhoto, encodePng, type RgbImage } from '../image/decode.js';
import { DEFAULT_EDIT_OPTIONS, checkIntensity } from '../pipeline/edit.js';
import { workingSize } from '../image/tensor.js';
import { parseUserBox, type UserBox } from '../pipeline/ground.js';
import { planAndGround, planGroundAndFix, runPipeline, type PipelineEvent, type PipelineInput } from '../pipeline/run.js';
import { checkPlanRequest, type Planner } from '../plan/planner.js';
import type { Plan } from '../plan/schema.js';
import type { SectionValues } from '../config/section.js';
import type { modelsSection } from '../config/sections.js';
import { MAX_SEED, MAX_STEPS } from '../distill/modes.js';
import { readPhotoFile, readPlanFile } from './files.js';
import { flagName, oneOf, probability, wholeNumber, type NameOf } from './flag-values.js';
import type { CliIo } from './io.js';
import { progressReporter } from './progress.js';

/** What the command line gives, as commander parses it (strings until validated). */
export interface EditFlags {
  plan?: string;
  out?: string;
  steps?: string;
  seed?: string;
  schedule: string;
  ablate?: string;
  composite: boolean;
  previews: boolean;
  maxSide?: string;
  intensity?: string;
  boxThreshold?: string;
  textThreshold?: string;
  box: string[];
  /** `gas plan`: replies of the check step's fix language, applied in turn. */
  fix?: string[];
  allowRandomWeights?: boolean;
}

/** What the configuration decides for an edit: the models (with any flags that override them) and the planner. */
export interface EditSettings {
  models: SectionValues<typeof modelsSection>;
  planner: Planner;
}

export interface CommandResult {
  outDir: string;
  files: string[];
  seed?: number;
  plan: Plan;
}

/** The image file's pixels, under the same limits as `gas submit` and the chat bots (`decodePhoto`). */
export async function readImageFile(path: string): Promise<RgbImage> {
  return decodePhoto(readPhotoFile(path));
}

interface Prepared {
  input: PipelineInput;
  planner: Planner;
  detector?: Detector;
  userBoxes: UserBox[];
  thresholds: DetectionThresholds;
  provider: ExecutionProvider;
  outDir: string;
}

/** Refuses an output folder that is a file, or lies under one, before any work is done. */
export function checkOutDir(outDir: string, name = '--out'): void {
  for (let dir = outDir; ; dir = dirname(dir)) {
    if (existsSync(dir)) {
      if (statSync(dir).isDirectory()) return;
      const where = dir === outDir ? `${outDir} is a file` : `${outDir} is under ${dir}, which is a file`;
      throw new GasError('bad_input', `${name}: ${where}; give a folder.`);
    }
    if (dirname(dir) === dir) return;
  }
}

/** Everything that can be checked before a model is loaded or a byte is written. */
async function prepare(imagePath: string, request: string | undefined, flags: EditFlags, settings: EditSettings, name: NameOf): Promise<Prepared> {
  if (!flags.plan && request === undefined) {
    throw new GasError('bad_input', 'Say what to change after the image, e.g. "turn the dog into a tiger", or give --plan plan.json.');
  }
  const plan = flags.plan ? readPlanFile(flags.plan) : undefined;
  const { provider, detector: detectorDir, detectorVariant } = settings.models;
  const { planner } = settings;
  const userBoxes = (flags.box ?? []).map(parseUserBox);
  const thresholds = {
    box: probability(flags.boxThreshold, name('boxThreshold')) ?? DEFAULT_THRESHOLDS.box,
    text: probability(flags.textThreshold, name('textThreshold')) ?? DEFAULT_THRESHOLDS.text,
  };
  const outDir = resolve(flags.out ?? join('out', basename(imagePath, extname(imagePath))));
  checkOutDir(outDir, name('out'));
  const image = await readImageFile(imagePath);
  if (!plan) checkPlanRequest({ text: request, image });
  const detector = detectorDir ? await openGroundingDino(resolve(detectorDir), { provider, variant: detectorVariant }) : undefined;
  return { input: { image, request, plan }, planner, detector, userBoxes, thresholds, provider, outDir };
}

function writer(outDir: string) {
  const files: string[] = [];
  return {
    files,
    write(name: string, data: Buffer) {
      mkdirSync(outDir, { recursive: true });
      const file = join(outDir, name);
      writeFileSync(file, data);
      files.push(file);
    },
  };
}

/** Runs `work`; if it fails after grounding, still writes the overlay so the person can see what was found. */
async function withOverlayOnFailure<T>(out: ReturnType<typeof writer>, work: (onEvent: (e: PipelineEvent) => void) => Promise<T>): Promise<T> {
  let overlay: Buffer | undefined;
  try {
    return await work((event) => {
      if (event.type === 'grounded') overlay = event.overlay;
    });
  } catch (error) {
    if (overlay && isGasError(error, 'not_found')) {
      if (!out.files.some((f) => basename(f) === 'masks.png')) out.write('masks.png', overlay);
      error.message += ` The regions that were found are drawn in ${out.files.find((f) => basename(f) === 'masks.png')}.`;
    }
    throw error;
  }
}

/** The edit's own flags, checked before anything is loaded or written. */
export function parseEditFlags(flags: EditFlags, name: NameOf = flagName) {
  const maxSide = wholeNumber(flags.maxSide, name('maxSide'), 64, 2048) ?? DEFAULT_EDIT_OPTIONS.maxSide;
  workingSize(maxSide, maxSide, maxSide);
  const intensity = flags.intensity?.split(',').map((v) => {
    const n = Number(v.trim());
    if (v.trim() === '' || !Number.isFinite(n)) throw new GasError('bad_input', `${name('intensity')} takes numbers separated by commas (got "${flags.intensity}").`);
    return n;
  });
  checkIntensity(intensity);
  return {
    steps: wholeNumber(flags.steps, name('steps'), 1, MAX_STEPS) ?? DEFAULT_EDIT_OPTIONS.steps,
    seed: wholeNumber(flags.seed, name('seed'), 0, MAX_SEED),
    schedule: oneOf<Schedule>(flags.schedule, name('schedule'), SCHEDULES) ?? DEFAULT_EDIT_OPTIONS.schedule,
    ablation: oneOf<Ablation>(flags.ablate, name('ablate'), ABLATIONS),
    maxSide,
    intensity,
  };
}

export async function runEditCommand(
  imagePath: string,
  request: string | undefined,
  flags: EditFlags,
  settings: EditSettings,
  io: CliIo,
  name: NameOf = flagName,
): Promise<CommandResult> {
  const { steps, seed, schedule, ablation, maxSide, intensity } = parseEditFlags(flags, name);
  const prepared = await prepare(imagePath, request, flags, settings, name);
  if (prepared.input.plan) checkIntensity(intensity, prepared.input.plan.subtasks.length);
  const bundle = await loadDiffusionBundle(settings.models.bundle, { provider: prepared.provider, allowRandomWeights: flags.allowRandomWeights });
  for (const note of bundle.adaptations) io.stderr.write(`${note}\n`);

  const out = writer(prepared.outDir);
  const previews: { iteration: number; png: Promise<Buffer> }[] = [];
  const progress = progressReporter(io.stderr, 'editing');
  const result = await withOverlayOnFailure(out, (onEvent) =>
    runPipeline(prepared.input, { bundle, planner: prepared.planner, detector: prepared.detector }, {
      ...DEFAULT_EDIT_OPTIONS,
      steps,
      seed,
      schedule,
      ablation,
      composite: flags.composite,
      intensity,
      maxSide,
      userBoxes: prepared.userBoxes,
      thresholds: prepared.thresholds,
      previewAt: flags.previews ? everyTenth(steps) : undefined,
      onProgress: (p) => {
        progress.update(p);
        if (p.preview) previews.push({ iteration: p.iteration, png: encodePng(p.preview) });
      },
    }, (event) => {
      onEvent(event);
      if (event.type === 'planned') noteUnsupported(event.plan, io);
    }),
  );
  progress.done();

  out.write('edit.png', result.image);
  out.write('masks.png', result.overlay);
  for (const preview of previews) out.write(`preview-${String(preview.iteration).padStart(4, '0')}.png`, await preview.png);
  return { outDir: prepared.outDir, files: out.files, seed: result.seed, plan: result.plan };
}

/**
 * `gas plan`: the plan as JSON and the mask overlay, so the masks can be checked before any GPU
 * time; `--fix` replies (the chat's check step language) correct the regions first.
 */
export async function runPlanCommand(imagePath: string, request: string | undefined, flags: EditFlags, settings: EditSettings, name: NameOf = flagName): Promise<CommandResult> {
  const prepared = await prepare(imagePath, request, flags, settings, name);
  const out = writer(prepared.outDir);
  const fixes = flags.fix ?? [];
  const { plan } = await withOverlayOnFailure(out, (onEvent) => {
    const emit = (event: PipelineEvent) => {
      onEvent(event);
      if (event.type === 'grounded') out.write('masks.png', event.overlay);
    };
    const options = { userBoxes: prepared.userBoxes, thresholds: prepared.thresholds };
    return fixes.length > 0 ? planGroundAndFix(prepared.input, prepared, options, fixes, emit) : planAndGround(prepared.input, prepared, options, emit);
  });
  return { outDir: prepared.outDir, files: out.files, plan };
}

/** Previews every 10% of the steps. */
function everyTenth(steps: number): (iteration: number) => boolean {
  const every = Math.max(1, Math.floor(steps / 10));
  return (iteration) => iteration % every === 0;
}

function noteUnsupported(plan: Plan, io: CliIo): void {
  plan.subtasks.forEach((subtask, k) => {
    if (subtask.preserveForm) {
      io.stderr.write(
        `note: subtask ${k + 1} asks to preserve form; that needs the reference's CDS loss (back-propagation through the UNet), ` +
          'which an inference-only runtime cannot run, so it is edited without it.\n',
      );
    }
  });
}
