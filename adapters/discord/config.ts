/**
 * The Discord adapter's settings: validated once, defaults filled in. The caller builds the input
 * from the environment (`discordConfigFromEnv`) or from its own config file.
 */
import { z } from 'zod';
import { GasError } from '../../src/errors.js';

export const DEFAULT_DISCORD_API_URL = 'https://discord.com/api';
const MIB = 1024 * 1024;

const ids = z.array(z.string().regex(/^\d{1,20}$/, 'must be a Discord id (digits)')).default([]);

export const discordConfigSchema = z.object({
  token: z.string().min(1, 'DISCORD_TOKEN is required'),
  applicationId: z.string().regex(/^\d{1,20}$/, 'DISCORD_APP_ID must be a Discord id (digits)'),
  /** REST root without the version (DISCORD_API_URL), for proxies and compatible servers. */
  apiUrl: z.url().default(DEFAULT_DISCORD_API_URL),
  /** Allow-lists: empty = everywhere. A thread counts as its parent channel. */
  allowedGuilds: ids,
  allowedChannels: ids,
  allowedRoles: ids,
  /** Roles whose members may press any job's buttons; members with Administrator may too. */
  adminRoles: ids,
  dmsEnabled: z.boolean().default(false),
  /** DISCORD_MESSAGE_CONTENT=1: the privileged intent; then every message in the bot's edit threads counts. */
  messageContent: z.boolean().default(false),
  editIntervalMs: z.number().int().min(1000).default(2500),
  maxUploadBytes: z.number().int().positive().default(10 * MIB),
  /** Life of an interaction token (Discord: 15 minutes) and the margin before its end after which edits use the bot token. */
  tokenLifetimeMs: z.number().int().positive().default(15 * 60_000),
  tokenMarginMs: z.number().int().min(0).default(60_000),
});

export type DiscordConfigInput = z.input<typeof discordConfigSchema>;
export type DiscordConfig = z.output<typeof discordConfigSchema>;

/** The environment variable each setting is read from, so that a bad value is named as the person wrote it. */
export const DISCORD_ENV_NAMES: Record<keyof DiscordConfigInput, string> = {
  token: 'DISCORD_TOKEN',
  applicationId: 'DISCORD_APP_ID',
  apiUrl: 'DISCORD_API_URL',
  allowedGuilds: 'DISCORD_GUILDS',
  allowedChannels: 'DISCORD_CHANNELS',
  allowedRoles: 'DISCORD_ROLES',
  adminRoles: 'DISCORD_ADMIN_ROLES',
  dmsEnabled: 'DISCORD_DMS',
  messageContent: 'DISCORD_MESSAGE_CONTENT',
  editIntervalMs: 'DISCORD_EDIT_INTERVAL_MS',
  maxUploadBytes: 'DISCORD_MAX_UPLOAD_BYTES',
  tokenLifetimeMs: 'DISCORD_TOKEN_LIFETIME_MS',
  tokenMarginMs: 'DISCORD_TOKEN_MARGIN_MS',
};

/** Settings are configuration: a bad one is GasError 'bad_input' (exit 2), named by `nameOf` (a field path by default). */
export function parseDiscordConfig(input: DiscordConfigInput, nameOf: (path: PropertyKey[]) => string = (path) => path.join('.') || 'config'): DiscordConfig {
  const parsed = discordConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.message.includes('DISCORD_') ? '' : `${nameOf(issue.path)} `;
    throw new GasError('bad_input', `Discord settings: ${where}${issue.message}`);
  }
  return parsed.data;
}

const list = (value: string | undefined) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
const flag = (value: string | undefined) => value === '1' || value === 'true';
const number = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));

/**
 * The settings from DISCORD_* variables (see DISCORD_ENV_NAMES). DISCORD_APP_ID is the documented
 * name of the application id; DISCORD_APPLICATION_ID, its earlier name, is still read.
 */
export function discordConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DiscordConfig {
  const nameOf = (path: PropertyKey[]) => {
    const field = DISCORD_ENV_NAMES[path[0] as keyof DiscordConfigInput];
    return field ? `${field}${path.length > 1 ? ` (item ${Number(path[1]) + 1})` : ''}` : path.join('.');
  };
  return parseDiscordConfig({
    token: env.DISCORD_TOKEN ?? '',
    applicationId: env.DISCORD_APP_ID || env.DISCORD_APPLICATION_ID || '',
    apiUrl: env.DISCORD_API_URL || undefined,
    allowedGuilds: list(env.DISCORD_GUILDS),
    allowedChannels: list(env.DISCORD_CHANNELS),
    allowedRoles: list(env.DISCORD_ROLES),
    adminRoles: list(env.DISCORD_ADMIN_ROLES),
    dmsEnabled: flag(env.DISCORD_DMS),
    messageContent: flag(env.DISCORD_MESSAGE_CONTENT),
    editIntervalMs: number(env.DISCORD_EDIT_INTERVAL_MS),
    maxUploadBytes: number(env.DISCORD_MAX_UPLOAD_BYTES),
    tokenLifetimeMs: number(env.DISCORD_TOKEN_LIFETIME_MS),
    tokenMarginMs: number(env.DISCORD_TOKEN_MARGIN_MS),
  }, nameOf);
}
