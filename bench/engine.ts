/**
 * `npm run bench`: the engine's cost on the colour world at the reference's 64×64 latent.
 * For K = 1…4 subtasks under both schedules: UNet runs and images per iteration, ms per
 * iteration inside ONNX Runtime and outside it (the engine), then RSS across 20 edits.
 * Prints figures; asserts nothing (shared machines are noisy: compare rows of one run).
 */
import { groundAScore, REFERENCE_OPTIONS, SCHEDULES, type DistillRequest } from '../src/distill/engine.js';
import { noiseSchedule } from '../src/distill/schedule.js';
import type { Box } from '../src/distill/masks.js';
import { loadDiffusionBundle } from '../src/models/bundle.js';
import { DEFAULT_EDIT_OPTIONS, editImage } from '../src/pipeline/edit.js';
import { decodeImage } from '../src/image/decode.js';
import { buildColourWorld, COLOUR_WORLD_VARIANTS, isCurrentColourWorld } from '../models/colour-world/build.js';
import { colourWorldBundleDir } from '../models/colour-world/paths.js';
import { DEMO_PLAN, demoScenePng } from '../src/cli/demo-scene.js';
import { PALETTE, latentOfRgb } from '../models/colour-world/world.js';

const ITERATIONS = 100;
const WARMUP = 10;
const SIZE = 64;
const WORDS = [['a dog', 'a tiger'], ['the grass', 'the snow'], ['the sky', 'the sea'], ['a car', 'a pumpkin']] as const;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const gc = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  const dir = colourWorldBundleDir('standard');
  if (!isCurrentColourWorld(dir, COLOUR_WORLD_VARIANTS.standard)) buildColourWorld(dir, COLOUR_WORLD_VARIANTS.standard);
  const bundle = await loadDiffusionBundle(dir);
  const schedule = noiseSchedule(bundle.scheduler);
  const embed = (prompt: string) => bundle.textEncoder.encode(prompt);

  const source = new Float32Array(4 * SIZE * SIZE);
  const green = latentOfRgb(PALETTE.green);
  for (let c = 0; c < 4; c++) source.fill(green[c], c * SIZE * SIZE, (c + 1) * SIZE * SIZE);

  console.log(`Engine on the colour world, ${SIZE}×${SIZE} latent, ${ITERATIONS} iterations after ${WARMUP} warm-up (${process.arch}, ${process.version})`);
  console.log('K  schedule    runs/it  images/it  ms/it  ORT ms/it  engine ms/it');
  for (let K = 1; K <= 4; K++) {
    // K side-by-side boxes, each a quarter of the width and under 15% of the image, so γ applies to all.
    const subtasks = await Promise.all(WORDS.slice(0, K).map(async ([from, to], k) => ({
      source: await embed(from),
      target: await embed(to),
      boxes: [[k / 4, k % 2 === 0 ? 0 : 0.5, (k + 1) / 4, k % 2 === 0 ? 0.5 : 0.8] as Box],
      intensity: 1,
    })));
    const request: DistillRequest = {
      source: { data: source, height: SIZE, width: SIZE },
      nullText: await embed(''),
      subtasks,
      full: { source: await embed(WORDS.slice(0, K).map((w) => w[0]).join(', ')), target: await embed(WORDS.slice(0, K).map((w) => w[1]).join(', ')) },
    };
    for (const mode of SCHEDULES) {
      const options = { ...REFERENCE_OPTIONS, schedule: mode, seed: 1 };
      await groundAScore(bundle.unet, schedule, request, { ...options, iterations: WARMUP });
      const before = { ...bundle.unet.stats };
      const started = performance.now();
      await groundAScore(bundle.unet, schedule, request, { ...options, iterations: ITERATIONS });
      const total = (performance.now() - started) / ITERATIONS;
      const ort = (bundle.unet.stats.runMs - before.runMs) / ITERATIONS;
      const runs = (bundle.unet.stats.runs - before.runs) / ITERATIONS;
      const images = (bundle.unet.stats.images - before.images) / ITERATIONS;
      console.log(
        `${K}  ${mode.padEnd(10)}  ${runs.toFixed(0).padStart(7)}  ${images.toFixed(0).padStart(9)}  ${total.toFixed(2).padStart(5)}  ` +
          `${ort.toFixed(2).padStart(9)}  ${(total - ort).toFixed(3).padStart(12)}`,
      );
    }
  }
  console.log(`peak RSS so far: ${mib(process.resourceUsage().maxRSS * 1024)}`);

  // RSS across 20 consecutive whole edits (decode → encode → 100 iterations → decode → composite → PNG).
  // A single reading is noisy (allocator arenas, sharp's cache), so compare the means of edits 3–7 and 16–20.
  const scene = await decodeImage(await demoScenePng());
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 1; i <= 20; i++) {
    await editImage(bundle, scene, DEMO_PLAN, { ...DEFAULT_EDIT_OPTIONS, steps: 100, seed: i });
    gc?.();
    rss.push(process.memoryUsage().rss);
    heap.push(process.memoryUsage().heapUsed);
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const [early, late] = [mean(rss.slice(2, 7)), mean(rss.slice(15, 20))];
  console.log(
    `RSS across 20 edits${gc ? ' (after gc)' : ''}: edits 3–7 ${mib(early)}, edits 16–20 ${mib(late)} ` +
      `(${(((late - early) / early) * 100).toFixed(1)}%); JS heap #1 ${mib(heap[0])}, #20 ${mib(heap[19])}`,
  );
  console.log(`peak RSS: ${mib(process.resourceUsage().maxRSS * 1024)}`);
}

await main();
