/**
 * What Slack sends an app, in its wire shape: the workspace the fake Slack plays (the team, the bot,
 * two people, three channels), event envelopes, message events, shared-file objects and
 * block_actions payloads. Pure data, shared by the fake server and the offline adapter driver
 * (test/helpers/slack-driver.ts), so both send Bolt the same bodies.
 */

export interface Channel {
  id: string;
  name: string;
  type: 'channel' | 'im';
  botIsMember: boolean;
  /** A Slack Connect channel, shared with another organisation: its files come without URLs. */
  shared?: boolean;
}

export const WORKSPACE = {
  teamId: 'T0FAKE0001',
  appId: 'A0GASAPP01',
  botUserId: 'U0GASBOT01',
  botId: 'B0GASBOT01',
  users: { alice: 'U0ALICE001', bob: 'U0BOB00001', carol: 'U0CAROL001' },
  /** A public channel the bot is in, one it is not in, Alice's DM with the bot, and a Slack Connect channel the bot is in. */
  channels: { general: 'C0GENERAL1', outside: 'C0OUTSIDE1', dm: 'D0ALICE001', shared: 'C0SHARED01' },
} as const;

export const CHANNELS: readonly Channel[] = [
  { id: WORKSPACE.channels.general, name: 'general', type: 'channel', botIsMember: true },
  { id: WORKSPACE.channels.outside, name: 'outside', type: 'channel', botIsMember: false },
  { id: WORKSPACE.channels.dm, name: 'alice-dm', type: 'im', botIsMember: true },
  { id: WORKSPACE.channels.shared, name: 'partners', type: 'channel', botIsMember: true, shared: true },
];

export interface WireFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  user: string;
  url_private: string;
  url_private_download: string;
  created: number;
  /** Internal: bytes and processing state. */
  data?: Buffer;
  declaredLength?: number;
  state: 'pending' | 'uploaded' | 'processing' | 'processed';
  altText?: string;
}

/** A message as a person or the bot wrote it (the fields message events carry). */
export interface SentMessage {
  subtype?: string;
  ts: string;
  thread_ts?: string;
  user?: string;
  bot_id?: string;
  text: string;
  blocks?: any[];
}

export const mimetypeOf = (name: string) => (/\.png$/i.test(name) ? 'image/png' : /\.jpe?g$/i.test(name) ? 'image/jpeg' : 'application/octet-stream');

/** A file as Slack describes it, its private URLs under `baseUrl` (files.slack.com, or the fake's own host). */
export function wireFile(input: { id: string; name: string; user: string; size: number; baseUrl: string; mimetype?: string }): WireFile {
  const at = `${input.baseUrl}/files-pri/${WORKSPACE.teamId}-${input.id}`;
  return {
    id: input.id,
    name: input.name,
    title: input.name,
    mimetype: input.mimetype ?? mimetypeOf(input.name),
    filetype: (input.name.split('.').pop() ?? '').toLowerCase(),
    size: input.size,
    user: input.user,
    created: Math.floor(Date.now() / 1000),
    url_private: `${at}/${encodeURIComponent(input.name)}`,
    url_private_download: `${at}/download/${encodeURIComponent(input.name)}`,
    state: 'processed',
  };
}

/** The file as the Web API and events show it: mimetype and filetype stay empty until processing is done. */
export function publicFile(file: WireFile): Omit<WireFile, 'data' | 'declaredLength' | 'state' | 'altText'> {
  const { data: _data, declaredLength: _declared, state, altText: _alt, ...wire } = file;
  return state === 'processed' ? wire : { ...wire, mimetype: '', filetype: '' };
}

/** The Events API envelope around one event. */
export function eventEnvelope(eventId: string, event: Record<string, unknown>) {
  return {
    token: 'verification-token',
    team_id: WORKSPACE.teamId,
    api_app_id: WORKSPACE.appId,
    event,
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ enterprise_id: null, team_id: WORKSPACE.teamId, user_id: WORKSPACE.botUserId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  };
}

/**
 * A file as a Slack Connect channel's events show it: its id only, to be read with files.info
 * (docs.slack.dev/reference/events/message/file_share, "Slack Connect files").
 */
export const fileAccessStub = (file: WireFile) => ({ id: file.id, mode: 'file_access', file_access: 'check_file_info', created: 0, timestamp: 0, user: '' });

/** A `message` or `app_mention` event for a message in a channel, with the files it shared. */
export function messageEvent(message: SentMessage, channel: Channel, type: 'message' | 'app_mention', files: readonly WireFile[] = []) {
  const shared = files.map((file) => (channel.shared ? fileAccessStub(file) : publicFile(file)));
  return {
    type,
    ...(type === 'message' && message.subtype ? { subtype: message.subtype } : {}),
    ...(message.user ? { user: message.user } : {}),
    ...(message.bot_id ? { bot_id: message.bot_id } : {}),
    text: message.text,
    ts: message.ts,
    ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}),
    channel: channel.id,
    ...(type === 'message' ? { channel_type: channel.type === 'im' ? 'im' : 'channel' } : {}),
    event_ts: message.ts,
    ...(shared.length ? { files: shared, upload: false } : {}),
  };
}

/**
 * The block_actions payload of a person using one of a message's elements: pressing a button, or
 * choosing `value` in a static select (docs.slack.dev/reference/interaction-payloads/block_actions-payload;
 * a select's action carries `selected_option`). Undefined when the message has no such element.
 * `crafted`: any action id, as a modified client or another app's message could send.
 */
export function blockActions(input: { user: string; channel: Channel; message: SentMessage; actionId: string; responseUrl: string; value?: string; crafted?: boolean }) {
  const { user, channel, message, actionId } = input;
  const element = (message.blocks ?? []).flatMap((b: any) => (b.type === 'actions' ? b.elements : [])).find((e: any) => e.action_id === actionId);
  const button = element ?? (input.crafted ? { type: 'button', action_id: actionId, text: { type: 'plain_text', text: 'x' }, value: actionId } : undefined);
  if (!button) return undefined;
  const option = button.type === 'static_select' ? (button.options as any[]).find((o) => o.value === input.value) : undefined;
  if (button.type === 'static_select' && !option) return undefined;
  const action =
    button.type === 'static_select'
      ? { action_id: actionId, block_id: 'actions', type: 'static_select', selected_option: option, placeholder: button.placeholder, action_ts: `${Date.now() / 1000}` }
      : { action_id: actionId, block_id: 'actions', text: button.text, value: button.value, type: 'button', action_ts: `${Date.now() / 1000}` };
  const thread = message.thread_ts ? { thread_ts: message.thread_ts } : {};
  return {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: WORKSPACE.teamId },
    api_app_id: WORKSPACE.appId,
    token: 'verification-token',
    container: { type: 'message', message_ts: message.ts, channel_id: channel.id, is_ephemeral: false, ...thread },
    trigger_id: `${Date.now()}.${Math.random().toString(16).slice(2, 10)}`,
    team: { id: WORKSPACE.teamId, domain: 'fake' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel.id, name: channel.name },
    message: { type: 'message', user: message.user, bot_id: message.bot_id, text: message.text, ts: message.ts, ...thread, blocks: message.blocks },
    state: { values: {} },
    response_url: input.responseUrl,
    actions: [action],
  };
}

/** The payload of a message shortcut (docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload): type message_action, with the message. */
export function messageAction(input: { user: string; channel: Channel; message: SentMessage & { files?: unknown[] }; callbackId: string; triggerId: string; responseUrl: string }) {
  const { user, channel, message } = input;
  return {
    type: 'message_action',
    token: 'verification-token',
    action_ts: `${Date.now() / 1000}`,
    team: { id: WORKSPACE.teamId, domain: 'fake' },
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: WORKSPACE.teamId },
    channel: { id: channel.id, name: channel.name },
    is_enterprise_install: false,
    enterprise: null,
    callback_id: input.callbackId,
    trigger_id: input.triggerId,
    response_url: input.responseUrl,
    message_ts: message.ts,
    message: { type: 'message', ...(message.user ? { user: message.user } : {}), text: message.text, ts: message.ts, ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}), ...(message.files ? { files: message.files } : {}) },
  };
}

/** The payload of a modal's submission (docs.slack.dev/reference/interaction-payloads/view-interactions-payload): the view with its state. */
export function viewSubmission(input: { user: string; view: any; values: Record<string, Record<string, string>>; triggerId: string }) {
  const state = Object.fromEntries(Object.entries(input.values).map(([block, actions]) => [block, Object.fromEntries(Object.entries(actions).map(([action, value]) => [action, { type: 'plain_text_input', value }]))]));
  return {
    type: 'view_submission',
    team: { id: WORKSPACE.teamId, domain: 'fake' },
    user: { id: input.user, username: input.user.toLowerCase(), name: input.user.toLowerCase(), team_id: WORKSPACE.teamId },
    api_app_id: WORKSPACE.appId,
    token: 'verification-token',
    trigger_id: input.triggerId,
    view: { ...input.view, state: { values: state } },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}
