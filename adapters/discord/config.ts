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
  /** The largest file of a message, where an interaction does not say (`attachment_size_limit`): Discord's default is 10 MiB per file. */
  maxUploadBytes: z.number().int().positive().default(10 * MIB),
  /** The largest request, all its files together (Discord: 25 MiB). */
  maxRequestBytes: z.number().int().positive().default(25 * MIB),
  /** Shards of the gateway connection: `auto` (Discord's recommendation) or a count; required past 2,500 servers. Absent: one connection. */
  shards: z.string().regex(/^(auto|[1-9]\d{0,4})$/, 'DISCORD_SHARDS must be auto or a number of shards').optional(),
  /** The shards this process runs, of `shards` (a count): the rest run elsewhere. Empty: all of them. */
  shardIds: z.array(z.string().regex(/^\d{1,5}$/, 'must be a shard number')).default([]),
  /** Life of an interaction token (Discord: 15 minutes) and the margin before its end after which edits use the bot token. */
  tokenLifetimeMs: z.number().int().positive().default(15 * 60_000),
  tokenMarginMs: z.number().int().min(0).default(60_000),
}).superRefine((config, context) => {
  // Shard ids are of a count: without one, or past it, the process would identify as shards nobody runs.
  if (config.shardIds.length === 0) return;
  const count = Number(config.shards);
  if (!Number.isInteger(count)) {
    context.addIssue({ code: 'custom', path: ['shardIds'], message: 'DISCORD_SHARD_IDS needs DISCORD_SHARDS as a number of shards (the ids are of that many).' });
    return;
  }
  const outside = config.shardIds.find((id) => Number(id) >= count);
  if (outside !== undefined) context.addIssue({ code: 'custom', path: ['shardIds'], message: `DISCORD_SHARD_IDS has shard ${outside}, but there are ${count} (0 to ${count - 1}).` });
});

/** discord.js's Client options for the configured shards: all of Discord's recommendation, a count, or some of a count. */
export function shardOptions(config: Pick<DiscordConfig, 'shards' | 'shardIds'>): { shards?: 'auto' | number[]; shardCount?: number } {
  if (config.shards === undefined) return {};
  if (config.shards === 'auto') return { shards: 'auto' };
  const count = Number(config.shards);
  const ids = config.shardIds.length > 0 ? config.shardIds.map(Number) : Array.from({ length: count }, (_, i) => i);
  return { shards: ids, shardCount: count };
}

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
    maxUploadBytes: { env: 'DISCORD_MAX_UPLOAD_BYTES', kind: 'number', description: "the largest file of a message where an interaction does not say (boosted servers allow more, and interactions tell); bigger images are sent smaller" },
    maxRequestBytes: { env: 'DISCORD_MAX_REQUEST_BYTES', kind: 'number', description: 'the largest message, its files together' },
    shards: { env: 'DISCORD_SHARDS', description: "gateway shards: `auto` (Discord's recommendation) or a number; needed past 2,500 servers", shownDefault: 'one connection' },
    shardIds: { env: 'DISCORD_SHARD_IDS', kind: 'list', description: 'the shards this process runs, of DISCORD_SHARDS (the others run in other processes)', shownDefault: 'all' },
    tokenLifetimeMs: { env: 'DISCORD_TOKEN_LIFETIME_MS', kind: 'number', description: 'life of an interaction token' },
    tokenMarginMs: { env: 'DISCORD_TOKEN_MARGIN_MS', kind: 'number', description: 'how long before its end edits switch to the bot token' },
  },
});

/** The settings as code hands them over (a transport built in a test), and as they are once checked. */
export type DiscordConfigInput = z.input<typeof discordConfigSchema>;
export type DiscordConfig = z.output<typeof discordConfigSchema>;
