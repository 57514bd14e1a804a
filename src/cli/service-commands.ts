/**
 * The long-running commands: `gas worker`, `gas <platform>` (a bot) and `gas serve` (bots and a
 * worker in one process). Every setting is read from the configuration, with the command line's
 * flags over it, before anything connects.
 */
import { runWorkerProcess, startModelWorker, workerPart } from '../../gpu-worker/main.js';
import { runBotProcess, type BotShared } from '../chat/bot-process.js';
import type { AnyPlatform, BotTransport } from '../chat/platform.js';
import type { Configuration } from '../config/index.js';
import { logSection } from '../config/sections.js';
import { createLogger, type Logger } from '../log.js';
import type { Output } from '../output.js';
import { chatSettings, fromFlags, opsSettings, queueSettings, type Flags } from './settings.js';
import { workerModelOptions } from './worker-settings.js';

/** Where a service writes its log lines (stderr), and what stops it other than SIGTERM or SIGINT. */
export interface ServiceRun {
  log: Output;
  until?: Promise<unknown>;
}

/** `gas worker`: runs until SIGTERM or SIGINT (or `until`). */
export async function runWorkerCommand(config: Configuration, flags: Flags, { log, until }: ServiceRun): Promise<void> {
  const models = workerModelOptions(config, flags);
  const settings = { ...queueSettings(config, flags), ...opsSettings(config, flags) };
  await runWorkerProcess({ ...models, ...settings, logger: processLogger(config, 'gas-worker', log), ...(until ? { until } : {}) });
}

/** The name commander gives a flag's value: `--shard-ids <ids>` → `shardIds`. */
const flagAttribute = (flags: string) => (/--([a-z][a-z0-9-]*)/.exec(flags)?.[1] ?? '').replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Each platform's settings checked (its own flags over their variables), then its transport made (its client library loaded only now). */
async function transportsFor(config: Configuration, platforms: readonly AnyPlatform[], logger: Logger, flags: Flags = {}): Promise<BotTransport[]> {
  const settings = platforms.map((platform) => config.read(platform.config, fromFlags(flags, Object.fromEntries((platform.options ?? []).map((option) => [option.setting, flagAttribute(option.flags)])))));
  return Promise.all(platforms.map((platform, i) => platform.createTransport(settings[i], logger.child({ platform: platform.name }))));
}

/** `gas <platform>`: one platform's bot, until SIGTERM or SIGINT (or `until`). */
export async function runBotCommand(config: Configuration, flags: Flags, platforms: readonly AnyPlatform[], { log, until }: ServiceRun): Promise<void> {
  const settings = { ...queueSettings(config, flags), ...opsSettings(config, flags) };
  const logger = processLogger(config, 'gas-bot', log);
  await runBotProcess({ ...settings, logger, flow: chatSettings(config), transports: await transportsFor(config, platforms, logger, flags), ...(until ? { until } : {}) });
}

/** `gas serve`: the chosen platforms' bots and a worker in one process; the running edit is handed back on SIGTERM, as `gas worker` does. */
export async function runServeCommand(config: Configuration, flags: Flags, platforms: readonly AnyPlatform[], { log, until }: ServiceRun): Promise<void> {
  const models = workerModelOptions(config, flags);
  const settings = { ...queueSettings(config, flags), ...opsSettings(config, flags) };
  const logger = processLogger(config, 'gas-serve', log);
  const transports = await transportsFor(config, platforms, logger);
  const worker = async (shared: BotShared) => workerPart(await startModelWorker(models, shared));
  await runBotProcess({ ...settings, logger, flow: chatSettings(config), transports, parts: [worker], ...(until ? { until } : {}) });
}

/** A service process's logger (in this module so that `gas --help` does not load pino): JSON lines on `output` (stderr), its level from LOG_LEVEL, every configured secret cut out. */
function processLogger(config: Configuration, name: string, output: Output): Logger {
  return createLogger(name, { level: config.read(logSection).level, secrets: config.secrets(), destination: { write: (line: string) => void output.write(line) } });
}
