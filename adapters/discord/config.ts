/**
 * The Discord adapter's settings: validated once, defaults filled in; `discordSection` says which
 * variable each one is read from (src/config reads them), and the transport also takes them typed.
 */
import { z } from 'zod';
import { defineSection } from '../../src/config/section.js';

export const DEFAULT_DISCORD_API_URL = 'https://discord.com/api';
const MIB = 1024 * 1024;

const ids = z.array(z.string().regex(/^\d{1,20}$/, 'must be a Discord id (digits)')).default([]);

export const discordConfigSchema = z.object({
  token: z.string({ error: 'DISCORD_TOKEN is required' }).min(1, 'DISCORD_TOKEN is required'),
  applicationId: z.string({ error: 'DISCORD_APP_ID must be a Discord id (digits)' }).regex(/^\d{1,20}$/, 'DISCORD_APP_ID must be a Discord id (digits)'),
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

/** Where each setting is read from. DISCORD_APPLICATION_ID, the application id's earlier name, is still read. */
export const discordSection = defineSection({
  name: 'discord',
  title: 'Discord settings',
  schema: discordConfigSchema,
  variables: {
    token: { env: 'DISCORD_TOKEN', secret: true, description: 'the bot token (required)' },
    applicationId: { env: ['DISCORD_APP_ID', 'DISCORD_APPLICATION_ID'], description: 'the application id (required)' },
    apiUrl: { env: 'DISCORD_API_URL', description: 'REST root without the version, for proxies and compatible servers' },
    allowedGuilds: { env: 'DISCORD_GUILDS', kind: 'list', description: 'server ids allowed to use the bot', shownDefault: 'all' },
    allowedChannels: { env: 'DISCORD_CHANNELS', kind: 'list', description: 'channel ids allowed (a thread counts as its channel)', shownDefault: 'all' },
    allowedRoles: { env: 'DISCORD_ROLES', kind: 'list', description: 'role ids allowed to request edits', shownDefault: 'all' },
    adminRoles: { env: 'DISCORD_ADMIN_ROLES', kind: 'list', description: "roles whose members may press any job's buttons (members with Administrator always may)", shownDefault: 'none' },
    dmsEnabled: { env: 'DISCORD_DMS', kind: 'flag', description: '`1`: edits in direct messages too; the DM is the edit thread', shownDefault: 'off' },
    messageContent: { env: 'DISCORD_MESSAGE_CONTENT', kind: 'flag', description: "`1`: the privileged intent; every message in the bot's edit threads counts", shownDefault: 'off' },
    editIntervalMs: { env: 'DISCORD_EDIT_INTERVAL_MS', kind: 'number', description: 'least time between two edits of a status message (at least 1000)' },
    maxUploadBytes: { env: 'DISCORD_MAX_UPLOAD_BYTES', kind: 'number', description: 'the upload limit; bigger images are sent smaller' },
    tokenLifetimeMs: { env: 'DISCORD_TOKEN_LIFETIME_MS', kind: 'number', description: 'life of an interaction token' },
    tokenMarginMs: { env: 'DISCORD_TOKEN_MARGIN_MS', kind: 'number', description: 'how long before its end edits switch to the bot token' },
  },
});

/** The settings as code hands them over (a transport built in a test), and as they are once checked. */
export type DiscordConfigInput = z.input<typeof discordConfigSchema>;
export type DiscordConfig = z.output<typeof discordConfigSchema>;
