/**
 * The worker process (`gas worker`): loads the models once, keeps the sessions warm, serves
 * /healthz and /metrics, and runs jobs until SIGTERM or SIGINT, when the running job is handed
 * back to the queue after its current iteration. Whatever fails at start (the ops port, say)
 * fails before the first job is taken; a stop that cannot finish (Redis down) ends after
 * `shutdownTimeoutMs` all the same.
 */
import { loadDiffusionBundle } from '../src/models/bundle.js';
import type { ExecutionProvider } from '../src/models/session.js';
import { openGroundingDino } from '../src/ground/grounding-dino.js';
import type { DetectorVariant } from '../src/ground/detector.js';
import type { Planner } from '../src/plan/planner.js';
import type { Redis } from 'ioredis';
import { GasError } from '../src/errors.js';
import type { Keys } from '../src/jobs/keys.js';
import { connectServiceRedis, isAuthError, redisFailure } from '../src/jobs/redis.js';
import { redisKeys } from '../src/jobs/keys.js';
import { EditQueue, queueConfigFromEnv, type EditQueueConfig } from '../src/jobs/edit-queue.js';
import { ServiceMetrics } from '../src/jobs/metrics.js';
import { shutdownTimeoutFromEnv } from '../src/ops/shutdown.js';
import { startOpsServer, type OpsServer } from '../src/ops/ops-server.js';
import { withTimeout } from '../src/ops/timeout.js';
import { createLogger, type Logger } from '../src/log.js';
import { GpuWorker, type GpuWorkerConfig } from './worker.js';

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
  /** Port for /healthz and /metrics; undefined: none. */
  opsPort?: number;
  opsHost?: string;
  /** A stop that takes longer (Redis down, a stuck iteration) is cut short (default: GAS_SHUTDOWN_MS, else 20 s). */
  shutdownTimeoutMs?: number;
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
  const bundle = await loadDiffusionBundle(options.bundle, { provider: options.provider, logger: shared.logger, allowRandomWeights: options.allowRandomWeights });
  const detector = options.detector ? await openGroundingDino(options.detector, { provider: options.provider, variant: options.detectorVariant }) : undefined;
  shared.logger.info({ bundle: bundle.dir, provider: options.provider, detector: options.detector ?? null, planner: options.planner.name }, 'models loaded');
  return GpuWorker.start(
    { redis: shared.redis, keys: shared.keys, bundle, detector, planner: options.planner, logger: shared.logger, metrics: shared.metrics, queue: shared.queue, onRedisError: shared.onRedisError },
    options.worker,
  );
}

/** Runs until a signal; resolves once the worker has stopped. */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  const logger = createLogger('gas-worker');
  const { redis, address, errors: redisErrors } = connectServiceRedis(options.redisUrl, logger);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? shutdownTimeoutFromEnv();
  const queueConfig = queueConfigFromEnv();
  const keys = redisKeys(options.prefix);
  const depthQueue = new EditQueue(redis, keys, queueConfig);
  const metrics = new ServiceMetrics({
    queueDepth: () => depthQueue.depth(),
    onCollectError: (error) => logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'queue depth unavailable'),
  });
  let worker: GpuWorker | undefined;
  let ops: OpsServer | undefined;
  try {
    // The ops port first: a worker that cannot serve it must stop before it takes a job.
    ops = options.opsPort === undefined ? undefined : await startOps(options.opsPort, options.opsHost);
    worker = await startModelWorker(options, { redis, keys, logger, metrics, queue: queueConfig, onRedisError: (error) => redisErrors.error(error) });
  } catch (error) {
    // Connections are dropped, not closed: closing a BullMQ queue whose connection is still
    // starting leaves its late error with no listener, which would crash the process.
    await ops?.close();
    redis.disconnect();
    throw isAuthError(error) ? redisFailure(error, address) : error;
  }
  const running = worker;

  async function startOps(port: number, host: string | undefined): Promise<OpsServer> {
    try {
      const server = await startOpsServer({
        port,
        host,
        metrics,
        health: async () => {
          const redisUp = (await redis.ping()) === 'PONG';
          const workerUp = worker?.worker.isRunning() ?? false;
          return { ok: redisUp && workerUp, details: { redis: redisUp ? 'up' : 'down', worker: workerUp ? 'running' : 'stopped' } };
        },
        onError: (error, context) => logger.warn({ error: error instanceof Error ? error.message : String(error), context }, 'ops server error'),
      });
      logger.info({ port: server.port }, 'serving /healthz and /metrics');
      return server;
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the port is in use' : `the address cannot be used (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
      throw new GasError('bad_input', `Cannot serve /healthz and /metrics on ${host ?? '127.0.0.1'}:${port}: ${why}. Choose another --ops-port (GAS_OPS_PORT); no job was taken.`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping: handing the running job back');
      void (async () => {
        try {
          await withTimeout((async () => {
            await running.close('handoff');
            await ops?.close();
            await depthQueue.close();
          })(), shutdownTimeoutMs, 'stopping the worker');
          resolve();
        } catch {
          logger.error({ timeoutMs: shutdownTimeoutMs }, 'could not stop cleanly in time (is Redis reachable?); exiting: another worker takes over the running job once its lock expires');
          reject(new GasError('service_unavailable', `The worker could not hand its running edit back within ${shutdownTimeoutMs / 1000} s (is Redis at ${address.host}:${address.port} reachable?) and stopped anyway; another worker takes the edit over once its lock expires.`));
        } finally {
          running.disconnect();
          await ops?.close();
          redis.disconnect();
        }
      })();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
