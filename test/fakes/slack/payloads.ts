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
}

export const WORKSPACE = {
  teamId: 'T0FAKE0001',
  appId: 'A0GASAPP01',
  botUserId: 'U0GASBOT01',
  botId: 'B0GASBOT01',
  users: { alice: 'U0ALICE001', bob: 'U0BOB00001' },
  /** A public channel the bot is in, one it is not in, and Alice's DM with the bot. */
  channels: { general: 'C0GENERAL1', outside: 'C0OUTSIDE1', dm: 'D0ALICE001' },
} as const;

export const CHANNELS: readonly Channel[] = [
  { id: WORKSPACE.channels.general, name: 'general', type: 'channel', botIsMember: true },
  { id: WORKSPACE.channels.outside, name: 'outside', type: 'channel', botIsMember: false },
  { id: WORKSPACE.channels.dm, name: 'alice-dm', type: 'im', botIsMember: true },
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

/** A `message` or `app_mention` event for a message in a channel, with the files it shared. */
export function messageEvent(message: SentMessage, channel: Channel, type: 'message' | 'app_mention', files: readonly WireFile[] = []) {
  const shared = files.map(publicFile);
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

/** The block_actions payload of a person pressing one of a message's buttons; undefined when the message has no such button. */
export function blockActions(input: { user: string; channel: Channel; message: SentMessage; actionId: string; responseUrl: string }) {
  const { user, channel, message, actionId } = input;
  const button = (message.blocks ?? []).flatMap((b: any) => (b.type === 'actions' ? b.elements : [])).find((e: any) => e.action_id === actionId);
  if (!button) return undefined;
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
    actions: [{ action_id: actionId, block_id: 'actions', text: button.text, value: button.value, type: 'button', action_ts: `${Date.now() / 1000}` }],
  };
}
