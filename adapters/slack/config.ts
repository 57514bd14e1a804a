/**
 * The Slack adapter's settings: validated once, defaults filled in. Socket Mode when there is an
 * app token (no public URL needed); HTTP mode (Events API and interactivity on one port, signed
 * requests) when there is none, or when asked for.
 */
import { z } from 'zod';
import { defineSection } from '../../src/config/section.js';

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';
const MIB = 1024 * 1024;

const ids = z.array(z.string().regex(/^[A-Z0-9]{2,30}$/, 'must be a Slack id (capital letters and digits)')).default([]);

export const slackConfigSchema = z
  .object({
    botToken: z.string({ error: 'SLACK_BOT_TOKEN is required (a bot token, xoxb-…)' }).regex(/^xoxb-/, 'SLACK_BOT_TOKEN is required (a bot token, xoxb-…)'),
    /** Set: Socket Mode. */
    appToken: z.string().regex(/^xapp-/, 'SLACK_APP_TOKEN must be an app-level token (xapp-…)').optional(),
    signingSecret: z.string().min(1).optional(),
    mode: z.enum(['socket', 'http'], { error: 'must be socket or http' }).optional(),
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

/** Where each setting is read from. */
export const slackSection = defineSection({
  name: 'slack',
  title: 'Slack settings',
  schema: slackConfigSchema,
  variables: {
    botToken: { env: 'SLACK_BOT_TOKEN', secret: true, description: 'the Bot User OAuth Token, `xoxb-…` (required)' },
    appToken: { env: 'SLACK_APP_TOKEN', secret: true, description: 'the app-level token, `xapp-…` with connections:write: Socket Mode', shownDefault: 'none' },
    signingSecret: { env: 'SLACK_SIGNING_SECRET', secret: true, description: 'HTTP mode: the signing secret Slack signs requests with', shownDefault: 'none' },
    mode: { env: 'SLACK_MODE', description: '`socket` or `http`', shownDefault: 'socket with an app token, else http' },
    apiUrl: { env: 'SLACK_API_URL', description: 'Web API root, for proxies and compatible servers (it reaches Socket Mode too)' },
    port: { env: 'SLACK_PORT', kind: 'number', description: 'HTTP mode: the port events and button presses arrive on (/slack/events)' },
    allowedChannels: { env: 'SLACK_CHANNELS', kind: 'list', description: 'channel ids where edits are allowed', shownDefault: 'all the bot is in' },
    allowedUsers: { env: 'SLACK_USERS', kind: 'list', description: 'user ids who may request edits', shownDefault: 'everyone' },
    editIntervalMs: { env: 'SLACK_EDIT_INTERVAL_MS', kind: 'number', description: 'least time between two updates of a status message (at least 1000)' },
    maxUploadBytes: { env: 'SLACK_MAX_UPLOAD_BYTES', kind: 'number', description: 'the upload limit; bigger images are sent smaller' },
  },
});

/** The settings as code hands them over (a transport built in a test), and as they are once checked. */
export type SlackConfigInput = z.input<typeof slackConfigSchema>;
export type SlackConfig = z.output<typeof slackConfigSchema>;
