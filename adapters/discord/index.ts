/**
 * The Discord platform, as the registry (adapters/registry.ts) lists it: its settings, its bot
 * transport (discord.js, loaded only when the bot starts) and `gas discord register`.
 */
import { definePlatform } from '../../src/chat/platform.js';
import { GasError } from '../../src/errors.js';
import { discordSection } from './config.js';

export const discord = definePlatform({
  name: 'discord',
  title: 'Discord',
  config: discordSection,
  async createTransport(config, logger) {
    const { DiscordTransport } = await import('./transport.js');
    return new DiscordTransport(config, logger);
  },
  options: [
    { flags: '--shards <n>', description: "gateway shards: auto (Discord's recommendation) or a number, needed past 2,500 servers (DISCORD_SHARDS)", setting: 'shards' },
    { flags: '--shard-ids <ids>', description: 'the shards this process runs, comma-separated, of --shards (DISCORD_SHARD_IDS)', setting: 'shardIds' },
  ],
  commands: [
    {
      name: 'register',
      description: 'register /edit and the "Edit image" message command (globally, or in one server with --guild; in DMs too with DISCORD_DMS)',
      options: [{ flags: '--guild <id>', description: 'register in this server only (shows at once; global takes up to an hour)' }],
      async run({ flags, config, nameOf }) {
        const guildId = flags.guild;
        if (guildId !== undefined && !/^\d{1,20}$/.test(guildId.trim())) {
          const why = guildId.trim() === '' ? 'is empty' : `must be a server id (digits; Developer Mode → right-click the server → Copy Server ID), got "${guildId}"`;
          throw new GasError('bad_input', `${nameOf('guild')} ${why}.`);
        }
        const { registerCommands } = await import('./commands.js');
        const settings = config();
        const registered = await registerCommands({ token: settings.token, applicationId: settings.applicationId, apiUrl: settings.apiUrl, dms: settings.dmsEnabled, ...(guildId ? { guildId: guildId.trim() } : {}) }).catch((error: unknown) => {
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
        return guildId ? `Registered ${names} in server ${guildId.trim()}; they can be used now.` : `Registered ${names} globally; Discord may take up to an hour to show them everywhere.`;
      },
    },
  ],
});
