/** Shared pieces of the queue tests: a unique Redis prefix per test, colour-world workers, waiting for events. */
import { spawnGas, type GasChild } from './gas-process.js';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { connectRedis, deleteKeysWithPrefix } from '../../src/jobs/redis.js';
import { redisKeys, type Keys } from '../../src/jobs/keys.js';
import { EditQueue, type EditQueueConfig } from '../../src/jobs/edit-queue.js';
import { BlobStore } from '../../src/jobs/blob-store.js';
import type { JobEvent } from '../../src/jobs/contracts.js';
import { loadDiffusionBundle, type DiffusionBundle } from '../../src/models/bundle.js';
import { openGroundingDino } from '../../src/ground/grounding-dino.js';
import type { Detector } from '../../src/ground/detector.js';
import { offlinePlanner } from '../../src/plan/offline.js';
import { encodePng } from '../../src/image/decode.js';
import { GpuWorker, type GpuWorkerConfig } from '../../gpu-worker/worker.js';
import { colourWorldDetectorDir } from '../../models/colour-world/paths.js';
import { STANDARD_BUNDLE, sceneImage } from './colour-world.js';

export const REQUEST = 'turn the dog into a tiger and the grass into snow';
const silent = pino({ level: 'silent' });

let models: Promise<{ bundle: DiffusionBundle; detector: Detector }> | undefined;
/** The colour world, loaded once per test file (as a worker process does). */
export function colourWorldModels() {
  models ??= (async () => ({ bundle: await loadDiffusionBundle(STANDARD_BUNDLE), detector: await openGroundingDino(colourWorldDetectorDir()) }))();
  return models;
}

export interface QueueHarness {
  redis: Redis;
  keys: Keys;
  queue: EditQueue;
  blobs: BlobStore;
  /** The demo scene, stored as a blob. */
  scene: string;
  startWorker(config?: Partial<GpuWorkerConfig>): Promise<GpuWorker>;
  /** Every key of this harness's prefix is deleted and every connection closed. */
  close(): Promise<void>;
}

let counter = 0;
export function uniquePrefix(): string {
  counter += 1;
  return `gas-test-${process.pid}-${Date.now()}-${counter}`;
}

export async function queueHarness(config: Partial<EditQueueConfig> = {}, redisUrl?: string, prefix = uniquePrefix()): Promise<QueueHarness> {
  const redis = connectRedis(redisUrl);
  const keys = redisKeys(prefix);
  const queue = new EditQueue(redis, keys, config);
  const blobs = new BlobStore(redis, keys);
  const scene = await blobs.put(await encodePng(await sceneImage()));
  const workers: GpuWorker[] = [];
  return {
    redis,
    keys,
    queue,
    blobs,
    scene,
    async startWorker(workerConfig = {}) {
      const { bundle, detector } = await colourWorldModels();
      const worker = await GpuWorker.start(
        { redis, keys, bundle, detector, planner: offlinePlanner, logger: silent, queue: config },
        { previewIntervalMs: 200, progressIntervalMs: 50, ...workerConfig },
      );
      workers.push(worker);
      return worker;
    },
    async close() {
      for (const worker of workers) await worker.close('drain').catch(() => {});
      await queue.close();
      await deleteKeysWithPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

/** Follows a job until `until` says stop (default: its terminal event), with a time limit. */
export async function collectEvents(queue: EditQueue, jobId: string, until: (e: JobEvent) => boolean = () => false, timeoutMs = 30_000): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    for await (const event of queue.events.follow(jobId, { signal: controller.signal, blockMs: 200 })) {
      events.push(event);
      if (until(event)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return events;
}

/** A `gas worker` child process on the colour world, with short locks so a killed worker's job is taken over fast. */
export function spawnWorker(prefix: string, env: Record<string, string> = {}): GasChild {
  return spawnGas(['worker', '--detector', colourWorldDetectorDir()], { GAS_PREFIX: prefix, GAS_LOCK_MS: '1000', GAS_STALLED_MS: '500', LOG_LEVEL: 'info', ...env });
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
