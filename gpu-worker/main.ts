/**
 * The worker process (`gas worker`): loads the models once, keeps the sessions warm, serves
 * /healthz and /metrics, and runs jobs until SIGTERM or SIGINT, when the running job is handed
 * back to the queue after its current iteration.
 */
import { loadDiffusionBundle } from '../src/models/bundle.js';
import type { ExecutionProvider } from '../src/models/session.js';
import { openGroundingDino } from '../src/ground/grounding-dino.js';
import type { Planner } from '../src/plan/planner.js';
import { connectRedis } from '../src/jobs/redis.js';
import { redisKeys } from '../src/jobs/keys.js';
import { EditQueue, queueConfigFromEnv } from '../src/jobs/edit-queue.js';
import { ServiceMetrics } from '../src/jobs/metrics.js';
import { startOpsServer } from '../src/jobs/ops-server.js';
import { createLogger } from '../src/log.js';
import { GpuWorker, type GpuWorkerConfig } from './worker.js';

export interface WorkerProcessOptions {
  redisUrl: string;
  prefix: string;
  bundle: string;
  provider: ExecutionProvider;
  detector?: string;
  planner: Planner;
  /** Port for /healthz and /metrics; undefined: none. */
  opsPort?: number;
  opsHost?: string;
  worker: Partial<GpuWorkerConfig>;
}

/** Runs until a signal; resolves once the worker has stopped. */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  const logger = createLogger('gas-worker');
  const bundle = await loadDiffusionBundle(options.bundle, { provider: options.provider });
  const detector = options.detector ? await openGroundingDino(options.detector, { provider: options.provider }) : undefined;
  logger.info({ bundle: bundle.dir, provider: options.provider, detector: options.detector ?? null, planner: options.planner.name }, 'models loaded');

  const redis = connectRedis(options.redisUrl);
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error (reconnecting)'));
  const keys = redisKeys(options.prefix);
  const queueConfig = queueConfigFromEnv();
  const depthQueue = new EditQueue(redis, keys, queueConfig);
  const metrics = new ServiceMetrics({
    queueDepth: () => depthQueue.depth(),
    onCollectError: (error) => logger.warn({ err: error }, 'queue depth unavailable'),
  });
  const worker = await GpuWorker.start(
    { redis, keys, bundle, detector, planner: options.planner, logger, metrics, queue: queueConfig },
    options.worker,
  );
  const ops = options.opsPort === undefined
    ? undefined
    : await startOpsServer({
      port: options.opsPort,
      host: options.opsHost,
      metrics,
      health: async () => {
        const redisUp = (await redis.ping()) === 'PONG';
        return { ok: redisUp && worker.worker.isRunning(), details: { redis: redisUp ? 'up' : 'down', worker: worker.worker.isRunning() ? 'running' : 'stopped' } };
      },
      onError: (error, context) => logger.warn({ err: error, context }, 'ops server error'),
    });
  if (ops) logger.info({ port: ops.port }, 'serving /healthz and /metrics');

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping: handing the running job back');
      void (async () => {
        await worker.close('handoff');
        await ops?.close();
        await depthQueue.close();
        redis.disconnect();
        resolve();
      })();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
