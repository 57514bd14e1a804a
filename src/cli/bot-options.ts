/** The settings of a bot process (`gas discord`, `gas slack`, `gas serve`): its flags and the transports of the platforms it serves. */
import { shutdownTimeoutFromEnv } from '../ops/shutdown.js';
import type { BotProcessOptions, BotTransport } from '../chat/bot-process.js';
import { redisUrl } from '../jobs/redis.js';
import type { Logger } from '../log.js';
import { MAX_PORT, wholeNumber, type NameOf } from './flag-values.js';

/** What commander gives a bot command (strings until checked). */
export interface BotFlags {
  redisUrl?: string;
  prefix: string;
  opsPort?: string;
  opsHost: string;
}

/** The platforms one bot process can serve; each adds its transport. */
export interface PlatformFlags {
  discord?: boolean;
  slack?: boolean;
}

/**
 * A process's bot settings from its flags; every value (each platform's variables included) is
 * checked before anything connects. A platform's client library is loaded only when it is served.
 */
export async function botOptions(flags: BotFlags & PlatformFlags, name: NameOf, logger: Logger): Promise<Omit<BotProcessOptions, 'parts'>> {
  const transports: BotTransport[] = [];
  if (flags.discord) {
    const [{ discordConfigFromEnv }, { DiscordTransport }] = await Promise.all([import('../../adapters/discord/config.js'), import('../../adapters/discord/transport.js')]);
    transports.push(new DiscordTransport(discordConfigFromEnv(), logger.child({ platform: 'discord' })));
  }
  if (flags.slack) {
    const { slackConfigFromEnv, SlackTransport } = await import('../../adapters/slack/index.js');
    transports.push(new SlackTransport(slackConfigFromEnv(), logger.child({ platform: 'slack' })));
  }
  return {
    redisUrl: flags.redisUrl ?? redisUrl(),
    prefix: flags.prefix,
    transports,
    logger,
    opsPort: wholeNumber(flags.opsPort, name('opsPort'), 0, MAX_PORT),
    opsHost: flags.opsHost,
    shutdownTimeoutMs: shutdownTimeoutFromEnv(),
  };
}
