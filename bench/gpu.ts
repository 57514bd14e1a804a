/**
 * `npm run bench:gpu -- --provider webgpu|cuda|cpu --k 1,3,5 --size 512`: the engine's cost on a
 * bundle with SD 1.5's architecture and random weights (models/sd15-shape), built from its seed
 * when missing. For each K and both schedules: warm-up, then timed iterations; ms per iteration,
 * UNet images per second, the projected 500-iteration edit, and against the GPU floor (UNet
 * multiply-accumulates over a peak rate). On `cpu` it defaults to the scaled-down bundle at 256²,
 * so it finishes on a small machine in about a minute. Prints figures; asserts nothing.
 *
 * `--bundle dir` measures that folder as it is, a real SD 1.x export too (it is built only when
 * missing); the MAC counts are those of `--shape`'s architecture.
 *
 * Memory: onnxruntime-node reports none for any provider, so the table gives the process's peak
 * RSS and, where `nvidia-smi` exists, the GPU's used memory (whole device) sampled every 250 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { groundAScore, REFERENCE_OPTIONS, SCHEDULES, type DistillRequest, type Schedule } from '../src/distill/engine.js';
import { seededRandom } from '../src/distill/random.js';
import { noiseSchedule } from '../src/distill/schedule.js';
import { GasError } from '../src/errors.js';
import { loadDiffusionBundle, type DiffusionBundle } from '../src/models/bundle.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../src/models/providers.js';
import { RANDOM_DTYPES, RANDOM_SHAPES, RANDOM_SHAPE_NAMES, type RandomDType, type RandomShapeName } from '../models/sd15-shape/config.js';
import { buildRandomBundle, DEFAULT_WEIGHT_SEED, isCurrentRandomBundle, randomBundleDir, randomBundleGraphs } from '../models/sd15-shape/build.js';

/** The H200's bf16 matrix rate measured on this workplace's machines (KINDS.md): the floor's denominator. */
const DEFAULT_PEAK_TFLOPS = 790;
const EDIT_ITERATIONS = REFERENCE_OPTIONS.iterations;
const WORDS = [['a dog', 'a tiger'], ['the grass', 'the snow'], ['the sky', 'the sea'], ['a car', 'a pumpkin'], ['a cat', 'a fox']] as const;

const USAGE = `usage: npm run bench:gpu -- [--provider cpu|cuda|webgpu] [--k 1,3,5] [--size px] [--dtype fp16|fp32] [--shape ${RANDOM_SHAPE_NAMES.join('|')}]
       [--bundle dir] [--seed n] [--warmup n] [--iterations n] [--schedules aggregated,official] [--max-batch n] [--peak-tflops n] [--json file]`;

interface Settings {
  provider: ExecutionProvider;
  ks: number[];
  size: number;
  shape: RandomShapeName;
  dtype: RandomDType;
  bundle: string;
  /** --bundle named it: measured as it is (built only when missing), since it may be a real export. */
  bundleGiven: boolean;
  seed: number;
  warmup: number;
  iterations: number;
  schedules: Schedule[];
  /** Split UNet runs into at most this many images (a provider's buffer limits); undefined: one run per batch. */
  maxBatch: number | undefined;
  peakTflops: number;
  json: string | undefined;
}

interface Row {
  k: number;
  schedule: Schedule;
  runsPerIteration?: number;
  imagesPerIteration?: number;
  msPerIteration?: number;
  ortMsPerIteration?: number;
  imagesPerSecond?: number;
  projectedEditSeconds?: number;
  achievedTflops?: number;
  floorMs?: number;
  gpuMemoryMiB?: number;
  error?: string;
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function settings(): Settings {
  const { values } = parseArgs({
    options: {
      provider: { type: 'string', default: 'cpu' },
      k: { type: 'string', default: '1,3,5' },
      size: { type: 'string' },
      shape: { type: 'string' },
      dtype: { type: 'string' },
      bundle: { type: 'string' },
      seed: { type: 'string', default: String(DEFAULT_WEIGHT_SEED) },
      warmup: { type: 'string' },
      iterations: { type: 'string' },
      schedules: { type: 'string', default: SCHEDULES.join(',') },
      'max-batch': { type: 'string' },
      'peak-tflops': { type: 'string', default: String(DEFAULT_PEAK_TFLOPS) },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const whole = (value: string, name: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number of at least ${min} (got "${value}").`);
    return n;
  };
  const oneOf = <T extends string>(value: string, name: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(value)) fail(`--${name} must be one of ${allowed.join(', ')} (got "${value}").`);
    return value as T;
  };
  const provider = oneOf(values.provider, 'provider', EXECUTION_PROVIDERS);
  const cpu = provider === 'cpu';
  // The CPU runs the scaled-down bundle at 256²: SD 1.5 itself takes seconds per image there.
  const shape = oneOf(values.shape ?? (cpu ? 'sd15-shape-tiny' : 'sd15-shape'), 'shape', RANDOM_SHAPE_NAMES);
  const dtype = oneOf(values.dtype ?? (cpu ? 'fp32' : 'fp16'), 'dtype', RANDOM_DTYPES);
  const size = whole(values.size ?? (cpu ? '256' : '512'), 'size', 64);
  if (size % 64 !== 0) fail(`--size must be a multiple of 64 (got ${size}).`);
  const schedules = values.schedules.split(',').map((s) => oneOf(s.trim(), 'schedules', SCHEDULES));
  return {
    provider,
    ks: values.k.split(',').map((k) => whole(k.trim(), 'k', 1)),
    size,
    shape,
    dtype,
    bundle: resolve(values.bundle ?? randomBundleDir(shape, dtype)),
    bundleGiven: values.bundle !== undefined,
    seed: whole(values.seed, 'seed', 0),
    warmup: whole(values.warmup ?? (cpu ? '1' : '3'), 'warmup', 0),
    iterations: whole(values.iterations ?? (cpu ? '3' : '10'), 'iterations', 1),
    schedules,
    maxBatch: values['max-batch'] === undefined ? undefined : whole(values['max-batch'], 'max-batch', 1),
    peakTflops: Number(values['peak-tflops']),
    json: values.json,
  };
}

/** The GPU's used memory from `nvidia-smi`, sampled in the background; undefined where there is none. */
class GpuMemory {
  private peak: number | undefined;
  private readonly child: ChildProcess | undefined;

  constructor() {
    try {
      const child = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '250'], { stdio: ['ignore', 'pipe', 'ignore'] });
      child.on('error', () => undefined); // no nvidia-smi: no GPU figure
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        for (const line of text.split('\n')) {
          const mib = Number(line.trim().split(',')[0]);
          if (line.trim() !== '' && Number.isFinite(mib)) this.peak = Math.max(this.peak ?? 0, mib);
        }
      });
      this.child = child;
    } catch {
      this.child = undefined;
    }
  }

  /** Peak MiB used on the GPU (all processes) since the bench started. */
  peakMiB(): number | undefined {
    return this.peak;
  }

  stop(): void {
    this.child?.kill();
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

function duration(totalSeconds: number): string {
  if (totalSeconds < 60) return `${totalSeconds.toFixed(1)} s`;
  const minutes = Math.floor(totalSeconds / 60);
  return `${minutes} min ${Math.round(totalSeconds - minutes * 60)} s`;
}

async function request(bundle: DiffusionBundle, k: number, latentSide: number, seed: number): Promise<DistillRequest> {
  const embed = (prompt: string) => bundle.textEncoder.encode(prompt);
  const pairs = Array.from({ length: k }, (_, i) => WORDS[i % WORDS.length]);
  // K side-by-side boxes, each under 15% of the image, so every subtask gets the null-text penalty as small objects do.
  const subtasks = await Promise.all(pairs.map(async ([from, to], i) => ({
    source: await embed(from),
    target: await embed(to),
    boxes: [[i / k, 0.3, (i + 1) / k, 0.3 + Math.min(0.6, 0.14 * k)] as const],
    intensity: 1,
  })));
  const source = seededRandom(seed).fillNormal(new Float32Array(4 * latentSide * latentSide));
  return {
    source: { data: source, height: latentSide, width: latentSide },
    nullText: await embed(''),
    subtasks,
    full: { source: await embed(pairs.map((p) => p[0]).join(', ')), target: await embed(pairs.map((p) => p[1]).join(', ')) },
  };
}

async function main(): Promise<void> {
  const s = settings();
  const config = RANDOM_SHAPES[s.shape];
  const spec = { shape: s.shape, dtype: s.dtype, seed: s.seed };
  if (s.bundleGiven ? !existsSync(s.bundle) : !isCurrentRandomBundle(s.bundle, spec)) {
    console.log(`building ${s.shape} ${s.dtype} (seed ${s.seed}) → ${s.bundle}`);
    const started = performance.now();
    const files = buildRandomBundle(s.bundle, spec);
    const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
    console.log(`built in ${seconds(performance.now() - started)} s: ${files.length} files, ${mib(bytes)} MiB`);
  }
  const image = { height: s.size, width: s.size };
  const graphs = randomBundleGraphs(config, s.dtype, s.seed, image);
  const unetMacs = graphs.unet.macs;
  const gpu = new GpuMemory();

  let started = performance.now();
  let bundle: DiffusionBundle;
  try {
    bundle = await loadDiffusionBundle(s.bundle, { provider: s.provider, allowRandomWeights: true, maxUNetBatch: s.maxBatch });
  } catch (error) {
    // ONNX Runtime's own words (no adapter, no kernel) are in the cause: the device log needs them.
    const cause = error instanceof GasError ? error.details?.cause : undefined;
    console.error(`bench:gpu: loading ${s.bundle} on ${s.provider} failed: ${(error as Error).message}${cause ? `\n  ONNX Runtime: ${String(cause).trim()}` : ''}`);
    gpu.stop();
    process.exit(1);
  }
  const loadMs = performance.now() - started;
  const latentSide = s.size / bundle.vaeDownsample;
  const schedule = noiseSchedule(bundle.scheduler);

  console.log(
    `bench:gpu: ${s.shape} (${s.dtype}, random weights, seed ${s.seed}) on ${s.provider}, ${s.size}×${s.size} image = ${latentSide}×${latentSide} latent; ` +
      `${s.warmup} warm-up + ${s.iterations} timed iterations per row${s.maxBatch ? `; UNet runs of at most ${s.maxBatch} images` : ''}; ${process.arch}, ${cpus().length} cores, Node ${process.version}`,
  );
  console.log(
    `UNet: ${(graphs.unet.graph.parameterCount() / 1e6).toFixed(1)} M parameters; per image ${(unetMacs.weights / 1e9).toFixed(1)} GMAC in convolutions and linear layers ` +
      `+ ${(unetMacs.attention / 1e9).toFixed(1)} GMAC in attention products; sessions loaded in ${seconds(loadMs)} s`,
  );
  const gpuProvider = s.provider !== 'cpu';
  const header = ['K', 'schedule', 'runs/it', 'images/it', 'ms/it', 'ORT ms/it', 'images/s', `${EDIT_ITERATIONS} its`, 'TFLOP/s', ...(gpuProvider ? ['×floor'] : []), 'GPU MiB'];
  const widths = [2, 10, 7, 9, 8, 9, 8, 12, 7, ...(gpuProvider ? [6] : []), 7];
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));

  const rows: Row[] = [];
  // Written after every row, so a run stopped by a time limit keeps what it measured.
  const writeResults = () => {
    if (s.json) writeFileSync(s.json, `${JSON.stringify({ settings: s, loadMs, unetMacsPerImage: unetMacs, peakRssMiB: process.resourceUsage().maxRSS / 1024, rows }, null, 2)}\n`);
  };
  for (const k of s.ks) {
    const req = await request(bundle, k, latentSide, s.seed);
    for (const mode of s.schedules) {
      const row: Row = { k, schedule: mode };
      rows.push(row);
      const options = { ...REFERENCE_OPTIONS, schedule: mode, seed: s.seed };
      try {
        // Warm-up compiles kernels and grows the provider's buffer pools for this batch size.
        if (s.warmup > 0) await groundAScore(bundle.unet, schedule, req, { ...options, iterations: s.warmup });
        const before = { ...bundle.unet.stats };
        started = performance.now();
        await groundAScore(bundle.unet, schedule, req, { ...options, iterations: s.iterations });
        const ms = (performance.now() - started) / s.iterations;
        const images = (bundle.unet.stats.images - before.images) / s.iterations;
        const flops = 2 * images * (unetMacs.weights + unetMacs.attention);
        Object.assign(row, {
          runsPerIteration: (bundle.unet.stats.runs - before.runs) / s.iterations,
          imagesPerIteration: images,
          msPerIteration: ms,
          ortMsPerIteration: (bundle.unet.stats.runMs - before.runMs) / s.iterations,
          imagesPerSecond: (images * 1000) / ms,
          projectedEditSeconds: (EDIT_ITERATIONS * ms) / 1000,
          achievedTflops: flops / (ms * 1e9),
          // The floor as issue 17 counts it: the MACs with weights (≈ 339 G per image at 512²) at the peak rate.
          floorMs: (2 * images * unetMacs.weights) / (s.peakTflops * 1e9),
          gpuMemoryMiB: gpu.peakMiB(),
        });
      } catch (error) {
        row.error = (error as Error).message.split('\n')[0];
      }
      writeResults();
      if (row.error !== undefined) {
        console.log(`${line([String(k), mode])}  failed: ${row.error}`);
        continue;
      }
      console.log(line([
        String(k),
        mode,
        row.runsPerIteration!.toFixed(0),
        row.imagesPerIteration!.toFixed(0),
        row.msPerIteration!.toFixed(1),
        row.ortMsPerIteration!.toFixed(1),
        row.imagesPerSecond!.toFixed(1),
        duration(row.projectedEditSeconds!),
        row.achievedTflops!.toFixed(2),
        ...(gpuProvider ? [(row.msPerIteration! / row.floorMs!).toFixed(1)] : []),
        row.gpuMemoryMiB === undefined ? '-' : row.gpuMemoryMiB.toFixed(0),
      ]));
    }
  }
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  gpu.stop();
  console.log(`peak RSS of this process: ${peakRssMiB.toFixed(0)} MiB (onnxruntime-node reports no provider memory${gpu.peakMiB() === undefined ? '; no nvidia-smi here' : '; GPU MiB: nvidia-smi memory.used, whole device, peak so far'})`);
  if (gpuProvider) {
    console.log(`×floor: ms/it over ${(unetMacs.weights / 1e9).toFixed(1)} GMAC × 2 × images/it at ${s.peakTflops} TFLOP/s (attention products not counted in the floor; TFLOP/s counts them)`);
  }
  if (rows.some((row) => row.error !== undefined)) process.exitCode = 1;
}

await main();
