/** The Slack adapter: a ChatTransport over Bolt, its settings, and the app manifest. */
export { SlackTransport, type SlackStatusRef } from './transport.js';
export { slackConfigFromEnv, parseSlackConfig, DEFAULT_SLACK_API_URL, type SlackConfig, type SlackConfigInput } from './config.js';
export { slackManifest, BOT_SCOPES, BOT_EVENTS, APP_TOKEN_SCOPE, type ManifestOptions } from './manifest.js';
export { slackFormat } from './format.js';
