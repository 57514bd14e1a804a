/**
 * The bot process (`gas <platform>`, `gas serve`): one Redis connection and queue, a chat flow
 * per platform transport (each resuming the jobs it was showing when it starts), and the other
 * parts that share the process (the worker of `gas serve`), hosted by src/ops/host.ts: the ops
 * port first, when asked for; the extra parts before the transports, stopped after them.
 */
import type { Redis } from 'ioredis';
import { GasError } from '../errors.js';
import type { EditQueueConfig } from '../jobs/edit-queue.js';
import { redisKeys, type Keys } from '../jobs/keys.js';
import { connectServiceRedis, redisFailure, redisPart } from '../jobs/redis.js';
import { classifyRedisError, RedisAuthError } from '../jobs/redis-errors.js';
import { redisPlatformStore } from '../jobs/platform-store.js';
import { jobStores } from '../jobs/stores.js';
import type { Logger } from '../log.js';
import { runUntilStopped, startService, type HostedPart, type RunningService } from '../ops/host.js';
import { ServiceMetrics } from '../ops/metrics.js';
import { ChatFlow, type ChatFlowConfig } from './flow.js';
import type { BotTransport } from './platform.js';

export type { BotTransport } from './platform.js';

/** What the parts of the process share: started once, handed to each part. */
export interface BotShared {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  metrics: ServiceMetrics;
  queue: Partial<EditQueueConfig>;
  onRedisError(error: Error): void;
}

export interface BotProcessOptions {
  redisUrl: string;
  prefix: string;
  transports: BotTransport[];
  logger: Logger;
  /** The queue's settings (admission, admins, TTLs). */
  queue?: Partial<EditQueueConfig>;
  /** Started, in order, before the transports; stopped after them. */
  parts?: Array<(shared: BotShared) => Promise<HostedPart>>;
  flow?: Partial<ChatFlowConfig>;
  /** /healthz and /metrics; absent: no port is opened. */
  ops?: { port: number; host: string };
  /** A stop that takes longer is cut short (Redis down, a stuck iteration). */
  shutdownTimeoutMs: number;
}

export type RunningBot = RunningService;

/** Starts everything; whatever fails at start is closed again before the error is thrown. */
export async function startBot(options: BotProcessOptions): Promise<RunningBot> {
  const { logger } = options;
  const queueConfig = options.queue ?? {};
  const { redis, address, errors: redisErrors } = connectServiceRedis(options.redisUrl, logger);
  const keys = redisKeys(options.prefix);
  const { queue, blobs, threads } = jobStores(redis, keys, queueConfig);
  const metrics = new ServiceMetrics({
    queueDepth: () => queue.depth(),
    onCollectError: (error) => logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'queue depth unavailable'),
  });
  const shared: BotShared = { redis, keys, logger, metrics, queue: queueConfig, onRedisError: (error) => redisErrors.error(error) };
  // GAS_ADMINS may press any job's buttons on every platform (some platforms mark no admins themselves).
  const flowConfig: Partial<ChatFlowConfig> = { admins: queueConfig.admins ?? [], ...options.flow };

  const flowPart = (transport: BotTransport) => async (): Promise<HostedPart> => {
    // What the transport must remember across a restart (a menu's target, uploads it can show again) lives in Redis.
    transport.useStore?.(redisPlatformStore(redis, keys, transport.platform));
    const flow = new ChatFlow({ redis, keys, queue, blobs, threads, transport, logger: logger.child({ platform: transport.platform }), config: flowConfig });
    const part: HostedPart = {
      name: transport.platform,
      health: () => (transport.connected?.() ?? true ? { ok: true, state: 'connected' } : { ok: false, state: 'disconnected' }),
      stop: () => flow.stop(),
    };
    try {
      await flow.start();
    } catch (error) {
      await flow.stop().catch(() => {});
      throw error;
    }
    logger.info({ platform: transport.platform }, 'connected; serving edits');
    return part;
  };

  try {
    return await startService({
      logger,
      metrics,
      ...(options.ops ? { ops: options.ops } : {}),
      shutdownTimeoutMs: options.shutdownTimeoutMs,
      parts: [
        async () => redisPart(redis, { close: () => queue.close() }),
        ...(options.parts ?? []).map((start) => () => start(shared)),
        ...options.transports.map(flowPart),
      ],
      stopTimedOut: () =>
        new GasError('service_unavailable', `The bot could not stop cleanly within ${options.shutdownTimeoutMs / 1000} s (is Redis at ${address.host}:${address.port} reachable?) and stopped anyway; jobs go on, and a restarted bot shows them again.`),
    });
  } catch (error) {
    throw classifyRedisError(error) instanceof RedisAuthError ? redisFailure(error, address) : error;
  }
}

/** Runs until SIGTERM or SIGINT (or `until`), then stops cleanly; jobs keep running on workers. */
export async function runBotProcess(options: BotProcessOptions & { until?: Promise<unknown> }): Promise<void> {
  const bot = await startBot(options);
  await runUntilStopped(bot, options.logger, { until: options.until, stopping: 'stopping: jobs keep running on workers' });
}
