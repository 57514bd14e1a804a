/** `gas edit` and `gas plan`: run the pipeline in-process and write the files. */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { GasError, isGasError } from '../errors.js';
import { ABLATIONS, SCHEDULES, type Ablation, type Schedule } from '../distill/engine.js';
import { loadDiffusionBundle } from '../models/bundle.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../models/session.js';
import { openGroundingDino } from '../ground/grounding-dino.js';
import { DEFAULT_THRESHOLDS, type DetectionThresholds, type Detector } from '../ground/detector.js';
import { decodePhoto, encodePng, type RgbImage } from '../image/decode.js';
import { DEFAULT_EDIT_OPTIONS, checkIntensity } from '../pipeline/edit.js';
import { workingSize } from '../image/tensor.js';
import { parseUserBox, type UserBox } from '../pipeline/ground.js';
import { planAndGround, runPipeline, type PipelineEvent, type PipelineInput } from '../pipeline/run.js';
import { checkPlanRequest, PLANNERS, type Planner, type PlannerName } from '../plan/planner.js';
import { offlinePlanner } from '../plan/offline.js';
import { openAIPlanner, openAIPlannerConfigFromEnv } from '../plan/openai.js';
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
  planner?: string;
  detector?: string;
  boxThreshold?: string;
  textThreshold?: string;
  box: string[];
}

export interface CommandResult {
  outDir: string;
  files: string[];
  seed?: number;
  plan: Plan;
}

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

function wholeNumber(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new GasError('bad_input', `--${name} must be a whole number from ${min} to ${max} (got "${value}").`);
  return n;
}

function probability(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new GasError('bad_input', `--${name} must be a number between 0 and 1 (got "${value}").`);
  return n;
}

function oneOf<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new GasError('bad_input', `--${name} must be one of ${allowed.join(', ')} (got "${value}").`);
  return value as T;
}

const isFile = (path: string) => existsSync(path) && statSync(path).isFile();

export function readPlanFile(path: string): Plan {
  if (!isFile(path)) throw new GasError('bad_input', `No plan file at ${path}.`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GasError('bad_plan', `${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parsePlan(json);
}

/** The image file's pixels, under the same limits as `gas submit` and the chat bots (`decodePhoto`). */
export async function readImageFile(path: string): Promise<RgbImage> {
  return decodePhoto(readPhotoFile(path));
}

/** The image file's bytes as they are, unchecked; a missing or unreadable file is bad input. */
export function readPhotoFile(path: string): Buffer {
  if (!isFile(path)) throw new GasError('bad_input', `No image at ${path}.`);
  try {
    return readFileSync(path);
  } catch (error) {
    throw new GasError('bad_input', `Could not read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
}

/** The planner to use: --planner, else openai when OPENAI_API_KEY is set, else offline. */
export function choosePlanner(name: PlannerName | undefined, env: NodeJS.ProcessEnv = process.env): Planner {
  const config = openAIPlannerConfigFromEnv(env);
  if (name === 'openai' || (name === undefined && config)) {
    if (!config) throw new GasError('bad_input', 'The openai planner needs OPENAI_API_KEY (and OPENAI_BASE_URL for a local server such as Ollama or vLLM).');
    return openAIPlanner(config);
  }
  return offlinePlanner;
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

/** Everything that can be checked before a model is loaded or a byte is written. */
async function prepare(imagePath: string, request: string | undefined, flags: EditFlags): Promise<Prepared> {
  if (!flags.plan && request === undefined) {
    throw new GasError('bad_input', 'Say what to change, e.g. gas edit photo.jpg "turn the dog into a tiger", or give --plan plan.json.');
  }
  const plan = flags.plan ? readPlanFile(flags.plan) : undefined;
  const provider = oneOf<ExecutionProvider>(flags.provider, 'provider', EXECUTION_PROVIDERS) ?? 'cpu';
  const planner = choosePlanner(oneOf<PlannerName>(flags.planner, 'planner', PLANNERS));
  const userBoxes = (flags.box ?? []).map(parseUserBox);
  const thresholds = {
    box: probability(flags.boxThreshold, 'box-threshold', DEFAULT_THRESHOLDS.box),
    text: probability(flags.textThreshold, 'text-threshold', DEFAULT_THRESHOLDS.text),
  };
  const image = await readImageFile(imagePath);
  if (!plan) checkPlanRequest({ text: request, image });
  const detector = flags.detector ? await openGroundingDino(resolve(flags.detector), { provider }) : undefined;
  const outDir = resolve(flags.out ?? join('out', basename(imagePath, extname(imagePath))));
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
export function parseEditFlags(flags: EditFlags) {
  const maxSide = wholeNumber(flags.maxSide, 'max-side', 64, 2048) ?? DEFAULT_EDIT_OPTIONS.maxSide;
  workingSize(maxSide, maxSide, maxSide);
  const intensity = flags.intensity?.split(',').map((v) => {
    const n = Number(v.trim());
    if (v.trim() === '' || !Number.isFinite(n)) throw new GasError('bad_input', `--intensity takes numbers separated by commas (got "${flags.intensity}").`);
    return n;
  });
  checkIntensity(intensity);
  return {
    steps: wholeNumber(flags.steps, 'steps', 1, 10000) ?? DEFAULT_EDIT_OPTIONS.steps,
    seed: wholeNumber(flags.seed, 'seed', 0, 2 ** 31 - 1),
    schedule: oneOf<Schedule>(flags.schedule, 'schedule', SCHEDULES) ?? DEFAULT_EDIT_OPTIONS.schedule,
    ablation: oneOf<Ablation>(flags.ablate, 'ablate', ABLATIONS),
    maxSide,
    intensity,
  };
}

export async function runEditCommand(imagePath: string, request: string | undefined, flags: EditFlags, io: Io = process): Promise<CommandResult> {
  const { steps, seed, schedule, ablation, maxSide, intensity } = parseEditFlags(flags);
  const prepared = await prepare(imagePath, request, flags);
  if (prepared.input.plan) checkIntensity(intensity, prepared.input.plan.subtasks.length);
  const bundle = await loadDiffusionBundle(flags.bundle, { provider: prepared.provider });

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

/** `gas plan`: the plan as JSON and the mask overlay, so the masks can be checked before any GPU time. */
export async function runPlanCommand(imagePath: string, request: string, flags: EditFlags): Promise<CommandResult> {
  const prepared = await prepare(imagePath, request, flags);
  const out = writer(prepared.outDir);
  const { plan } = await withOverlayOnFailure(out, (onEvent) =>
    planAndGround(prepared.input, prepared, { userBoxes: prepared.userBoxes, thresholds: prepared.thresholds }, (event) => {
      onEvent(event);
      if (event.type === 'grounded') out.write('masks.png', event.overlay);
    }),
  );
  return { outDir: prepared.outDir, files: out.files, plan };
}

/** Previews every 10% of the steps. */
function everyTenth(steps: number): (iteration: number) => boolean {
  const every = Math.max(1, Math.floor(steps / 10));
  return (iteration) => iteration % every === 0;
}

function noteUnsupported(plan: Plan, io: Io): void {
  plan.subtasks.forEach((subtask, k) => {
    if (subtask.preserveForm) {
      io.stderr.write(
        `note: subtask ${k + 1} asks to preserve form; that needs the reference's CDS loss (back-propagation through the UNet), ` +
          'which an inference-only runtime cannot run, so it is edited without it.\n',
      );
    }
  });
}
