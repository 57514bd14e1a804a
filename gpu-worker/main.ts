/**
 * The worker process (`gas worker`): loads the models once, keeps the sessions warm, serves
 * /healthz and /metrics, and runs jobs until SIGTERM or SIGINT, when the running job is handed
 * back to the queue after its current iteration. Hosted by src/ops/host.ts: whatever fails at
 * start (the ops port, say) fails before the first job is taken; a stop that cannot finish
 * (Redis down) ends after the shutdown deadline all the same.
 */
import type { Redis } from 'ioredis';
import { GasError } from '../src/errors.js';
import type { DetectorVariant } from '../src/ground/detector.js';
import { EditQueue, type EditQueueConfig } from '../src/jobs/edit-queue.js';
import { redisKeys, type Keys } from '../src/jobs/keys.js';
import { connectServiceRedis, redisFailure, redisPart } from '../src/jobs/redis.js';
import { classifyRedisError, RedisAuthError } from '../src/jobs/redis-errors.js';
import type { Logger } from '../src/log.js';
import type { ExecutionProvider } from '../src/models/session.js';
import { runUntilStopped, startService, type HostedPart } from '../src/ops/host.js';
import { ServiceMetrics } from '../src/ops/metrics.js';
import type { Planner } from '../src/plan/planner.js';
import type { GpuWorker, GpuWorkerConfig } from './worker.js';

/** What loading the models and starting a worker needs, in `gas worker` and in `gas serve`. */
export interface WorkerModelOptions {
  bundle: string;
  provider: ExecutionProvider;
  detector?: string;
  /** Which detector model file (default fp32). */
  detectorVariant?: DetectorVariant;
  planner: Planner;
  worker: Partial<GpuWorkerConfig>;
  /** Load a bundle with random weights (`gas models build-random`), to measure speed. */
  allowRandomWeights?: boolean;
}

export interface WorkerProcessOptions extends WorkerModelOptions {
  redisUrl: string;
  prefix: string;
  logger: Logger;
  queue?: Partial<EditQueueConfig>;
  /** /healthz and /metrics; absent: no port is opened. */
  ops?: { port: number; host: string };
  /** A stop that takes longer (Redis down, a stuck iteration) is cut short. */
  shutdownTimeoutMs: number;
  /** Stops when this settles instead of at SIGTERM or SIGINT. */
  until?: Promise<unknown>;
}

/** What a worker shares with the rest of its process: the connection, the keys, logs and metrics. */
export interface WorkerProcessShared {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  metrics?: ServiceMetrics;
  queue: Partial<EditQueueConfig>;
  onRedisError(error: Error): void;
}

/** Loads the models once and starts taking jobs; `close('handoff')` gives the running job back. */
export async function startModelWorker(options: WorkerModelOptions, shared: WorkerProcessShared): Promise<GpuWorker> {
  // Loaded here: a bot process that runs no worker never loads ONNX Runtime.
  const [{ loadDiffusionBundle }, { openGroundingDino }, { GpuWorker }] = await Promise.all([
    import('../src/models/bundle.js'),
    import('../src/ground/grounding-dino.js'),
    import('./worker.js'),
  ]);
  const bundle = await loadDiffusionBundle(options.bundle, { provider: options.provider, logger: shared.logger, allowRandomWeights: options.allowRandomWeights });
  const detector = options.detector ? await openGroundingDino(options.detector, { provider: options.provider, variant: options.detectorVariant }) : undefined;
  shared.logger.info({ bundle: bundle.dir, provider: options.provider, detector: options.detector ?? null, planner: options.planner.name }, 'models loaded');
  return GpuWorker.start(
    { redis: shared.redis, keys: shared.keys, bundle, detector, planner: options.planner, logger: shared.logger, metrics: shared.metrics, queue: shared.queue, onRedisError: shared.onRedisError },
    options.worker,
  );
}

/** The worker as a part of its process's host. */
export function workerPart(worker: GpuWorker): HostedPart {
  return {
    name: 'worker',
    health: () => (worker.worker.isRunning() ? { ok: true, state: 'running' } : { ok: false, state: 'stopped' }),
    stop: () => worker.close('handoff'),
    disconnect: () => worker.disconnect(),
  };
}

/** Runs until a signal; resolves once the worker has stopped. */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  const { logger } = options;
  const queueConfig = options.queue ?? {};
  const { redis, address, errors: redisErrors } = connectServiceRedis(options.redisUrl, logger);
  const keys = redisKeys(options.prefix);
  const depthQueue = new EditQueue(redis, keys, queueConfig);
  const metrics = new ServiceMetrics({
    queueDepth: () => depthQueue.depth(),
    onCollectError: (error) => logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'queue depth unavailable'),
  });
  const shared: WorkerProcessShared = { redis, keys, logger, metrics, queue: queueConfig, onRedisError: (error) => redisErrors.error(error) };
  let service;
  try {
    service = await startService({
      logger,
      metrics,
      ...(options.ops ? { ops: options.ops } : {}),
      shutdownTimeoutMs: options.shutdownTimeoutMs,
      opsRefusalNote: 'no job was taken',
      parts: [async () => redisPart(redis, { close: () => depthQueue.close() }), async () => workerPart(await startModelWorker(options, shared))],
      stopTimedOut: () =>
        new GasError('service_unavailable', `The worker could not hand its running edit back within ${options.shutdownTimeoutMs / 1000} s (is Redis at ${address.host}:${address.port} reachable?) and stopped anyway; another worker takes the edit over once its lock expires.`),
    });
  } catch (error) {
    throw classifyRedisError(error) instanceof RedisAuthError ? redisFailure(error, address) : error;
  }
  await runUntilStopped(service, logger, { until: options.until, stopping: 'stopping: handing the running job back' });
}
