/** `gas discord` (the bot) and `gas discord register` (its commands), configured from DISCORD_* variables. */
import { discordConfigFromEnv, type DiscordConfig } from '../../adapters/discord/config.js';
import { registerCommands } from '../../adapters/discord/commands.js';
import { GasError } from '../errors.js';
import { createLogger } from '../log.js';
import { botOptions, type BotFlags } from './bot-options.js';
import { nonEmpty, type NameOf } from './flag-values.js';

export type { BotFlags, PlatformFlags } from './bot-options.js';

/** Runs the Discord bot until SIGTERM or SIGINT. */
export async function runDiscordCommand(flags: BotFlags, name: NameOf): Promise<void> {
  // Loaded here, not at the top: `gas discord register` needs neither Redis nor the queue.
  const { runBotProcess } = await import('../chat/bot-process.js');
  await runBotProcess(await botOptions({ ...flags, discord: true }, name, createLogger('gas-bot')));
}

/** Registers /edit and "Edit image", in one guild (instant) or globally; returns what to tell the person. */
export async function runRegisterCommand(flags: { guild?: string }, name: NameOf): Promise<string> {
  const config: DiscordConfig = discordConfigFromEnv();
  const guildId = nonEmpty(flags.guild, name('guild'), '123456789012345678');
  if (guildId !== undefined && !/^\d{1,20}$/.test(guildId)) {
    throw new GasError('bad_input', `${name('guild')} must be a server id (digits; Developer Mode → right-click the server → Copy Server ID), got "${guildId}".`);
  }
  const registered = await registerCommands({ token: config.token, applicationId: config.applicationId, apiUrl: config.apiUrl, ...(guildId ? { guildId } : {}) }).catch((error: unknown) => {
    // Discord's errors carry the request URL; the person gets the status and what to check.
    const status = (error as { status?: number })?.status;
    const why =
      status === 401 ? 'refused the token; check DISCORD_TOKEN'
      : status === 403 || status === 404 ? 'refused; check DISCORD_APP_ID and that the bot is in that server'
      : status !== undefined ? `refused the request (HTTP ${status})`
      : 'could not be reached; check DISCORD_API_URL and the network';
    throw new GasError('service_unavailable', `Registering the commands failed: Discord ${why}.`, { status });
  });
  const names = registered.map((command) => (command.type === 1 ? `/${command.name}` : `"${command.name}"`)).join(' and ');
  return guildId ? `Registered ${names} in server ${guildId}; they can be used now.` : `Registered ${names} globally; Discord may take up to an hour to show them everywhere.`;
}
