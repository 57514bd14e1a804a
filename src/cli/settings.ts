/**
 * The settings each command runs with: the configuration's sections, with the command line's
 * flags in the place of their variables (`--concurrency 2` over GAS_CONCURRENCY), read once here.
 */
import type { Configuration } from '../config/index.js';
import type { Override } from '../config/section.js';
import { chatSection, modelsSection, opsSection, plannerSection, queueSection, redisSection, shellSection } from '../config/sections.js';
import type { EditQueueConfig } from '../jobs/edit-queue.js';
import { flagName } from './flag-values.js';

/** What commander gives: option values by their camel-case names. */
export type Flags = Readonly<Record<string, unknown>>;

/** The overrides of a section from the flags named in `mapping` (section key → flag key). */
export function fromFlags(flags: Flags, mapping: Readonly<Record<string, string>>): Record<string, Override> {
  const overrides: Record<string, Override> = {};
  for (const [key, flag] of Object.entries(mapping)) {
    const value = flags[flag];
    if (typeof value === 'string') overrides[key] = { text: value, flag: flagName(flag) };
  }
  return overrides;
}

/** Redis and the queue: `--redis-url`, `--prefix`. */
export function queueSettings(config: Configuration, flags: Flags): { redisUrl: string; prefix: string; queue: Partial<EditQueueConfig> } {
  const { url } = config.read(redisSection, fromFlags(flags, { url: 'redisUrl' }));
  const { prefix, ...queue } = config.read(queueSection, fromFlags(flags, { prefix: 'prefix' }));
  return { redisUrl: url, prefix, queue };
}

/** The user a shell command acts as: `--user`, else GAS_USER, else undefined (the login name). */
export function shellUser(config: Configuration, flags: Flags): string | undefined {
  return config.read(shellSection, fromFlags(flags, { user: 'user' })).user;
}

/** The models: `--bundle`, `--provider`, `--detector`, `--detector-variant`. */
export function modelSettings(config: Configuration, flags: Flags) {
  return config.read(modelsSection, fromFlags(flags, { bundle: 'bundle', provider: 'provider', detector: 'detector', detectorVariant: 'detectorVariant' }));
}

/** The planner's settings: `--planner`. */
export function plannerSettings(config: Configuration, flags: Flags) {
  return config.read(plannerSection, fromFlags(flags, { name: 'planner' }));
}

/** /healthz and /metrics (`--ops-port`, `--ops-host`) and the shutdown deadline. */
export function opsSettings(config: Configuration, flags: Flags): { ops?: { port: number; host: string }; shutdownTimeoutMs: number } {
  const { port, host, shutdownTimeoutMs } = config.read(opsSection, fromFlags(flags, { port: 'opsPort', host: 'opsHost' }));
  return { ...(port !== undefined ? { ops: { port, host } } : {}), shutdownTimeoutMs };
}

/** How the chat flow treats people (pings, step caps), for every platform a bot process serves. */
export function chatSettings(config: Configuration) {
  return config.read(chatSection);
}
