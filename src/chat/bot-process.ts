/**
 * The bot process (`gas discord`, `gas serve`): one Redis connection, one queue, and a chat flow
 * per transport (Discord now, Slack next), each resuming the jobs it was showing when it starts.
 * Other parts that live in the same process (the in-process worker of `gas serve`) start before
 * the transports and stop after them. It opens no port unless asked: `opsPort` serves /healthz
 * (Redis reachable, every transport connected, every part healthy) and /metrics.
 */
import type { Redis } from 'ioredis';
import { GasError } from '../errors.js';
import { BlobStore } from '../jobs/blob-store.js';
import { EditQueue, queueConfigFromEnv, type EditQueueConfig } from '../jobs/edit-queue.js';
import { redisKeys, type Keys } from '../jobs/keys.js';
import { ServiceMetrics } from '../jobs/metrics.js';
import { connectServiceRedis, redisFailure } from '../jobs/redis.js';
import { classifyRedisError, RedisAuthError } from '../jobs/redis-errors.js';
import { ThreadHistory } from '../jobs/thread-history.js';
import type { Logger } from '../log.js';
import { startOpsServer, type OpsServer } from '../ops/ops-server.js';
import { withTimeout } from '../ops/timeout.js';
import { ChatFlow, type ChatFlowConfig } from './flow.js';
import type { ChatTransport } from './transport.js';

/** A transport that can say whether its connection is up; one that cannot counts as up once started. */
export type BotTransport = ChatTransport & { connected?(): boolean };

/** What parts of the process share: started once, handed to each part. */
export interface BotShared {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  metrics: ServiceMetrics;
  queue: Partial<EditQueueConfig>;
  onRedisError(error: Error): void;
}

/** Something else the process runs (the in-process worker of `gas serve`). */
export interface BotPart {
  name: string;
  healthy(): boolean;
  /** Stops cleanly (a worker hands its running job back). */
  stop(): Promise<void>;
  /** Drops connections without waiting, after a stop that ran out of time. */
  disconnect?(): void;
}

export interface BotProcessOptions {
  redisUrl: string;
  prefix: string;
  transports: BotTransport[];
  logger: Logger;
  /** Started, in order, before the transports; stopped after them. */
  parts?: Array<(shared: BotShared) => Promise<BotPart>>;
  flow?: Partial<ChatFlowConfig>;
  /** Port for /healthz and /metrics; undefined: none. */
  opsPort?: number;
  opsHost?: string;
  /** A stop that takes longer is cut short (Redis down, a stuck iteration). */
  shutdownTimeoutMs: number;
}

export interface RunningBot {
  /** The ops port actually bound (0 asks for a free one). */
  opsPort?: number;
  /** Stops the transports and flows, then the parts; jobs keep running on workers. */
  stop(): Promise<void>;
}

/** Starts everything; whatever fails at start is closed again before the error is thrown. */
export async function startBot(options: BotProcessOptions): Promise<RunningBot> {
  const { logger } = options;
  const { redis, address, errors: redisErrors } = connectServiceRedis(options.redisUrl, logger);
  const queueConfig = queueConfigFromEnv();
  const keys = redisKeys(options.prefix);
  const queue = new EditQueue(redis, keys, queueConfig);
  const blobs = new BlobStore(redis, keys);
  const threads = new ThreadHistory(redis, keys);
  const metrics = new ServiceMetrics({
    queueDepth: () => queue.depth(),
    onCollectError: (error) => logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'queue depth unavailable'),
  });
  const shared: BotShared = { redis, keys, logger, metrics, queue: queueConfig, onRedisError: (error) => redisErrors.error(error) };
  const parts: BotPart[] = [];
  const flows: ChatFlow[] = [];
  let ops: OpsServer | undefined;

  const health = async () => {
    const redisUp = (await redis.ping()) === 'PONG';
    const details: Record<string, string> = { redis: redisUp ? 'up' : 'down' };
    let ok = redisUp;
    for (const transport of options.transports) {
      const up = transport.connected?.() ?? true;
      details[transport.platform] = up ? 'connected' : 'disconnected';
      ok &&= up;
    }
    for (const part of parts) {
      const up = part.healthy();
      details[part.name] = up ? 'running' : 'stopped';
      ok &&= up;
    }
    return { ok, details };
  };

  async function closeAll(): Promise<void> {
    for (const flow of [...flows].reverse()) await flow.stop().catch((error: unknown) => logger.warn({ error: String(error) }, 'a chat flow did not stop cleanly'));
    for (const part of [...parts].reverse()) await part.stop();
    await ops?.close();
    await queue.close();
  }

  try {
    // The ops port first: a process that cannot serve it stops before it shows anything.
    if (options.opsPort !== undefined) ops = await startOps(options.opsPort, options.opsHost, metrics, health, logger);
    for (const start of options.parts ?? []) parts.push(await start(shared));
    for (const transport of options.transports) {
      // GAS_ADMINS may press any job's buttons on every platform (Slack marks no one as an admin itself).
      const config = { ...(queueConfig.admins ? { admins: queueConfig.admins } : {}), ...options.flow };
      const flow = new ChatFlow({ redis, keys, queue, blobs, threads, transport, logger: logger.child({ platform: transport.platform }), config });
      flows.push(flow);
      await flow.start();
      logger.info({ platform: transport.platform }, 'connected; serving edits');
    }
  } catch (error) {
    // Connections are dropped, not closed: closing a BullMQ queue whose connection is still
    // starting leaves its late error with no listener, which would crash the process.
    await withTimeout(closeAll(), options.shutdownTimeoutMs, 'stopping after a failed start').catch(() => {});
    for (const part of parts) part.disconnect?.();
    redis.disconnect();
    throw classifyRedisError(error) instanceof RedisAuthError ? redisFailure(error, address) : error;
  }

  return {
    ...(ops ? { opsPort: ops.port } : {}),
    async stop() {
      try {
        await withTimeout(closeAll(), options.shutdownTimeoutMs, 'stopping the bot');
      } catch {
        logger.error({ timeoutMs: options.shutdownTimeoutMs }, 'could not stop cleanly in time (is Redis reachable?); exiting');
        throw new GasError('service_unavailable', `The bot could not stop cleanly within ${options.shutdownTimeoutMs / 1000} s (is Redis at ${address.host}:${address.port} reachable?) and stopped anyway; jobs go on, and a restarted bot shows them again.`);
      } finally {
        for (const part of parts) part.disconnect?.();
        redis.disconnect();
      }
    },
  };
}

/** Runs until SIGTERM or SIGINT, then stops cleanly. */
export async function runBotProcess(options: BotProcessOptions): Promise<void> {
  const bot = await startBot(options);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  options.logger.info({ signal }, 'stopping: jobs keep running on workers');
  await bot.stop();
}

async function startOps(port: number, host: string | undefined, metrics: ServiceMetrics, health: () => Promise<{ ok: boolean; details: Record<string, string> }>, logger: Logger): Promise<OpsServer> {
  try {
    const server = await startOpsServer({
      port,
      host,
      metrics,
      health,
      onError: (error, context) => logger.warn({ error: error instanceof Error ? error.message : String(error), context }, 'ops server error'),
    });
    logger.info({ port: server.port }, 'serving /healthz and /metrics');
    return server;
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the port is in use' : `the address cannot be used (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    throw new GasError('bad_input', `Cannot serve /healthz and /metrics on ${host ?? '127.0.0.1'}:${port}: ${why}. Choose another --ops-port (GAS_OPS_PORT).`);
  }
}
