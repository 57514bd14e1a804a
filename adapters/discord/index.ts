/** The Discord adapter: a ChatTransport over discord.js, its settings, and command registration. */
export { DiscordTransport, type DiscordStatusRef } from './transport.js';
export { discordConfigFromEnv, parseDiscordConfig, DEFAULT_DISCORD_API_URL, type DiscordConfig, type DiscordConfigInput } from './config.js';
export { commandDefinitions, registerCommands, EDIT_COMMAND, EDIT_IMAGE_COMMAND, type RegisterOptions } from './commands.js';
export { discordFormat } from './format.js';
