/**
 * The host of a service process (`gas worker`, `gas discord`, `gas slack`, `gas serve`): the ops
 * port first, so a process that cannot serve /healthz and /metrics stops before it shows or takes
 * anything; then its parts, in order; then it runs until SIGTERM or SIGINT (or `until`) and stops
 * the parts in reverse within the shutdown deadline. A stop that runs out of time (Redis down, a
 * stuck iteration) drops every connection and fails with the process's own words (exit 3).
 */
import { GasError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServiceMetrics } from './metrics.js';
import { startOpsServer, type OpsServer } from './ops-server.js';
import { withTimeout } from './timeout.js';

/** What /healthz reports of a part: a word for its state, and whether that is healthy. */
export interface PartHealth {
  ok: boolean;
  state: string;
}

/** One thing a process runs: a worker, a chat platform's bot, the Redis connection. */
export interface HostedPart {
  readonly name: string;
  health(): PartHealth | Promise<PartHealth>;
  /** Stops cleanly (a worker hands its running job back). */
  stop(): Promise<void>;
  /** Drops connections without waiting: after a stop that ran out of time, and instead of `stop` after a failed start. */
  disconnect?(): void;
}

/** Less than the ops server's own deadline on /healthz (2 s), so the answer can name what did not answer. */
const PART_HEALTH_TIMEOUT_MS = 1500;

export interface ServiceHostOptions {
  logger: Logger;
  metrics: ServiceMetrics;
  /** /healthz and /metrics; absent: no port is opened. */
  ops?: { port: number; host: string };
  /** The longest clean stop. */
  shutdownTimeoutMs: number;
  /** Started in order; each may use what the earlier ones started. */
  parts: ReadonlyArray<() => Promise<HostedPart>>;
  /** The words of a stop that ran out of time. */
  stopTimedOut(): GasError;
  /** What a refused ops port adds to its message ("no job was taken"). */
  opsRefusalNote?: string;
}

export interface RunningService {
  /** The ops port actually bound (0 asks for a free one). */
  opsPort?: number;
  /** Whether every part is healthy now, and each part's state. */
  health(): Promise<{ ok: boolean; details: Record<string, string> }>;
  stop(): Promise<void>;
}

/** Starts everything; whatever fails at start is stopped (or dropped) again before the error is thrown. */
export async function startService(options: ServiceHostOptions): Promise<RunningService> {
  const { logger } = options;
  const parts: HostedPart[] = [];
  let ops: OpsServer | undefined;

  // Parts answer at once and each within its own deadline, so a silent one is named, not the whole check timed out.
  const health = async () => {
    const states = await Promise.all(
      parts.map((part) =>
        withTimeout(Promise.resolve().then(() => part.health()), PART_HEALTH_TIMEOUT_MS, `${part.name} health`).catch((): PartHealth => ({ ok: false, state: 'not answering' })),
      ),
    );
    return { ok: states.every((s) => s.ok), details: Object.fromEntries(parts.map((part, i) => [part.name, states[i].state])) };
  };

  const stopAll = async () => {
    for (const part of [...parts].reverse()) {
      await part.stop().catch((error: unknown) => logger.warn({ part: part.name, error: String(error) }, 'a part did not stop cleanly'));
    }
    await ops?.close();
  };
  const dropAll = () => {
    for (const part of parts) part.disconnect?.();
  };

  try {
    if (options.ops) ops = await startOps(options, health);
    for (const start of options.parts) parts.push(await start());
  } catch (error) {
    // Parts with connections are dropped, not closed: closing a BullMQ queue whose connection is
    // still starting leaves its late error with no listener, which would crash the process.
    const undo = async () => {
      for (const part of [...parts].reverse()) {
        if (part.disconnect) part.disconnect();
        else await part.stop().catch(() => {});
      }
      await ops?.close();
    };
    await withTimeout(undo(), options.shutdownTimeoutMs, 'stopping after a failed start').catch(() => {});
    throw error;
  }

  return {
    ...(ops ? { opsPort: ops.port } : {}),
    health,
    async stop() {
      try {
        await withTimeout(stopAll(), options.shutdownTimeoutMs, 'stopping');
      } catch {
        logger.error({ timeoutMs: options.shutdownTimeoutMs }, 'could not stop cleanly in time (is Redis reachable?); exiting');
        throw options.stopTimedOut();
      } finally {
        dropAll();
      }
    },
  };
}

/** Waits for SIGTERM or SIGINT (or `until` to settle), says so, and stops the service. */
export async function runUntilStopped(service: RunningService, logger: Logger, options: { until?: Promise<unknown>; stopping: string }): Promise<void> {
  const signal = await (options.until ?? untilSignal());
  logger.info({ signal }, options.stopping);
  await service.stop();
}

/** Resolves with the name of the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

async function startOps(options: ServiceHostOptions, health: RunningService['health']): Promise<OpsServer> {
  const { port, host } = options.ops!;
  const { logger } = options;
  try {
    const server = await startOpsServer({
      port,
      host,
      metrics: options.metrics,
      health,
      onError: (error, context) => logger.warn({ error: error instanceof Error ? error.message : String(error), context }, 'ops server error'),
    });
    logger.info({ port: server.port }, 'serving /healthz and /metrics');
    return server;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is in use' : `the address cannot be used (${code ?? 'error'})`;
    throw new GasError('bad_input', `Cannot serve /healthz and /metrics on ${host}:${port}: ${why}. Choose another --ops-port (GAS_OPS_PORT)${options.opsRefusalNote ? `; ${options.opsRefusalNote}` : ''}.`);
  }
}
