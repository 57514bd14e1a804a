/**
 * The Slack app manifest (YAML) for this bot: exactly the scopes and events it uses. Paste it at
 * api.slack.com/apps → Create New App → From a manifest; then create an app-level token with the
 * connections:write scope (SLACK_APP_TOKEN) for Socket Mode, and install the app (SLACK_BOT_TOKEN).
 */

/** `commands`: the "Edit image" message shortcut (docs.slack.dev/interactivity/implementing-shortcuts: shortcuts need the commands scope). */
export const BOT_SCOPES = ['app_mentions:read', 'chat:write', 'commands', 'files:read', 'files:write', 'channels:history', 'groups:history', 'im:history', 'mpim:history'] as const;
/** The message shortcut (More actions → Edit image): its callback id. */
export const EDIT_IMAGE_SHORTCUT = 'gas_edit_image';
export const BOT_EVENTS = ['app_mention', 'message.channels', 'message.groups', 'message.im', 'message.mpim'] as const;
export const APP_TOKEN_SCOPE = 'connections:write';

export interface ManifestOptions {
  /** The app's display name (default "Ground-A-Score"). */
  name?: string;
  /** HTTP mode: the public URL that receives events and button presses (…/slack/events). Absent: Socket Mode. */
  requestUrl?: string;
}

const quote = (text: string) => JSON.stringify(text); // a JSON string is a valid YAML double-quoted scalar

export function slackManifest(options: ManifestOptions = {}): string {
  const name = options.name ?? 'Ground-A-Score';
  const socket = options.requestUrl === undefined;
  const lines = [
    `# Slack app manifest for ${name}.`,
    socket
      ? `# Socket Mode: create an app-level token with the ${APP_TOKEN_SCOPE} scope and set it as SLACK_APP_TOKEN.`
      : '# HTTP mode: set SLACK_SIGNING_SECRET from Basic Information → App Credentials.',
    'display_information:',
    `  name: ${quote(name)}`,
    `  description: ${quote('Edits photos from a sentence: mention the bot with an image.')}`,
    'features:',
    '  bot_user:',
    `    display_name: ${quote(name)}`,
    '    always_online: true',
    '  app_home:',
    '    messages_tab_enabled: true',
    '    messages_tab_read_only_enabled: false',
    '  shortcuts:',
    `    - name: ${quote('Edit image')}`,
    '      type: message',
    `      callback_id: ${EDIT_IMAGE_SHORTCUT}`,
    `      description: ${quote("Edit this message's photo: say what should change")}`,
    'oauth_config:',
    '  scopes:',
    '    bot:',
    ...BOT_SCOPES.map((scope) => `      - ${scope}`),
    'settings:',
    '  event_subscriptions:',
    ...(socket ? [] : [`    request_url: ${quote(options.requestUrl!)}`]),
    '    bot_events:',
    ...BOT_EVENTS.map((event) => `      - ${event}`),
    '  interactivity:',
    '    is_enabled: true',
    ...(socket ? [] : [`    request_url: ${quote(options.requestUrl!)}`]),
    '  org_deploy_enabled: false',
    `  socket_mode_enabled: ${socket}`,
    '  token_rotation_enabled: false',
    '',
  ];
  return lines.join('\n');
}
