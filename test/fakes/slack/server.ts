/**
 * A fake Slack on 127.0.0.1 for the real Bolt and Web API client: the Web API under /api/<method>,
 * external uploads under /upload, private files under /files-pri (bearer token, or Slack's HTML
 * sign-in page), Socket Mode on ws://…/socket (hello, envelopes, acks, `disconnect` refreshes,
 * redelivery of envelopes acknowledged late or lost with a connection) and, in HTTP mode, signed
 * event and interactivity requests with Slack's retry headers. It enforces Slack's rules
 * (asynchronous file processing, the 3 s acknowledgement, Block Kit basics, chat.update rate limits,
 * membership, tokens), answers a broken rule as Slack does, and records it as a violation. Tests
 * play people through `postMessage` and `pressButton`, and read back every request and message.
 *
 * Where each rule is documented (docs.slack.dev):
 * - events and interactions acknowledged within 3 s, events retried up to 3 times with
 *   X-Slack-Retry-Num / X-Slack-Retry-Reason and the same event_id: apis/events-api ("Responding
 *   to events", "Retries"); over Socket Mode, `hello`, envelopes acknowledged by envelope_id and
 *   `disconnect` with `refresh_requested`: apis/events-api/using-socket-mode; envelopes lost with a
 *   connection sent again on the next one: assumed, as Slack's retries;
 * - HTTP mode's v0 signature and the 5-minute timestamp window: authentication/verifying-requests-from-slack;
 * - tokens (`not_authed`, `invalid_auth`; the app-level token only for apps.connections.open):
 *   each method's errors, and apps/socket-mode ("App-level tokens");
 * - `not_in_channel`, `channel_not_found`, `message_not_found`, `cant_update_message`, `no_text`:
 *   the errors of reference/methods/chat.postMessage and chat.update; `thread_not_found`: assumed;
 * - chat.update's limits: per message about one a second (assumed; Slack documents posting one
 *   message a second per channel), per workspace Tier 3 (apis/web-api/rate-limits), with Retry-After;
 * - external uploads (length as announced, complete after upload, processed asynchronously and
 *   shared into a channel or thread on completion): reference/methods/files.getUploadURLExternal
 *   and files.completeUploadExternal; the refusal codes for a wrong length or an early completion,
 *   and the processing delay, are assumed;
 * - Block Kit: rules.ts; modals and shortcuts, notifications, alt_txt, Slack Connect files and the
 *   sign-in page: at their code below.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { blockActions, CHANNELS, eventEnvelope, messageAction, messageEvent, publicFile, viewSubmission, wireFile, WORKSPACE, type Channel, type SentMessage, type WireFile } from './payloads.js';
import { checkBlocks, type FileState } from './rules.js';

export type { WireFile } from './payloads.js';
import { waitForRecord } from '../wait.js';

export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface FakeSlackOptions {
  /** How events reach the app: a Socket Mode connection, or signed POSTs to `eventsUrl` (set later with `setEventsUrl`). */
  delivery?: 'socket' | 'http';
  /** Time to acknowledge an event or button (Slack: 3 s). */
  ackDeadlineMs?: number;
  /** Redeliveries of an event that was not acknowledged in time (Slack: 3). */
  maxRetries?: number;
  /** Time between the end of an upload and the file being usable in blocks and shared. */
  fileProcessingMs?: number;
  /** chat.update per message (about one a second). */
  updateRateLimit?: RateLimit;
  /**
   * chat.update per app per workspace: Tier 3, 50+ a minute (docs.slack.dev/apis/web-api/rate-limits,
   * limits are "per API method per workspace/team per app"; chat.update's method page says Tier 3).
   */
  workspaceUpdateLimit?: RateLimit;
  /** Seconds Slack tells a rate-limited client to wait. */
  retryAfterSeconds?: number;
}

export interface RecordedRequest {
  at: number;
  /** The Web API method (`chat.update`), or `upload` / `download` for file traffic. */
  method: string;
  params: Record<string, any>;
  authorization?: string;
  status: number;
  /** Slack's `error` when `ok` was false. */
  error?: string;
}

export interface Violation {
  at: number;
  rule: string;
  detail: string;
}

/** One delivery of an event or interaction to the app. */
export interface Delivery {
  id: string;
  kind: 'events_api' | 'interactive';
  /** The event's id (events only): the same across retries. */
  eventId?: string;
  eventType?: string;
  retry: number;
  sentAt: number;
  ackedAt?: number;
  /** HTTP mode: the app's answer. */
  status?: number;
  transport: 'socket' | 'http';
}

/** A message the fake keeps: what was sent, where, with the ids of its files. */
export interface WireMessage extends SentMessage {
  type: 'message';
  files?: string[];
  channel: string;
  /** How many times chat.update changed it. */
  edits: number;
}

export interface Ephemeral {
  channel: string;
  user: string;
  text: string;
  thread_ts?: string;
  at: number;
}

export interface FileInput {
  name: string;
  data: Buffer;
  mimetype?: string;
}

/**
 * Whom a real client notifies of a message the bot posted (docs.slack.dev/messaging/formatting-message-text,
 * "Mentioning users" and "Mentioning groups" / special mentions): `<@U…>` its user, `<!channel>`,
 * `<!here>` and `<!everyone>` the channel, `<!subteam^S…>` the group. Text escaped as `&lt;@U…&gt;`
 * mentions nobody. Only new messages notify: an edit (chat.update) notifies nobody (assumed), nor
 * does an ephemeral message (assumed: only its user sees it, and is not notified).
 */
export interface Notification {
  channel: string;
  ts: string;
  users: string[];
  /** `channel`, `here` or `everyone`, when the message had one. */
  broadcast?: string;
  groups: string[];
}

/** A modal the app opened with views.open. */
export interface OpenedView {
  id: string;
  user: string;
  view: any;
  openedAt: number;
}

export interface PostedByPerson {
  ts: string;
  /** The events this message produced (message, and app_mention when it mentions the bot). */
  eventIds: string[];
}

interface Connection {
  socket: WebSocket;
  /** Sent `disconnect`: no new envelopes go to it, acks still count. */
  draining: boolean;
}

interface Pending {
  delivery: Delivery;
  payload: any;
  timer?: NodeJS.Timeout;
  /** Socket Mode: the connection it was sent on. */
  connection?: Connection;
  resolve(): void;
}

export interface FakeSlack {
  readonly apiUrl: string;
  readonly baseUrl: string;
  readonly botToken: string;
  readonly appToken: string;
  readonly signingSecret: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly users: { alice: string; bob: string; carol: string };
  /** A public channel the bot is in, one it is not in, Alice's DM with the bot, and a Slack Connect channel the bot is in. */
  readonly channels: { general: string; outside: string; dm: string; shared: string };
  readonly requests: RecordedRequest[];
  readonly violations: Violation[];
  readonly deliveries: Delivery[];
  readonly ephemerals: Ephemeral[];
  /** Whom each message the bot posted notified (see Notification). */
  readonly notifications: Notification[];
  /** Modals the app opened. */
  readonly views: OpenedView[];
  /** A person picks an option of a static select on a message; resolves once acknowledged. */
  chooseOption(input: { user: string; channel: string; ts: string; actionId: string; value: string }): Promise<Delivery>;
  /** A block_actions press with any action id on a message, as a modified client could send. */
  craftedAction(input: { user: string; channel: string; ts: string; actionId: string }): Promise<Delivery>;
  /** A person uses a message shortcut on a message ("More actions → …"); resolves once acknowledged. */
  messageShortcut(input: { user: string; channel: string; ts: string; callbackId: string }): Promise<Delivery>;
  /** A person submits a modal the app opened, its inputs filled (block id → action id → text); resolves once acknowledged. */
  submitView(input: { user: string; viewId: string; values: Record<string, Record<string, string>> }): Promise<Delivery>;
  /** Refuses new Socket Mode connections (with `dropSockets`, Slack out of reach) until set back. */
  setSocketsAvailable(available: boolean): void;
  /** Socket Mode connections opened so far. */
  connectionCount(): number;
  /** Where HTTP-mode deliveries go (the app's /slack/events). */
  setEventsUrl(url: string): void;
  /** A person posts a message (with files), as Slack would deliver it: `message` (file_share), plus `app_mention` when it mentions the bot. */
  postMessage(input: { user: string; channel: string; text: string; files?: FileInput[]; thread_ts?: string }): PostedByPerson;
  /** Delivers an event again with its event_id (a Slack retry: X-Slack-Retry-Num / retry_attempt). */
  redeliver(eventId: string, reason?: string): void;
  /** A person presses a button of a message; resolves once the press is acknowledged (or its deadline passed). */
  pressButton(input: { user: string; channel: string; ts: string; actionId: string }): Promise<Delivery>;
  /** Sends `disconnect` (reason `refresh_requested`) on the open Socket Mode connections, as Slack does before recycling them. */
  refreshSockets(): void;
  /** Cuts the open Socket Mode connections without a word, as a network drop does. */
  dropSockets(): void;
  /**
   * Grants or takes away the bot's files:read scope: without it, Slack answers file downloads with
   * its sign-in page, as an HTML page with status 200, or as a 302 redirect to it (`refusal`).
   */
  setFilesRead(granted: boolean, refusal?: 'page' | 'redirect'): void;
  /** HTTP mode: posts a signed event body as is, optionally with a broken signature or an old timestamp; resolves with the app's status. */
  sendSignedEvent(options: { tamper?: 'signature' | 'stale'; retryNum?: number }): Promise<number>;
  messages(channel: string): WireMessage[];
  message(channel: string, ts: string): WireMessage | undefined;
  file(id: string): WireFile | undefined;
  fileBytes(id: string): Buffer | undefined;
  waitFor<T>(predicate: () => T | undefined | null | false, options: { describe: string; timeoutMs?: number }): Promise<T>;
  describe(): string;
  close(): Promise<void>;
}

const DEFAULTS = {
  ackDeadlineMs: 3_000,
  maxRetries: 3,
  fileProcessingMs: 300,
  updateRateLimit: { limit: 1, windowMs: 1_000 },
  workspaceUpdateLimit: { limit: 50, windowMs: 60_000 },
  retryAfterSeconds: 1,
};
/** A trigger_id opens a modal within 3 s of the interaction, once (docs.slack.dev/tools/bolt-js/concepts/creating-modals; views.open's errors expired_trigger_id, exchanged_trigger_id). */
const TRIGGER_LIFETIME_MS = 3_000;
/** files.getUploadURLExternal's alt_txt: at most 1000 characters (its error alt_txt_too_large). */
const ALT_TXT_MAX = 1_000;

const SIGN_IN_PAGE = '<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to your workspace</body></html>';
/** Methods that take the app-level token; every other takes the bot token. */
const APP_TOKEN_METHODS = new Set(['apps.connections.open']);

const id = (prefix: string) => `${prefix}${randomBytes(6).toString('hex').toUpperCase().slice(0, 10)}`;

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** Web API arguments: form-urlencoded, or multipart when a call carries bytes; JSON-valued fields (blocks, files) parsed. */
async function parseParams(raw: Buffer, contentType: string | undefined): Promise<{ params: Record<string, any>; files: Buffer[] }> {
  const params: Record<string, any> = {};
  const files: Buffer[] = [];
  if (contentType?.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body: raw }).formData();
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') params[key] = value;
      else files.push(Buffer.from(await value.arrayBuffer()));
    }
  } else if (contentType?.startsWith('application/json')) {
    Object.assign(params, JSON.parse(raw.toString('utf8') || '{}'));
  } else {
    for (const [key, value] of new URLSearchParams(raw.toString('utf8'))) params[key] = value;
  }
  for (const key of ['blocks', 'files', 'attachments']) {
    if (typeof params[key] === 'string') {
      try {
        params[key] = JSON.parse(params[key]);
      } catch {
        // left as text: the rules answer it
      }
    }
  }
  return { params, files };
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const settings = { ...DEFAULTS, ...options, delivery: options.delivery ?? 'socket' };
  const requests: RecordedRequest[] = [];
  const violations: Violation[] = [];
  const deliveries: Delivery[] = [];
  const ephemerals: Ephemeral[] = [];
  const files = new Map<string, WireFile>();
  const messagesByChannel = new Map<string, WireMessage[]>();
  const updates = new Map<string, number[]>();
  const events = new Map<string, { payload: any; retries: number }>();
  const pending = new Map<string, Pending>();
  const queued: Pending[] = [];
  const connections: Connection[] = [];
  let connectionsOpened = 0;
  let eventsUrl: string | undefined;
  let filesRead = true;
  let filesRefusal: 'page' | 'redirect' = 'page';
  let socketsAvailable = true;
  const workspaceUpdates: number[] = [];
  const notifications: Notification[] = [];
  const views: OpenedView[] = [];
  /** trigger_ids handed out, when, and whether one was used. */
  const triggers = new Map<string, { at: number; used: boolean; user: string }>();
  let closed = false;
  let tsCounter = 0;

  const { teamId, botUserId, botId, users } = WORKSPACE;
  const botToken = `xoxb-${randomBytes(12).toString('hex')}`;
  const appToken = `xapp-1-${randomBytes(12).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  const channels = new Map(CHANNELS.map((c) => [c.id, c]));

  const violate = (rule: string, detail: string) => violations.push({ at: Date.now(), rule, detail });
  const nextTs = () => {
    tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(tsCounter).padStart(6, '0')}`;
  };
  const messagesOf = (channel: string) => {
    let list = messagesByChannel.get(channel);
    if (!list) messagesByChannel.set(channel, (list = []));
    return list;
  };
  const fileState = (fileId: string): FileState => {
    const file = files.get(fileId);
    return !file ? 'unknown' : file.state === 'processed' ? 'processed' : 'unprocessed';
  };

  let baseUrl = '';

  // ---- delivery ----------------------------------------------------------------------------

  const sign = (body: string, timestamp: number) => `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;

  // Slack sends each envelope over one of an app's open connections (apis/events-api/using-socket-mode:
  // up to 10 at once); which one is not specified, so the fake uses the oldest open one (assumed).
  const liveConnection = () => connections.find((c) => !c.draining && c.socket.readyState === c.socket.OPEN);

  function armDeadline(item: Pending): void {
    item.timer = setTimeout(() => {
      if (item.delivery.ackedAt !== undefined || closed) return;
      violate('ack-deadline', `${item.delivery.kind} ${item.delivery.eventId ?? item.delivery.id} not acknowledged within ${settings.ackDeadlineMs} ms`);
      pending.delete(item.delivery.id);
      item.resolve();
      // Slack retries events it got no acknowledgement for; interactions are not retried.
      if (item.delivery.eventId) retryEvent(item.delivery.eventId, 'timeout');
    }, settings.ackDeadlineMs);
  }

  function sendOnSocket(item: Pending): void {
    const connection = liveConnection();
    if (!connection) {
      queued.push(item); // sent once a connection says hello
      return;
    }
    item.delivery.sentAt = Date.now();
    item.connection = connection;
    pending.set(item.delivery.id, item);
    const { delivery } = item;
    const envelope =
      delivery.kind === 'events_api'
        ? { envelope_id: delivery.id, type: 'events_api', payload: item.payload, accepts_response_payload: false, retry_attempt: delivery.retry, retry_reason: delivery.retry > 0 ? 'timeout' : '' }
        : { envelope_id: delivery.id, type: 'interactive', payload: item.payload, accepts_response_payload: false };
    connection.socket.send(JSON.stringify(envelope));
    armDeadline(item);
  }

  async function sendOverHttp(item: Pending, reason: string): Promise<void> {
    if (!eventsUrl) {
      violate('no-request-url', 'an HTTP delivery with no events URL set');
      item.resolve();
      return;
    }
    const { delivery } = item;
    const body = delivery.kind === 'events_api' ? JSON.stringify(item.payload) : new URLSearchParams({ payload: JSON.stringify(item.payload) }).toString();
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': delivery.kind === 'events_api' ? 'application/json' : 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': sign(body, timestamp),
    };
    if (delivery.retry > 0) Object.assign(headers, { 'x-slack-retry-num': String(delivery.retry), 'x-slack-retry-reason': reason });
    delivery.sentAt = Date.now();
    pending.set(delivery.id, item);
    armDeadline(item);
    try {
      const response = await fetch(eventsUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(settings.ackDeadlineMs + 2_000) });
      await response.text();
      delivery.status = response.status;
      if (response.ok && delivery.ackedAt === undefined && pending.has(delivery.id)) {
        delivery.ackedAt = Date.now();
        clearTimeout(item.timer);
        pending.delete(delivery.id);
        item.resolve();
      } else if (!response.ok) {
        violate('delivery-refused', `${delivery.kind} ${delivery.eventId ?? delivery.id} answered ${response.status}`);
      }
    } catch (error) {
      if (!closed) violate('delivery-failed', `${delivery.kind} ${delivery.eventId ?? delivery.id}: ${String(error)}`);
    }
  }

  function dispatch(kind: Delivery['kind'], payload: any, meta: { eventId?: string; eventType?: string; retry: number; reason?: string }): Promise<Delivery> {
    return new Promise((resolve) => {
      const delivery: Delivery = { id: id('E'), kind, ...(meta.eventId ? { eventId: meta.eventId, eventType: meta.eventType } : {}), retry: meta.retry, sentAt: Date.now(), transport: settings.delivery };
      deliveries.push(delivery);
      const item: Pending = { delivery, payload, resolve: () => resolve(delivery) };
      if (settings.delivery === 'socket') sendOnSocket(item);
      else void sendOverHttp(item, meta.reason ?? 'timeout');
    });
  }

  function deliverEvent(event: any): string {
    const eventId = `Ev${randomBytes(5).toString('hex').toUpperCase()}`;
    const payload = eventEnvelope(eventId, event);
    events.set(eventId, { payload, retries: 0 });
    void dispatch('events_api', payload, { eventId, eventType: event.type, retry: 0 });
    return eventId;
  }

  function retryEvent(eventId: string, reason: string): void {
    const known = events.get(eventId);
    if (!known || closed) return;
    if (known.retries >= settings.maxRetries) return;
    known.retries += 1;
    void dispatch('events_api', known.payload, { eventId, eventType: known.payload.event.type, retry: known.retries, reason });
  }

  // ---- people ----------------------------------------------------------------------------------

  function personFile(user: string, input: FileInput): WireFile {
    const file = { ...wireFile({ id: id('F'), name: input.name, user, size: input.data.length, baseUrl, ...(input.mimetype ? { mimetype: input.mimetype } : {}) }), data: input.data };
    files.set(file.id, file);
    return file;
  }

  const eventOf = (message: WireMessage, channel: Channel, type: 'message' | 'app_mention') => messageEvent(message, channel, type, (message.files ?? []).map((fileId) => files.get(fileId)!));

  // ---- Web API --------------------------------------------------------------------------------

  type Answer = { status: number; body: any; headers?: Record<string, string> };
  const ok = (body: Record<string, unknown> = {}): Answer => ({ status: 200, body: { ok: true, ...body } });
  const fail = (error: string, extra: Record<string, unknown> = {}): Answer => ({ status: 200, body: { ok: false, error, ...extra } });

  function channelFor(channelId: string | undefined): Channel | Answer {
    const channel = channelId ? channels.get(channelId) : undefined;
    if (!channel) return fail('channel_not_found');
    if (!channel.botIsMember) {
      violate('not-in-channel', `the bot wrote to ${channel.id}, which it is not in`);
      return fail('not_in_channel');
    }
    return channel;
  }

  function blocksProblem(params: Record<string, any>): Answer | undefined {
    if (params.blocks === undefined) return undefined;
    const errors = checkBlocks(params.blocks, fileState);
    if (errors.length === 0) return undefined;
    violate('invalid-blocks', errors.join('; '));
    return fail('invalid_blocks', { errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } });
  }

  function shareFiles(fileIds: string[], channel: Channel, threadTs: string | undefined, comment: string | undefined): void {
    const message: WireMessage = {
      type: 'message',
      subtype: 'file_share',
      ts: nextTs(),
      ...(threadTs ? { thread_ts: threadTs } : {}),
      user: botUserId,
      bot_id: botId,
      text: comment ?? '',
      files: fileIds,
      channel: channel.id,
      edits: 0,
    };
    messagesOf(channel.id).push(message);
    notify(channel.id, message.ts, comment, undefined);
    // The bot hears its own upload: a message event from itself, which it must ignore.
    deliverEvent(eventOf(message, channel, 'message'));
  }

  /** Records whom a new message notifies (see Notification): its text, and the mrkdwn of its sections (assumed to count as its text does). */
  function notify(channel: string, ts: string, text: string | undefined, blocks: unknown): void {
    const texts = [text ?? '', ...(Array.isArray(blocks) ? blocks : []).map((b: any) => (b?.type === 'section' && typeof b.text?.text === 'string' ? b.text.text : ''))].join('\n');
    const users = [...new Set([...texts.matchAll(/<@(U[A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1]))].filter((user) => user !== botUserId);
    const broadcast = /<!(channel|here|everyone)(?:\|[^>]*)?>/.exec(texts)?.[1];
    const groups = [...texts.matchAll(/<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1]);
    if (users.length > 0 || broadcast || groups.length > 0) notifications.push({ channel, ts, users, ...(broadcast ? { broadcast } : {}), groups });
  }

  function newTrigger(user: string): string {
    const trigger = `${Date.now()}.${Math.floor(Math.random() * 1e6)}.${randomBytes(8).toString('hex')}`;
    triggers.set(trigger, { at: Date.now(), used: false, user });
    return trigger;
  }

  const methods: Record<string, (params: Record<string, any>, parts: Buffer[]) => Answer> = {
    'auth.test': () => ok({ url: 'https://fake.slack.com/', team: 'Fake', user: 'gas', team_id: teamId, user_id: botUserId, bot_id: botId, is_enterprise_install: false }),

    'apps.connections.open': () => {
      const ticket = randomBytes(8).toString('hex');
      return ok({ url: `${baseUrl.replace(/^http/, 'ws')}/socket?ticket=${ticket}` });
    },

    'chat.postMessage': (params) => {
      const channel = channelFor(params.channel);
      if ('status' in channel) return channel;
      if (!params.text && !params.blocks) return fail('no_text');
      const refused = blocksProblem(params);
      if (refused) return refused;
      if (params.thread_ts && !messagesOf(channel.id).some((m) => m.ts === params.thread_ts)) return fail('thread_not_found');
      const message: WireMessage = {
        type: 'message',
        ts: nextTs(),
        ...(params.thread_ts ? { thread_ts: params.thread_ts } : {}),
        user: botUserId,
        bot_id: botId,
        text: params.text ?? '',
        ...(params.blocks ? { blocks: params.blocks } : {}),
        channel: channel.id,
        edits: 0,
      };
      messagesOf(channel.id).push(message);
      notify(channel.id, message.ts, params.text, params.blocks);
      return ok({ channel: channel.id, ts: message.ts, message: { ...message, edits: undefined } });
    },

    'chat.update': (params) => {
      const channel = channelFor(params.channel);
      if ('status' in channel) return channel;
      const message = messagesOf(channel.id).find((m) => m.ts === params.ts);
      if (!message) return fail('message_not_found');
      if (message.user !== botUserId) return fail('cant_update_message');
      const key = `${channel.id}:${message.ts}`;
      const now = Date.now();
      const recent = (updates.get(key) ?? []).filter((t) => now - t < settings.updateRateLimit.windowMs);
      if (recent.length >= settings.updateRateLimit.limit) {
        violate('rate-limited', `chat.update of ${key} more than ${settings.updateRateLimit.limit} per ${settings.updateRateLimit.windowMs} ms`);
        return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(settings.retryAfterSeconds) } };
      }
      // Tier 3 across the workspace: every message's updates count (docs.slack.dev/apis/web-api/rate-limits, with Retry-After in seconds).
      const window = settings.workspaceUpdateLimit;
      while (workspaceUpdates.length > 0 && now - workspaceUpdates[0] >= window.windowMs) workspaceUpdates.shift();
      if (workspaceUpdates.length >= window.limit) {
        const retryAfter = Math.max(1, Math.ceil((workspaceUpdates[0] + window.windowMs - now) / 1000));
        violate('rate-limited', `chat.update in workspace ${teamId}: more than ${window.limit} per ${window.windowMs} ms`);
        return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(retryAfter) } };
      }
      const refused = blocksProblem(params);
      if (refused) return refused;
      recent.push(now);
      updates.set(key, recent);
      workspaceUpdates.push(now);
      message.text = params.text ?? message.text;
      if (params.blocks) message.blocks = params.blocks;
      message.edits += 1;
      return ok({ channel: channel.id, ts: message.ts, text: message.text });
    },

    'chat.postEphemeral': (params) => {
      const channel = channelFor(params.channel);
      if ('status' in channel) return channel;
      if (!params.user) return fail('user_not_found');
      if (!params.text && !params.blocks) return fail('no_text');
      ephemerals.push({ channel: channel.id, user: params.user, text: params.text ?? '', ...(params.thread_ts ? { thread_ts: params.thread_ts } : {}), at: Date.now() });
      return ok({ message_ts: nextTs() });
    },

    // Arguments: filename, length, alt_txt, snippet_type (docs.slack.dev/reference/methods/files.getUploadURLExternal).
    'files.getUploadURLExternal': (params) => {
      const length = Number(params.length);
      if (!params.filename) return fail('invalid_arguments');
      if (!Number.isInteger(length) || length <= 0) return fail('invalid_arguments');
      // Slack ignores an argument it does not have (assumed), so alt text under another name is lost: @slack/web-api names it alt_text.
      if (params.alt_text !== undefined) violate('unknown-argument', 'files.getUploadURLExternal has no alt_text (the image description is alt_txt); Slack drops it');
      if (typeof params.alt_txt === 'string' && params.alt_txt.length > ALT_TXT_MAX) return fail('alt_txt_too_large');
      const fileId = id('F');
      files.set(fileId, { ...wireFile({ id: fileId, name: params.filename, user: botUserId, size: length, baseUrl }), declaredLength: length, state: 'pending', ...(params.alt_txt ? { altText: params.alt_txt } : {}) });
      return ok({ upload_url: `${baseUrl}/upload/v1/${fileId}`, file_id: fileId });
    },

    'files.completeUploadExternal': (params) => {
      const list = Array.isArray(params.files) ? (params.files as Array<{ id: string; title?: string }>) : undefined;
      if (!list || list.length === 0) return fail('invalid_arguments');
      let channel: Channel | undefined;
      if (params.channel_id) {
        const found = channelFor(params.channel_id);
        if ('status' in found) return found;
        channel = found;
      }
      for (const entry of list) {
        const file = files.get(entry.id);
        if (!file) return fail('file_not_found');
        if (file.state !== 'uploaded') {
          violate('upload-incomplete', `completeUploadExternal of ${entry.id} in state ${file.state}`);
          return fail(file.state === 'pending' ? 'file_upload_incomplete' : 'file_already_completed');
        }
      }
      for (const entry of list) {
        const file = files.get(entry.id)!;
        if (entry.title) file.title = entry.title;
        file.state = 'processing';
      }
      const fileIds = list.map((entry) => entry.id);
      // Processing happens a moment later, as on Slack; only then is a shared file posted into the channel.
      setTimeout(() => {
        if (closed) return;
        for (const fileId of fileIds) files.get(fileId)!.state = 'processed';
        if (channel) shareFiles(fileIds, channel, params.thread_ts, params.initial_comment);
      }, settings.fileProcessingMs);
      return ok({ files: fileIds.map((fileId) => publicFile(files.get(fileId)!)) });
    },

    'files.info': (params) => {
      const file = files.get(params.file);
      if (!file || file.state === 'pending') return fail('file_not_found');
      return ok({ file: publicFile(file) });
    },

    // A modal for the person of an interaction, with its trigger_id (docs.slack.dev/reference/methods/views.open).
    'views.open': (params) => {
      const trigger = triggers.get(String(params.trigger_id ?? ''));
      if (!trigger) return fail('invalid_trigger_id');
      if (trigger.used) {
        violate('trigger-reused', `views.open with trigger ${params.trigger_id} twice`);
        return fail('exchanged_trigger_id');
      }
      if (Date.now() - trigger.at > TRIGGER_LIFETIME_MS) {
        violate('trigger-expired', `views.open ${Date.now() - trigger.at} ms after its interaction`);
        return fail('expired_trigger_id');
      }
      let view = params.view;
      if (typeof view === 'string') {
        try {
          view = JSON.parse(view);
        } catch {
          return fail('invalid_arguments');
        }
      }
      const problems = checkModalView(view);
      if (problems.length > 0) {
        violate('invalid-view', problems.join('; '));
        return fail('invalid_arguments', { response_metadata: { messages: problems.map((p) => `[ERROR] ${p}`) } });
      }
      trigger.used = true;
      const opened: OpenedView = { id: id('V'), user: trigger.user, view: { ...view, id: undefined }, openedAt: Date.now() };
      opened.view = { ...view, id: opened.id, team_id: teamId, app_id: WORKSPACE.appId, private_metadata: view.private_metadata ?? '' };
      views.push(opened);
      return ok({ view: opened.view });
    },
  };

  /**
   * A modal as views.open checks it (docs.slack.dev/reference/views/modal-views): type modal, a
   * plain_text title of at most 24 characters, a submit label when it has inputs, at most 100
   * blocks, callback_id at most 255 and private_metadata at most 3000 characters.
   */
  function checkModalView(view: any): string[] {
    const problems: string[] = [];
    if (view?.type !== 'modal') problems.push('view.type must be modal');
    if (view?.title?.type !== 'plain_text' || typeof view.title.text !== 'string' || view.title.text.length === 0 || view.title.text.length > 24) problems.push('view.title must be a plain_text of 1 to 24 characters');
    const blocks = Array.isArray(view?.blocks) ? view.blocks : [];
    if (blocks.length === 0 || blocks.length > 100) problems.push('view.blocks must have 1 to 100 blocks');
    if (blocks.some((b: any) => b?.type === 'input') && view?.submit?.type !== 'plain_text') problems.push('view.submit is required for a view with inputs');
    if (typeof view?.callback_id === 'string' && view.callback_id.length > 255) problems.push('view.callback_id must be at most 255 characters');
    if (typeof view?.private_metadata === 'string' && view.private_metadata.length > 3000) problems.push('view.private_metadata must be at most 3000 characters');
    return problems;
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    response.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json; charset=utf-8', ...headers }).end(text);
  }

  async function handleApi(method: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { params, files: parts } = await parseParams(await readBody(request), request.headers['content-type']);
    const authorization = request.headers.authorization ?? (params.token ? `Bearer ${params.token}` : undefined);
    const record = (answer: Answer) => {
      requests.push({ at: Date.now(), method, params, ...(authorization ? { authorization } : {}), status: answer.status, ...(answer.body.ok === false ? { error: answer.body.error } : {}) });
      send(response, answer.status, answer.body, answer.headers);
    };
    const handler = methods[method];
    if (!handler) return record({ status: 200, body: { ok: false, error: 'unknown_method' } });
    const expected = APP_TOKEN_METHODS.has(method) ? appToken : botToken;
    if (!authorization) return record(fail('not_authed'));
    if (authorization !== `Bearer ${expected}`) {
      violate('invalid-auth', `${method} with a token that is not the ${APP_TOKEN_METHODS.has(method) ? 'app-level' : 'bot'} token`);
      return record(fail('invalid_auth'));
    }
    record(handler(params, parts));
  }

  async function handleUpload(fileId: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request);
    const file = files.get(fileId);
    let data = raw;
    if (request.headers['content-type']?.startsWith('multipart/form-data')) data = (await parseParams(raw, request.headers['content-type'])).files[0] ?? Buffer.alloc(0);
    const answer = (status: number, text: string) => {
      requests.push({ at: Date.now(), method: 'upload', params: { file: fileId, bytes: data.length }, status });
      send(response, status, text);
    };
    if (!file || file.state !== 'pending') return answer(404, 'Not Found');
    if (data.length !== file.declaredLength) {
      violate('upload-length', `${fileId}: ${data.length} bytes uploaded, ${file.declaredLength} declared`);
      return answer(400, 'length mismatch');
    }
    file.data = data;
    file.size = data.length;
    file.state = 'uploaded';
    answer(200, `OK - ${data.length}`);
  }

  function handleDownload(path: string, request: IncomingMessage, response: ServerResponse): void {
    const match = /^\/files-pri\/[A-Z0-9]+-(F[A-Z0-9]+)\//.exec(path);
    const file = match ? files.get(match[1]) : undefined;
    const authorization = request.headers.authorization;
    const authorised = authorization === `Bearer ${botToken}` && filesRead;
    requests.push({ at: Date.now(), method: 'download', params: { path }, ...(authorization ? { authorization } : {}), status: authorised && file?.data ? 200 : authorised ? 404 : filesRefusal === 'redirect' ? 302 : 200 });
    if (!authorised) {
      // Slack's answer to a missing token or scope: its sign-in page with status 200, or a 302 to it. Assumed
      // (both are seen in the field; Slack documents only that url_private needs the bearer token, docs.slack.dev/messaging/working-with-files).
      if (filesRefusal === 'redirect') response.writeHead(302, { location: `${baseUrl}/signin?redir=${encodeURIComponent(path)}`, 'content-type': 'text/html; charset=utf-8' }).end();
      else response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(SIGN_IN_PAGE);
      return;
    }
    if (!file?.data) {
      send(response, 404, 'Not Found');
      return;
    }
    response.writeHead(200, { 'content-type': file.mimetype || 'application/octet-stream', 'content-length': String(file.data.length) }).end(file.data);
  }

  const http = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const fail500 = (error: unknown) => {
      violate('fake-error', String(error));
      if (!response.headersSent) send(response, 500, { ok: false, error: 'fatal_error' });
    };
    if (request.method === 'POST' && url.pathname.startsWith('/api/')) {
      handleApi(url.pathname.slice('/api/'.length), request, response).catch(fail500);
    } else if (request.method === 'POST' && url.pathname.startsWith('/upload/v1/')) {
      handleUpload(url.pathname.slice('/upload/v1/'.length), request, response).catch(fail500);
    } else if (request.method === 'GET' && url.pathname.startsWith('/files-pri/')) {
      handleDownload(url.pathname, request, response);
    } else {
      send(response, 404, 'Not Found');
    }
  });

  // ---- Socket Mode ----------------------------------------------------------------------------

  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== '/socket' || !url.searchParams.get('ticket') || !socketsAvailable) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection: Connection = { socket: ws, draining: false };
      connections.push(connection);
      connectionsOpened += 1;
      ws.on('message', (raw) => {
        let message: any;
        try {
          message = JSON.parse(raw.toString());
        } catch {
          violate('socket-garbage', raw.toString().slice(0, 100));
          return;
        }
        const item = message?.envelope_id ? pending.get(message.envelope_id) : undefined;
        if (!item) {
          if (message?.envelope_id && !deliveries.some((d) => d.id === message.envelope_id)) violate('unknown-envelope', String(message.envelope_id));
          return;
        }
        item.delivery.ackedAt = Date.now();
        clearTimeout(item.timer);
        pending.delete(message.envelope_id);
        item.resolve();
      });
      ws.on('close', () => {
        connections.splice(connections.indexOf(connection), 1);
        // Envelopes lost with the connection are sent again on the next one, as Slack retries them.
        if (closed) return;
        for (const item of [...pending.values()]) {
          if (item.connection !== connection) continue;
          clearTimeout(item.timer);
          pending.delete(item.delivery.id);
          sendOnSocket(item);
        }
      });
      ws.send(JSON.stringify({ type: 'hello', num_connections: connections.length, debug_info: { host: 'fake', approximate_connection_time: 18060 }, connection_info: { app_id: WORKSPACE.appId } }));
      for (const item of queued.splice(0)) sendOnSocket(item);
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const fake: FakeSlack = {
    apiUrl: `${baseUrl}/api/`,
    baseUrl,
    botToken,
    appToken,
    signingSecret,
    teamId,
    botUserId,
    botId,
    users,
    channels: WORKSPACE.channels,
    requests,
    violations,
    deliveries,
    ephemerals,
    notifications,
    views,

    connectionCount: () => connectionsOpened,

    setEventsUrl(url) {
      eventsUrl = url;
    },

    postMessage({ user, channel: channelId, text, files: inputs = [], thread_ts }) {
      const channel = channels.get(channelId);
      if (!channel) throw new Error(`fake Slack: no channel ${channelId}`);
      const shared = inputs.map((input) => personFile(user, input));
      const message: WireMessage = {
        type: 'message',
        ...(shared.length ? { subtype: 'file_share' } : {}),
        ts: nextTs(),
        ...(thread_ts ? { thread_ts } : {}),
        user,
        text,
        ...(shared.length ? { files: shared.map((f) => f.id) } : {}),
        channel: channel.id,
        edits: 0,
      };
      messagesOf(channel.id).push(message);
      const eventIds: string[] = [];
      if (!channel.botIsMember) return { ts: message.ts, eventIds };
      // Slack sends the message event and, when the bot is mentioned outside a DM, an app_mention with another event_id.
      eventIds.push(deliverEvent(eventOf(message, channel, 'message')));
      if (channel.type !== 'im' && text.includes(`<@${botUserId}>`)) eventIds.push(deliverEvent(eventOf(message, channel, 'app_mention')));
      return { ts: message.ts, eventIds };
    },

    redeliver(eventId, reason = 'http_timeout') {
      const known = events.get(eventId);
      if (!known) throw new Error(`fake Slack: no event ${eventId}`);
      known.retries += 1;
      void dispatch('events_api', known.payload, { eventId, eventType: known.payload.event.type, retry: known.retries, reason });
    },

    pressButton({ user, channel: channelId, ts, actionId }) {
      const message = messagesOf(channelId).find((m) => m.ts === ts);
      if (!message) throw new Error(`fake Slack: no message ${ts} in ${channelId}`);
      const payload = blockActions({ user, channel: channels.get(channelId)!, message, actionId, responseUrl: `${baseUrl}/actions/respond` });
      if (!payload) throw new Error(`fake Slack: message ${ts} has no button ${actionId}`);
      return dispatch('interactive', { ...payload, trigger_id: newTrigger(user) }, { retry: 0 });
    },

    chooseOption({ user, channel: channelId, ts, actionId, value }) {
      const message = messagesOf(channelId).find((m) => m.ts === ts);
      if (!message) throw new Error(`fake Slack: no message ${ts} in ${channelId}`);
      const payload = blockActions({ user, channel: channels.get(channelId)!, message, actionId, value, responseUrl: `${baseUrl}/actions/respond` });
      if (!payload) throw new Error(`fake Slack: message ${ts} has no select ${actionId} with the option ${value}`);
      return dispatch('interactive', { ...payload, trigger_id: newTrigger(user) }, { retry: 0 });
    },

    craftedAction({ user, channel: channelId, ts, actionId }) {
      const message = messagesOf(channelId).find((m) => m.ts === ts);
      if (!message) throw new Error(`fake Slack: no message ${ts} in ${channelId}`);
      const payload = blockActions({ user, channel: channels.get(channelId)!, message, actionId, crafted: true, responseUrl: `${baseUrl}/actions/respond` })!;
      return dispatch('interactive', payload, { retry: 0 });
    },

    messageShortcut({ user, channel: channelId, ts, callbackId }) {
      const channel = channels.get(channelId);
      const message = messagesOf(channelId).find((m) => m.ts === ts);
      if (!channel || !message) throw new Error(`fake Slack: no message ${ts} in ${channelId}`);
      const shown = (message.files ?? []).map((fileId) => files.get(fileId)!).map((file) => (channel.shared ? { id: file.id, mode: 'file_access', file_access: 'check_file_info' } : publicFile(file)));
      const payload = messageAction({ user, channel, message: { ...message, ...(shown.length > 0 ? { files: shown } : {}) }, callbackId, triggerId: newTrigger(user), responseUrl: `${baseUrl}/actions/respond` });
      return dispatch('interactive', payload, { retry: 0 });
    },

    submitView({ user, viewId, values }) {
      const opened = views.find((v) => v.id === viewId);
      if (!opened) throw new Error(`fake Slack: no view ${viewId}`);
      if (opened.user !== user) throw new Error(`fake Slack: view ${viewId} was opened for ${opened.user}, not ${user}`);
      return dispatch('interactive', viewSubmission({ user, view: opened.view, values, triggerId: newTrigger(user) }), { retry: 0 });
    },

    setSocketsAvailable(available) {
      socketsAvailable = available;
    },

    refreshSockets() {
      for (const connection of connections) {
        if (connection.draining) continue;
        connection.draining = true;
        connection.socket.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'fake' } }));
      }
    },

    dropSockets() {
      for (const connection of [...connections]) connection.socket.terminate();
    },

    setFilesRead(granted, refusal = 'page') {
      filesRead = granted;
      filesRefusal = refusal;
    },

    async sendSignedEvent({ tamper, retryNum }) {
      if (!eventsUrl) throw new Error('fake Slack: no events URL set');
      const eventId = `Ev${randomBytes(5).toString('hex').toUpperCase()}`;
      const message: WireMessage = { type: 'message', ts: nextTs(), user: users.alice, text: `<@${botUserId}> hello`, channel: 'C0GENERAL1', edits: 0 };
      const body = JSON.stringify(eventEnvelope(eventId, eventOf(message, channels.get('C0GENERAL1')!, 'app_mention')));
      const now = Math.floor(Date.now() / 1000);
      const timestamp = tamper === 'stale' ? now - 6 * 60 : now;
      const signature = tamper === 'signature' ? sign(`${body} `, timestamp) : sign(body, timestamp);
      const response = await fetch(eventsUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-slack-request-timestamp': String(timestamp),
          'x-slack-signature': signature,
          ...(retryNum ? { 'x-slack-retry-num': String(retryNum), 'x-slack-retry-reason': 'http_timeout' } : {}),
        },
        body,
      });
      await response.text();
      return response.status;
    },

    messages: (channel) => [...messagesOf(channel)],
    message: (channel, ts) => messagesOf(channel).find((m) => m.ts === ts),
    file: (fileId) => files.get(fileId),
    fileBytes: (fileId) => files.get(fileId)?.data,

    waitFor(predicate, { describe, timeoutMs = 15_000 }) {
      return waitForRecord(predicate, describe, timeoutMs, () => fake.describe());
    },

    describe() {
      const start = requests[0]?.at ?? deliveries[0]?.sentAt ?? 0;
      const lines = requests.map((r) => `  +${r.at - start}ms ${r.method} → ${r.status}${r.error ? ` (${r.error})` : ''}`);
      const sent = deliveries.map((d) => `  +${d.sentAt - start}ms ${d.transport} ${d.kind} ${d.eventType ?? ''} ${d.eventId ?? ''} retry=${d.retry} ${d.ackedAt !== undefined ? `acked +${d.ackedAt - d.sentAt}ms` : 'not acked'}${d.status ? ` status ${d.status}` : ''}`);
      const broken = violations.map((v) => `  ${v.rule}: ${v.detail}`);
      return `requests:\n${lines.join('\n') || '  none'}\ndeliveries:\n${sent.join('\n') || '  none'}\nviolations:\n${broken.join('\n') || '  none'}`;
    },

    async close() {
      closed = true;
      for (const item of pending.values()) clearTimeout(item.timer);
      for (const connection of connections) connection.socket.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return fake;
}
