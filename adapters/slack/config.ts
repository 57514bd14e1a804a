/**
 * The Slack adapter's settings: validated once, defaults filled in. Socket Mode when there is an
 * app token (no public URL needed); HTTP mode (Events API and interactivity on one port, signed
 * requests) when there is none, or when asked for.
 */
import { z } from 'zod';
import { GasError } from '../../src/errors.js';

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';
const MIB = 1024 * 1024;

const ids = z.array(z.string().regex(/^[A-Z0-9]{2,30}$/, 'must be a Slack id (capital letters and digits)')).default([]);

export const slackConfigSchema = z
  .object({
    botToken: z.string().regex(/^xoxb-/, 'SLACK_BOT_TOKEN is required (a bot token, xoxb-…)'),
    /** Set: Socket Mode. */
    appToken: z.string().regex(/^xapp-/, 'SLACK_APP_TOKEN must be an app-level token (xapp-…)').optional(),
    signingSecret: z.string().min(1).optional(),
    mode: z.enum(['socket', 'http']).optional(),
    /** Web API base (SLACK_API_URL), for proxies and the test server; it reaches the Socket Mode client too. */
    apiUrl: z.url().default(DEFAULT_SLACK_API_URL),
    /** HTTP mode: the port the Events API and interactivity requests arrive on. */
    port: z.number().int().min(0).max(65_535).default(3000),
    /** Allow-lists: empty = every channel the bot is in, every person. */
    allowedChannels: ids,
    allowedUsers: ids,
    editIntervalMs: z.number().int().min(1000).default(1500),
    maxUploadBytes: z.number().int().positive().default(50 * MIB),
    /** How long to wait for an uploaded image to be processed before it can be shown in a block. */
    fileReadyTimeoutMs: z.number().int().positive().default(20_000),
    /** Web API retries of a failed or rate-limited call (the client's own default waits up to half an hour). */
    apiRetries: z.number().int().min(0).max(10).default(3),
  })
  .transform((config, ctx) => {
    const mode = config.mode ?? (config.appToken ? 'socket' : 'http');
    if (mode === 'socket' && !config.appToken) {
      ctx.addIssue({ code: 'custom', message: 'SLACK_APP_TOKEN is required for Socket Mode (an xapp- token with connections:write)' });
    }
    if (mode === 'http' && !config.signingSecret) {
      ctx.addIssue({ code: 'custom', message: 'SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)' });
    }
    return { ...config, mode };
  });

export type SlackConfigInput = z.input<typeof slackConfigSchema>;
export type SlackConfig = z.output<typeof slackConfigSchema>;

/** The variable each setting is read from, so a refusal names what to fix. */
export const SLACK_ENV_NAMES: Partial<Record<keyof SlackConfigInput, string>> = {
  botToken: 'SLACK_BOT_TOKEN',
  appToken: 'SLACK_APP_TOKEN',
  signingSecret: 'SLACK_SIGNING_SECRET',
  mode: 'SLACK_MODE',
  apiUrl: 'SLACK_API_URL',
  port: 'SLACK_PORT',
  allowedChannels: 'SLACK_CHANNELS',
  allowedUsers: 'SLACK_USERS',
  editIntervalMs: 'SLACK_EDIT_INTERVAL_MS',
  maxUploadBytes: 'SLACK_MAX_UPLOAD_BYTES',
};

/** Settings are configuration: a bad one is GasError 'bad_input' (exit 2), named by `nameOf` (a field path by default). */
export function parseSlackConfig(input: SlackConfigInput, nameOf: (path: PropertyKey[]) => string = (path) => path.join('.') || 'config'): SlackConfig {
  const parsed = slackConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.message.includes('SLACK_') ? '' : `${nameOf(issue.path)} `;
    throw new GasError('bad_input', `Slack settings: ${where}${issue.message}`);
  }
  return parsed.data;
}

const list = (value: string | undefined) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
const number = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));
const text = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

/**
 * SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET, SLACK_MODE (socket|http), SLACK_API_URL,
 * SLACK_PORT, SLACK_CHANNELS, SLACK_USERS, SLACK_EDIT_INTERVAL_MS, SLACK_MAX_UPLOAD_BYTES.
 */
export function slackConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SlackConfig {
  const mode = text(env.SLACK_MODE);
  if (mode !== undefined && mode !== 'socket' && mode !== 'http') throw new GasError('bad_input', `Slack settings: SLACK_MODE must be socket or http (got ${mode})`);
  const nameOf = (path: PropertyKey[]) => {
    const field = SLACK_ENV_NAMES[path[0] as keyof SlackConfigInput];
    return field ? `${field}${path.length > 1 ? ` (item ${Number(path[1]) + 1})` : ''}` : path.join('.');
  };
  return parseSlackConfig({
    botToken: env.SLACK_BOT_TOKEN ?? '',
    appToken: text(env.SLACK_APP_TOKEN),
    signingSecret: text(env.SLACK_SIGNING_SECRET),
    mode,
    apiUrl: text(env.SLACK_API_URL),
    port: number(env.SLACK_PORT),
    allowedChannels: list(env.SLACK_CHANNELS),
    allowedUsers: list(env.SLACK_USERS),
    editIntervalMs: number(env.SLACK_EDIT_INTERVAL_MS),
    maxUploadBytes: number(env.SLACK_MAX_UPLOAD_BYTES),
  }, nameOf);
}
