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
import { Leases, processHolderId } from '../jobs/lease.js';
import { ConnectionLeader } from './connection-leader.js';
import { ChatFlow, STATUS_LEASE_MS, type ChatFlowConfig } from './flow.js';
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

/** The lease of a connection only one bot process may open: a standby takes over within this and a tick (15 s). */
export const CONNECTION_LEASE_MS = 10_000;

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

  // One holder id for the process: its leases on statuses, and on connections only one process may open.
  const holder = processHolderId();
  const statusLeases = new Leases(redis, holder, { ttlMs: STATUS_LEASE_MS });
  const connectionLeases = new Leases(redis, holder, { ttlMs: CONNECTION_LEASE_MS });
  const flows: Array<{ platform: string; flow: ChatFlow; transport: BotTransport; leader?: ConnectionLeader }> = [];
  metrics.watchBotProcess(() =>
    flows.map(({ platform, flow, transport, leader }) => ({
      platform,
      statuses: flow.followedJobs().length,
      connected: transport.connected?.() ?? true,
      ...(leader ? { leader: leader.isLeader() } : {}),
      shards: transport.shards?.() ?? [],
    })),
  );

  const flowPart = (transport: BotTransport) => async (): Promise<HostedPart> => {
    const log = logger.child({ platform: transport.platform });
    // What the transport must remember across a restart (a menu's target, uploads it can show again) lives in Redis.
    transport.useStore?.(redisPlatformStore(redis, keys, transport.platform));
    const flow = new ChatFlow({ redis, keys, queue, blobs, threads, transport, logger: log, config: flowConfig, leases: statusLeases });
    const exclusive = transport.exclusiveConnection?.();
    const leader = exclusive ? new ConnectionLeader(connectionLeases, keys.lease(exclusive), flow, log) : undefined;
    flows.push({ platform: transport.platform, flow, transport, ...(leader ? { leader } : {}) });
    const part: HostedPart = {
      name: transport.platform,
      health: () => {
        if (leader && !leader.isLeader()) return { ok: true, state: 'standby' };
        const shards = transport.shards?.() ?? [];
        const connected = transport.connected?.() ?? true;
        return { ok: connected, state: `${connected ? 'connected' : 'disconnected'}${shards.length > 0 ? ` (shards ${shards.join(',')})` : ''}` };
      },
      stop: async () => {
        await leader?.stop();
        await flow.stop();
      },
    };
    try {
      await flow.startFollowing();
      if (leader) await leader.start();
      else await flow.connect();
    } catch (error) {
      await part.stop().catch(() => {});
      throw error;
    }
    // A leader says so itself when it connects, now or when it takes over.
    if (!leader) log.info('connected; serving edits');
    else if (!leader.isLeader()) log.info({ leader: false }, 'standing by; following statuses');
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
