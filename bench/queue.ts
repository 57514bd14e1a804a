/**
 * `npm run bench:queue`: what the queue costs, on loopback Redis with colour-world workers.
 * Prints enqueue→start latency on an idle queue, the overhead over the same edit in-process,
 * jobs per minute with 1 and 2 worker processes, and a worker's RSS after 5 and 50 jobs.
 * Figures only; compare them within one run (shared machines are noisy).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { connectRedis, deleteKeysWithPrefix, DEFAULT_REDIS_URL } from '../src/jobs/redis.js';
import { redisKeys } from '../src/jobs/keys.js';
import { EditQueue } from '../src/jobs/edit-queue.js';
import { BlobStore } from '../src/jobs/blob-store.js';
import { loadDiffusionBundle } from '../src/models/bundle.js';
import { openGroundingDino } from '../src/ground/grounding-dino.js';
import { offlinePlanner } from '../src/plan/offline.js';
import { decodeImage } from '../src/image/decode.js';
import { DEFAULT_EDIT_OPTIONS } from '../src/pipeline/edit.js';
import { runPipeline } from '../src/pipeline/run.js';
import { GpuWorker } from '../gpu-worker/worker.js';
import { buildColourWorld, COLOUR_WORLD_VARIANTS, isCurrentColourWorld } from '../models/colour-world/build.js';
import { buildColourWorldDetector, isCurrentColourWorldDetector } from '../models/colour-world/detector.js';
import { colourWorldBundleDir, colourWorldDetectorDir } from '../models/colour-world/paths.js';
import { demoScenePng } from '../src/cli/demo-scene.js';

const REQUEST = 'turn the dog into a tiger and the grass into snow';
const requester = { platform: 'cli' as const, user: 'bench', channel: 'bench' };
const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function main(): Promise<void> {
  if (!isCurrentColourWorld(colourWorldBundleDir(), COLOUR_WORLD_VARIANTS.standard)) buildColourWorld(colourWorldBundleDir(), COLOUR_WORLD_VARIANTS.standard);
  if (!isCurrentColourWorldDetector(colourWorldDetectorDir())) buildColourWorldDetector(colourWorldDetectorDir());
  const redis = connectRedis();
  const prefix = `gas-bench-${process.pid}`;
  const keys = redisKeys(prefix);
  const queue = new EditQueue(redis, keys, { perUserLimit: 1000, maxQueueLength: 10_000 });
  const blobs = new BlobStore(redis, keys);
  const scenePng = await demoScenePng();
  const source = await blobs.put(scenePng);
  const bundle = await loadDiffusionBundle(colourWorldBundleDir());
  const detector = await openGroundingDino(colourWorldDetectorDir());
  const runJob = async (steps: number) => {
    const { jobId } = await queue.submit({ requester, source, request: REQUEST, options: { steps, seed: 1 } });
    for await (const event of queue.events.follow(jobId, { blockMs: 100 })) if (event.type === 'done' || event.type === 'failed') return jobId;
    return jobId;
  };
  console.log(`Queue on ${DEFAULT_REDIS_URL}, colour world (${process.arch}, ${process.version}, 2 cores here)`);

  // 1. Enqueue → start on an idle queue, an in-process worker: BullMQ's processedOn − timestamp.
  const worker = await GpuWorker.start({ redis, keys, bundle, detector, planner: offlinePlanner, logger: pino({ level: 'silent' }), queue: { perUserLimit: 1000 } });
  const latencies: number[] = [];
  for (let i = 0; i < 40; i++) {
    const jobId = await runJob(2);
    const job = await queue.getJob(jobId);
    if (job?.processedOn) latencies.push(job.processedOn - job.timestamp);
  }
  console.log(`enqueue→start, idle queue (${latencies.length} jobs): p50 ${quantile(latencies, 0.5)} ms, p95 ${quantile(latencies, 0.95)} ms (target p95 < 50 ms)`);

  // 2. The same 200-step edit in-process and through the queue.
  const image = await decodeImage(scenePng);
  const inProcess: number[] = [];
  const queued: number[] = [];
  for (let i = 0; i < 5; i++) {
    let started = performance.now();
    await runPipeline({ image, request: REQUEST }, { bundle, planner: offlinePlanner, detector }, { ...DEFAULT_EDIT_OPTIONS, steps: 200, seed: 1 });
    inProcess.push(performance.now() - started);
    started = performance.now();
    await runJob(200);
    queued.push(performance.now() - started);
  }
  const overhead = (mean(queued) - mean(inProcess)) / mean(inProcess);
  console.log(`one 200-step edit: in-process ${mean(inProcess).toFixed(0)} ms, through the queue ${mean(queued).toFixed(0)} ms: overhead ${(overhead * 100).toFixed(1)}% (target < 5%)`);
  await worker.close('drain');

  // 3. Throughput with 1 and 2 worker processes, and a worker's RSS after 5 and 50 jobs.
  const rate: number[] = [];
  for (const workers of [1, 2]) {
    const children = Array.from({ length: workers }, (_, i) => spawnWorker(prefix, i === 0 ? 9480 : undefined));
    await new Promise((r) => setTimeout(r, 2500));
    const started = performance.now();
    const jobs = 24;
    await Promise.all(Array.from({ length: jobs }, () => runJob(150)));
    const perMinute = (jobs / (performance.now() - started)) * 60_000;
    rate.push(perMinute);
    console.log(`${workers} worker process${workers > 1 ? 'es' : ''}: ${perMinute.toFixed(0)} jobs/minute (150-step edits)`);
    if (workers === 1) {
      const rss = async () => Number(/^process_resident_memory_bytes (\d+)/m.exec(await (await fetch('http://127.0.0.1:9480/metrics')).text())?.[1]);
      for (let i = 0; i < 5; i++) await runJob(50);
      const after5 = await rss();
      for (let i = 0; i < 45; i++) await runJob(50);
      const after50 = await rss();
      console.log(`worker RSS: after 5 more jobs ${mib(after5)}, after 50 ${mib(after50)} (${(((after50 - after5) / after5) * 100).toFixed(1)}%; target within 10%)`);
    }
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => c.on('exit', r))));
  }
  console.log(`2 workers / 1 worker: ${(rate[1] / rate[0]).toFixed(2)}× — this machine has 2 cores, and each worker's ONNX Runtime uses both, so two workers compete for the same cores.`);

  await queue.close();
  await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
}

function spawnWorker(prefix: string, opsPort?: number): ChildProcess {
  const args = [resolve('dist/src/cli.js'), 'worker', '--detector', colourWorldDetectorDir(), ...(opsPort ? ['--ops-port', String(opsPort)] : [])];
  return spawn(process.execPath, args, { env: { ...process.env, GAS_PREFIX: prefix, GAS_PER_USER_LIMIT: '1000', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] });
}

await main();
