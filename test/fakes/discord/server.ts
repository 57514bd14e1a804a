/**
 * A fake Discord on 127.0.0.1 for the real discord.js: REST under /api/v10, the gateway on
 * ws://…/gateway, files under /attachments. It enforces Discord's rules for bots and interactions
 * (3 s acknowledgement, one acknowledgement, 15-minute tokens, upload size, message limits, rate
 * limits, bot auth, no threads in DMs), answers a broken rule with Discord's status and error code, and records the
 * rule as a violation. Tests drive people through `slashCommand`, `contextMenu`, `submitModal`,
 * `pressButton` and `postMessage`, and read back every request, message and uploaded byte.
 *
 * Where each rule is documented (paths in github.com/discord/discord-api-docs; error codes in
 * developers/topics/opcodes-and-status-codes.mdx, "JSON Error Codes"):
 * - every request is checked against Discord's OpenAPI description: spec.ts;
 * - an interaction is acknowledged within 3 s, else 10062, and its token lives 15 minutes, else
 *   50027: developers/interactions/receiving-and-responding.mdx ("Responding to an Interaction",
 *   "Followup Messages"); a second acknowledgement 40060 (its code's description);
 * - which callback types an interaction may use (6 and 7 for components only, no modal after a
 *   modal): the same page, "Interaction Callback Type"; the first follow-up after a deferral fills
 *   the loading message: assumed (it is what clients show), as is 10015 for a webhook call before
 *   the acknowledgement;
 * - bot routes take `Authorization: Bot <token>`, else 401: developers/reference.mdx "Authentication";
 * - rate limits answered 429 with `retry_after` and X-RateLimit-* headers: developers/topics/rate-limits.mdx;
 *   the buckets' sizes (5 per 5 s per channel or token) are assumed;
 * - upload limits per file and per request, the bot's permissions, content without the intent,
 *   notifications, embeds naming attachments: at their functions below;
 * - an empty message 50006, editing another's message 50005, unknown message 10008 and channel
 *   10003, a second thread from a message 160004, a thread in a DM 50024: their codes'
 *   descriptions; a thread inside a thread refused with 50035: assumed;
 * - message payload and command limits: rules.ts; the gateway's handshake, intents and close
 *   codes: gateway.ts.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ALREADY_ACKNOWLEDGED,
  CANNOT_EDIT_OTHERS,
  EMPTY_MESSAGE,
  ENTITY_TOO_LARGE,
  INVALID_WEBHOOK_TOKEN,
  MISSING_ACCESS,
  MISSING_PERMISSIONS,
  NOT_FOUND,
  THREAD_EXISTS,
  UNAUTHORIZED,
  UNKNOWN_CHANNEL,
  UNKNOWN_INTERACTION,
  UNKNOWN_MESSAGE,
  WRONG_CHANNEL_TYPE,
  invalidFormBody,
  type DiscordError,
  type FieldError,
} from './errors.js';
import { FakeGateway, INTENTS } from './gateway.js';
import { parseBody, readBody, sendError, sendJson, type UploadedPart } from './http.js';
import { checkMessagePayload, checkModal, LIMITS, modalTextInputs } from './rules.js';
import { loadSpecChecker } from './spec.js';
import { snowflake } from './snowflake.js';
import { CHANNEL_TYPE, INTERACTION_TYPE, MESSAGE_FLAGS, PERMISSIONS, World, type FileInput, type Notification, type OptionValue, type PermissionName, type WireAttachment, type WireMessage, type WireUser } from './world.js';

export type { FileInput, OptionValue } from './world.js';
import { waitForRecord } from '../wait.js';

export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface FakeDiscordOptions {
  /** Time to acknowledge an interaction (Discord: 3 s). */
  ackDeadlineMs?: number;
  /** Life of an interaction token (Discord: 15 minutes). */
  tokenLifetimeMs?: number;
  /**
   * Largest file in a request (developers/reference.mdx, "Uploading Files": the limit applies to
   * each file, 10 MiB by default, higher on boosted servers).
   */
  maxUploadBytes?: number;
  /** Largest request with its files (developers/resources/message.mdx, Create Message "Limitations": 25 MiB). */
  maxRequestBytes?: number;
  /** What interactions tell the app as `attachment_size_limit` (default `maxUploadBytes`). */
  attachmentSizeLimit?: number;
  /** The `shards` GET /gateway/bot recommends (default 1). */
  recommendedShards?: number;
  /** Per-route buckets: message edits and message creates, per channel or interaction token (default 5 per 5 s). */
  rateLimits?: { messageEdit?: RateLimit; messageCreate?: RateLimit };
  /** Check every REST request against Discord's OpenAPI description (spec.ts); default on. */
  checkSpec?: boolean;
}

export interface RecordedRequest {
  /** Date.now() when the request arrived. */
  at: number;
  method: string;
  /** The path after /api/v10, e.g. `/webhooks/1/abc/messages/@original`. */
  path: string;
  query: Record<string, string>;
  authorization?: string;
  /** The JSON body, or the parsed `payload_json` of a multipart body. */
  json: any;
  files: UploadedPart[];
  /** What the fake answered. */
  status: number;
  code?: number;
}

export interface Violation {
  at: number;
  rule: string;
  detail: string;
}


/** Which requests an injected failure applies to: `METHOD /path` with `*` for one path segment, a RegExp on the same text, or a function (which also sees the parsed body and files). */
export type RouteMatcher = string | RegExp | ((method: string, path: string, request: RecordedRequest) => boolean);

export interface InjectedFailure {
  status: number;
  code?: number;
  message?: string;
  /** Seconds, for 429s. */
  retryAfter?: number;
}

interface InteractionState {
  id: string;
  token: string;
  kind: 'command' | 'component' | 'modal';
  createdAt: number;
  channelId: string;
  userId: string;
  acknowledged?: { type: number; at: number };
  originalMessageId?: string;
  /** The message a component (or a modal shown from one) is attached to. */
  message?: WireMessage;
  /** The modal this interaction answered with. */
  modal?: any;
}

export interface FakeDiscord {
  /** `http://127.0.0.1:PORT/api`, without the version, as discord.js's `rest.api` and DISCORD_API_URL take it. */
  readonly apiUrl: string;
  /** `http://127.0.0.1:PORT`, the host attachments are served from. */
  readonly baseUrl: string;
  readonly token: string;
  readonly applicationId: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly users: { bot: WireUser; alice: WireUser; bob: WireUser; carol: WireUser; dave: WireUser; otherBot: WireUser };
  readonly roles: { everyone: string; editors: string; admins: string };
  readonly requests: RecordedRequest[];
  readonly violations: Violation[];
  /** Registered commands: `global` and per guild id. */
  readonly commands: Map<string, any[]>;
  /** Whether discord.js finished IDENTIFY on the gateway. */
  readonly gatewayReady: boolean;
  /** Gateway sessions identified now (an unsharded bot token's sessions each receive every event). */
  gatewaySessions(): number;
  /** Every IDENTIFY so far: which shard, with which intents. */
  readonly identified: ReadonlyArray<{ shard: [number, number]; intents: number }>;
  /**
   * Whom a real client would have notified, message by message: what the bot created (never what
   * it edited: assumed, Discord documents notifications for sent messages only), by its content
   * and `allowed_mentions`.
   */
  readonly notifications: Notification[];
  /** Denies the bot permissions in a channel, as a channel's overwrites do (`[]` gives them back). */
  denyBot(channelId: string, permissions: PermissionName[]): void;
  /** Cuts the gateway connections without a close frame and refuses new ones until `restoreGateway`. */
  dropGateway(): void;
  restoreGateway(): void;
  slashCommand(input: { user: WireUser; name?: string; channelId?: string; options?: Record<string, OptionValue> }): InteractionRef;
  contextMenu(input: { user: WireUser; messageId: string; name?: string; channelId?: string }): InteractionRef;
  /** Submits the modal that interaction `shownBy` answered with, filling its text inputs by custom id. */
  submitModal(input: { user: WireUser; shownBy: InteractionRef; fields: Record<string, string> }): InteractionRef;
  /** Presses a button that is on a message (fails when the message has no such button). */
  pressButton(input: { user: WireUser; messageId: string; customId: string }): InteractionRef;
  /** Picks options of a string select that is on a message (fails when it has no such select or option). */
  chooseOption(input: { user: WireUser; messageId: string; customId: string; values: string[] }): InteractionRef;
  /** A component interaction with any custom_id, as a modified client could send (fails when the message has no components at all). */
  craftedPress(input: { user: WireUser; messageId: string; customId: string }): InteractionRef;
  postMessage(input: {
    user: WireUser;
    content: string;
    channelId?: string;
    /** Users the message mentions (`<@id>` in the text is up to the caller). */
    mentions?: WireUser[];
    replyTo?: string;
    /** A reply pings its author unless the person turned that off (default: it pings). */
    replyPings?: boolean;
    attachments?: FileInput[];
  }): string;
  /** The id of the DM channel between a person and the bot (opened on first use); pass it as `channelId` to act in the DM. */
  dmChannel(user: WireUser): string;
  /** A person starts a thread in a channel. */
  createThread(input: { user: WireUser; name: string; channelId?: string }): string;
  message(id: string): WireMessage | undefined;
  /** Messages of a channel or thread, oldest first, ephemeral ones included. */
  messages(channelId: string): WireMessage[];
  channel(id: string): any;
  /** The bytes of an attachment, by the attachment object or its URL. */
  fileBytes(attachment: WireAttachment | string): Buffer;
  /** The next request that matches fails once with this status and code. */
  failNext(matcher: RouteMatcher, failure: InjectedFailure): void;
  waitFor<T>(predicate: () => T | undefined | null | false, options: { describe: string; timeoutMs?: number }): Promise<T>;
  /** What was recorded, for failure messages. */
  describe(): string;
  close(): Promise<void>;
}

export interface InteractionRef {
  id: string;
  token: string;
}

const DEFAULTS = {
  ackDeadlineMs: 3_000,
  tokenLifetimeMs: 15 * 60_000,
  maxUploadBytes: 10 * 1024 * 1024,
  maxRequestBytes: 25 * 1024 * 1024,
  rateLimit: { limit: 5, windowMs: 5_000 },
};

const CALLBACK = { reply: 4, deferredReply: 5, deferredUpdate: 6, update: 7, modal: 9 } as const;
const ALLOWED_CALLBACKS: Record<InteractionState['kind'], number[]> = {
  command: [CALLBACK.reply, CALLBACK.deferredReply, CALLBACK.modal],
  component: [CALLBACK.reply, CALLBACK.deferredReply, CALLBACK.deferredUpdate, CALLBACK.update, CALLBACK.modal],
  modal: [CALLBACK.reply, CALLBACK.deferredReply, CALLBACK.deferredUpdate, CALLBACK.update],
};

class HttpFailure extends Error {
  constructor(
    readonly error: DiscordError,
    readonly headers: Record<string, string> = {},
  ) {
    super(error.message);
  }
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

function matches(matcher: RouteMatcher, method: string, path: string, request: RecordedRequest): boolean {
  if (typeof matcher === 'function') return matcher(method, path, request);
  const text = `${method} ${path}`;
  if (matcher instanceof RegExp) return matcher.test(text);
  const pattern = matcher.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+');
  return new RegExp(`^${pattern}$`).test(text);
}

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const config = {
    ackDeadlineMs: options.ackDeadlineMs ?? DEFAULTS.ackDeadlineMs,
    tokenLifetimeMs: options.tokenLifetimeMs ?? DEFAULTS.tokenLifetimeMs,
    maxUploadBytes: options.maxUploadBytes ?? DEFAULTS.maxUploadBytes,
    maxRequestBytes: options.maxRequestBytes ?? DEFAULTS.maxRequestBytes,
    attachmentSizeLimit: options.attachmentSizeLimit ?? options.maxUploadBytes ?? DEFAULTS.maxUploadBytes,
    recommendedShards: options.recommendedShards ?? 1,
    rateLimits: {
      messageEdit: options.rateLimits?.messageEdit ?? DEFAULTS.rateLimit,
      messageCreate: options.rateLimits?.messageCreate ?? DEFAULTS.rateLimit,
    },
  };
  const spec = options.checkSpec === false ? undefined : await loadSpecChecker();
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const world = new World(baseUrl);
  const token = `${Buffer.from(world.applicationId).toString('base64url')}.${randomBytes(4).toString('base64url')}.${randomBytes(24).toString('base64url')}`;
  const requests: RecordedRequest[] = [];
  const violations: Violation[] = [];
  const interactions = new Map<string, InteractionState>();
  const commands = new Map<string, any[]>();
  const failures: Array<{ matcher: RouteMatcher; failure: InjectedFailure }> = [];
  const buckets = new Map<string, { count: number; resetAt: number }>();
  const deleted = new Set<string>();
  const notifications: Notification[] = [];
  /** Bytes of the request being answered (set before its route runs, which is synchronous). */
  let requestBytes = 0;

  const violate = (rule: string, detail: string) => violations.push({ at: Date.now(), rule, detail });
  const gateway = new FakeGateway(http, world, token, { violation: violate, received: () => {} });

  // ---- helpers for the routes ----------------------------------------------------------------

  function fail(error: DiscordError, rule?: string, detail?: string): never {
    if (rule) violate(rule, detail ?? error.message);
    throw new HttpFailure(error);
  }

  function checkPayload(body: any, files: UploadedPart[], kept: WireAttachment[], route: string): void {
    const fieldErrors: FieldError[] = checkMessagePayload(
      body ?? {},
      files.map((file) => file.index),
      kept.map((attachment) => attachment.id),
    );
    if (fieldErrors.length > 0) fail(invalidFormBody(fieldErrors), 'invalid-form-body', `${route}: ${fieldErrors.map((e) => `${e.path} ${e.code}`).join(', ')}`);
  }

  /** Discord's fixed-window buckets, with the headers discord.js's REST queue schedules by. */
  function rateLimit(name: 'messageEdit' | 'messageCreate', key: string): Record<string, string> {
    const { limit, windowMs } = config.rateLimits[name];
    const now = Date.now();
    let bucket = buckets.get(`${name}:${key}`);
    if (!bucket || bucket.resetAt <= now) {
      bucket = { count: 0, resetAt: now + windowMs };
      buckets.set(`${name}:${key}`, bucket);
    }
    const resetAfter = (bucket.resetAt - now) / 1000;
    const headers = {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-reset': String(bucket.resetAt / 1000),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-bucket': `${name}-${randomBucketHash(name)}`,
    };
    if (bucket.count >= limit) {
      violate('rate-limited', `${name} bucket ${key}: more than ${limit} requests in ${windowMs} ms`);
      throw new HttpFailure(
        { status: 429, code: 0, message: 'You are being rate limited.' },
        { ...headers, 'x-ratelimit-remaining': '0', 'retry-after': String(Math.ceil(resetAfter)), 'x-ratelimit-scope': 'user' },
      );
    }
    bucket.count += 1;
    return { ...headers, 'x-ratelimit-remaining': String(limit - bucket.count) };
  }

  /**
   * Each file within the per-file limit (developers/reference.mdx, "Uploading Files"), the whole
   * request within 25 MiB (resources/message.mdx, Create Message "Limitations"); over either,
   * 413 with code 40005 (topics/opcodes-and-status-codes.mdx).
   */
  function uploadLimit(files: UploadedPart[], route: string, requestBytes: number): void {
    for (const file of files) {
      if (file.data.length > config.maxUploadBytes) fail(ENTITY_TOO_LARGE, 'upload-too-large', `${route}: ${file.name} is ${file.data.length} bytes, limit per file ${config.maxUploadBytes}`);
    }
    if (requestBytes > config.maxRequestBytes) fail(ENTITY_TOO_LARGE, 'request-too-large', `${route}: a request of ${requestBytes} bytes, limit ${config.maxRequestBytes}`);
  }

  /**
   * What the bot may do in a channel (world.botPermissionsIn): without VIEW_CHANNEL a channel route
   * answers 403 50001 Missing Access, without another permission it needs 403 50013
   * (topics/opcodes-and-status-codes.mdx; what needs what: topics/permissions.mdx, and Create
   * Message's "Limitations" for sending).
   */
  function requireAccess(channelId: string, route: string, needs: PermissionName[] = []): void {
    const has = world.botPermissionsIn(channelId);
    if (!(has & PERMISSIONS.viewChannel)) fail(MISSING_ACCESS, 'missing-access', `${route}: the bot cannot see channel ${channelId}`);
    const missing = needs.filter((name) => !(has & PERMISSIONS[name]));
    if (missing.length > 0) fail(MISSING_PERMISSIONS, 'missing-permissions', `${route}: the bot lacks ${missing.join(', ')} in channel ${channelId}`);
  }

  /** Sending in a channel needs SEND_MESSAGES, in a thread SEND_MESSAGES_IN_THREADS (topics/threads.mdx, "Permissions"); files need ATTACH_FILES. */
  const sendNeeds = (channelId: string, files: UploadedPart[]): PermissionName[] => [
    world.channels.get(channelId)?.type === CHANNEL_TYPE.publicThread ? 'sendMessagesInThreads' : 'sendMessages',
    ...(files.length > 0 ? (['attachFiles'] as const) : []),
  ];

  /**
   * Whom a real client notifies of a new message (resources/message.mdx, "Allowed Mentions
   * Object"): `<@id>` when `parse` has "users" or `users` lists it; `<@&id>` when `parse` has
   * "roles" or `roles` lists it, and the bot may mention it (MENTION_EVERYONE; the fake's roles
   * are not mentionable); `@everyone`/`@here` when `parse` has "everyone" and the bot has
   * MENTION_EVERYONE; a reply's author when `replied_user`. Without `allowed_mentions`, a bot's
   * message parses all three and a webhook's or interaction's only users ("Default Settings for
   * Allowed Mentions"); a reply without it pings its author (assumed: the clients' default). A
   * mention with a zero-width space inside it is text, not a mention (assumed).
   */
  function notify(message: WireMessage, body: any, via: 'bot' | 'webhook'): void {
    const allowed = body?.allowed_mentions;
    const parse: string[] = allowed ? (Array.isArray(allowed.parse) ? allowed.parse : []) : via === 'bot' ? ['users', 'roles', 'everyone'] : ['users'];
    const content = message.content ?? '';
    const canEveryone = Boolean(world.botPermissionsIn(message.channel_id) & PERMISSIONS.mentionEveryone);
    const mentioned = [...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1]);
    const users = new Set(mentioned.filter((id) => parse.includes('users') || (allowed?.users ?? []).includes(id)));
    const roles = [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]).filter((id) => (parse.includes('roles') || (allowed?.roles ?? []).includes(id)) && canEveryone);
    const everyone = /@(everyone|here)/.test(content) && parse.includes('everyone') && canEveryone;
    const reference = message.referenced_message;
    if (reference && reference.channel_id === message.channel_id && (allowed ? allowed.replied_user === true : true)) users.add(reference.author.id);
    users.delete(world.people.bot.id);
    if (users.size > 0 || roles.length > 0 || everyone) notifications.push({ messageId: message.id, channelId: message.channel_id, users: [...users], roles: [...new Set(roles)], everyone });
  }

  /** An embed's `attachment://name` must name a file of the message, new or kept (assumed for kept ones: the reference shows new uploads only). */
  function checkEmbedImages(message: WireMessage, route: string): void {
    for (const embed of message.embeds) {
      const url: unknown = embed?.image?.url;
      if (typeof url !== 'string' || !url.startsWith('attachment://')) continue;
      const name = url.slice('attachment://'.length);
      if (!message.attachments.some((attachment) => attachment.filename === name)) violate('embed-without-attachment', `${route}: an embed shows ${url}, which message ${message.id} has no attachment named`);
    }
  }

  function newAttachments(body: any, files: UploadedPart[], channelId: string): WireAttachment[] {
    const described = new Map<string, any>((Array.isArray(body?.attachments) ? body.attachments : []).map((a: any) => [String(a.id), a]));
    return files.map((file) => world.storeFile(channelId, described.get(String(file.index))?.filename ?? file.name, file.data, file.contentType, described.get(String(file.index))?.description));
  }

  function isEmpty(message: Pick<WireMessage, 'content' | 'embeds' | 'attachments' | 'components'>): boolean {
    return !message.content && message.embeds.length === 0 && message.attachments.length === 0 && message.components.length === 0;
  }

  function createMessage(channelId: string, body: any, files: UploadedPart[], extra: Partial<WireMessage> = {}): WireMessage {
    const draft = {
      content: typeof body?.content === 'string' ? body.content : '',
      embeds: body?.embeds ?? [],
      components: body?.components ?? [],
      attachments: files.length > 0 ? [{} as WireAttachment] : [],
    };
    if (isEmpty(draft) && !(extra.flags && extra.flags & MESSAGE_FLAGS.loading)) fail(EMPTY_MESSAGE, 'empty-message', `a message in ${channelId} with nothing in it`);
    let reference = body?.message_reference?.message_id ? world.messages.get(String(body.message_reference.message_id)) : undefined;
    if (reference && reference.channel_id !== channelId) {
      // A reply answers a message of its own channel (assumed: the reference does not say); with fail_if_not_exists false it goes out as a plain message.
      if (body.message_reference.fail_if_not_exists !== false) {
        fail(invalidFormBody([{ path: 'message_reference', code: 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', message: 'Unknown message' }]), 'reply-elsewhere', `a reply in ${channelId} to message ${reference.id} of channel ${reference.channel_id}`);
      }
      reference = undefined;
    }
    const message = world.newMessage({
      channel_id: channelId,
      author: world.people.bot,
      content: draft.content,
      embeds: draft.embeds,
      components: draft.components,
      attachments: newAttachments(body, files, channelId),
      flags: (body?.flags ?? 0) & MESSAGE_FLAGS.ephemeral,
      allowed_mentions: body?.allowed_mentions,
      ...(reference ? { type: 19, message_reference: { type: 0, message_id: reference.id, channel_id: reference.channel_id, ...(reference.guild_id ? { guild_id: reference.guild_id } : {}) }, referenced_message: reference } : {}),
      ...extra,
    });
    checkEmbedImages(message, `a message in ${channelId}`);
    if (!(message.flags & MESSAGE_FLAGS.ephemeral)) {
      if (!(message.flags & MESSAGE_FLAGS.loading)) notify(message, body, extra.webhook_id ? 'webhook' : 'bot');
      gateway.dispatchMessage('MESSAGE_CREATE', message);
    }
    return message;
  }

  /** An edit: fields present replace; `attachments` lists what stays (existing ids) and what is new (file indices). */
  function editMessage(message: WireMessage, body: any, files: UploadedPart[]): WireMessage {
    const next = { ...message };
    if (body && 'content' in body) next.content = body.content ?? '';
    if (body && 'embeds' in body) next.embeds = body.embeds ?? [];
    if (body && 'components' in body) next.components = body.components ?? [];
    if (Array.isArray(body?.attachments)) {
      const listed = new Set(body.attachments.map((a: any) => String(a.id)));
      next.attachments = [
        ...message.attachments.filter((attachment) => listed.has(attachment.id)),
        ...newAttachments(body, files.filter((file) => listed.has(String(file.index))), message.channel_id),
      ];
    } else if (files.length > 0) {
      next.attachments = [...message.attachments, ...newAttachments(body, files, message.channel_id)];
    }
    if (body && 'allowed_mentions' in body) next.allowed_mentions = body.allowed_mentions;
    if (isEmpty(next)) fail(EMPTY_MESSAGE, 'empty-message', `an edit would leave message ${message.id} empty`);
    const wasLoading = Boolean(message.flags & MESSAGE_FLAGS.loading);
    next.flags = message.flags & ~MESSAGE_FLAGS.loading;
    next.edited_timestamp = new Date().toISOString();
    Object.assign(message, next);
    checkEmbedImages(message, `an edit of message ${message.id}`);
    // A deferred response shows first when it is filled in, as a sent message does (assumed); other edits notify nobody.
    if (wasLoading && !(message.flags & MESSAGE_FLAGS.ephemeral)) notify(message, body, 'webhook');
    if (!(message.flags & MESSAGE_FLAGS.ephemeral)) gateway.dispatchMessage('MESSAGE_UPDATE', message);
    return message;
  }

  // ---- interactions ------------------------------------------------------------------------------

  function interactionCallback(id: string, interactionToken: string, body: any, files: UploadedPart[], withResponse: boolean): Reply {
    const interaction = interactions.get(id);
    if (!interaction || interaction.token !== interactionToken) fail(UNKNOWN_INTERACTION, 'unknown-interaction', `callback for unknown interaction ${id}`);
    const age = Date.now() - interaction.createdAt;
    if (interaction.acknowledged) {
      fail(ALREADY_ACKNOWLEDGED, 'double-acknowledgement', `interaction ${id} acknowledged with type ${interaction.acknowledged.type}, then again with type ${body?.type}`);
    }
    if (age > config.ackDeadlineMs) fail(UNKNOWN_INTERACTION, 'late-acknowledgement', `interaction ${id} acknowledged after ${age} ms (limit ${config.ackDeadlineMs} ms)`);
    const type = body?.type;
    if (!ALLOWED_CALLBACKS[interaction.kind].includes(type)) {
      fail(invalidFormBody([{ path: 'type', code: 'INTERACTION_RESPONSE_TYPE_INVALID', message: `Response type ${type} is not valid for this interaction.` }]), 'invalid-form-body', `callback type ${type} for a ${interaction.kind} interaction`);
    }
    if ((type === CALLBACK.deferredUpdate || type === CALLBACK.update) && !interaction.message) {
      fail(invalidFormBody([{ path: 'type', code: 'INTERACTION_RESPONSE_TYPE_INVALID', message: 'This interaction has no message to update.' }]), 'invalid-form-body', `update callback for interaction ${id} without a message`);
    }
    const data = body?.data;
    let message: WireMessage | undefined;
    const metadata = { id, type: interaction.kind === 'command' ? INTERACTION_TYPE.command : interaction.kind === 'modal' ? INTERACTION_TYPE.modal : INTERACTION_TYPE.component, user: world.user(interaction.userId), authorizing_integration_owners: { 0: world.channels.get(interaction.channelId)?.type === CHANNEL_TYPE.dm ? '0' : world.guildId } };
    const asApp = { webhook_id: world.applicationId, application_id: world.applicationId, interaction_metadata: metadata };
    switch (type) {
      case CALLBACK.reply:
        uploadLimit(files, 'interaction callback', requestBytes);
        checkPayload(data, files, [], 'interaction callback');
        message = createMessage(interaction.channelId, data, files, { ...asApp, type: 20, flags: (data?.flags ?? 0) & MESSAGE_FLAGS.ephemeral });
        interaction.originalMessageId = message.id;
        break;
      case CALLBACK.deferredReply:
        message = createMessage(interaction.channelId, {}, [], { ...asApp, type: 20, flags: MESSAGE_FLAGS.loading | ((data?.flags ?? 0) & MESSAGE_FLAGS.ephemeral) });
        interaction.originalMessageId = message.id;
        break;
      case CALLBACK.deferredUpdate:
        interaction.originalMessageId = interaction.message!.id;
        break;
      case CALLBACK.update: {
        uploadLimit(files, 'interaction callback', requestBytes);
        const target = world.messages.get(interaction.message!.id)!;
        checkPayload(data, files, target.attachments, 'interaction callback');
        message = editMessage(target, data, files);
        interaction.originalMessageId = message.id;
        break;
      }
      case CALLBACK.modal: {
        const fieldErrors = checkModal(data);
        if (fieldErrors.length > 0) fail(invalidFormBody(fieldErrors), 'invalid-form-body', `modal: ${fieldErrors.map((e) => `${e.path} ${e.code}`).join(', ')}`);
        interaction.modal = data;
        break;
      }
    }
    interaction.acknowledged = { type, at: Date.now() };
    if (!withResponse) return { status: 204 };
    return {
      status: 200,
      body: {
        interaction: {
          id,
          type: metadata.type,
          activity_instance_id: null,
          response_message_id: message?.id ?? null,
          response_message_loading: message ? Boolean(message.flags & MESSAGE_FLAGS.loading) : null,
          response_message_ephemeral: message ? Boolean(message.flags & MESSAGE_FLAGS.ephemeral) : null,
        },
        // Discord: the message itself only for CHANNEL_MESSAGE_WITH_SOURCE and UPDATE_MESSAGE; a deferral gives its id above.
        resource: { type, ...(message && (type === CALLBACK.reply || type === CALLBACK.update) ? { message } : {}) },
      },
    };
  }

  function interactionByToken(appId: string, webhookToken: string): InteractionState {
    if (appId !== world.applicationId) fail({ status: 404, code: 10015, message: 'Unknown Webhook' }, 'unknown-webhook', `webhook ${appId} is not the application`);
    const interaction = [...interactions.values()].find((candidate) => candidate.token === webhookToken);
    if (!interaction) fail(INVALID_WEBHOOK_TOKEN, 'invalid-webhook-token', 'an interaction token the fake never issued');
    const age = Date.now() - interaction.createdAt;
    if (age > config.tokenLifetimeMs) fail(INVALID_WEBHOOK_TOKEN, 'expired-token', `interaction token used ${age} ms after the interaction (lifetime ${config.tokenLifetimeMs} ms)`);
    if (!interaction.acknowledged) fail({ status: 404, code: 10015, message: 'Unknown Webhook' }, 'webhook-before-ack', `webhook call for interaction ${interaction.id} before it was acknowledged`);
    return interaction;
  }

  function webhookMessage(interaction: InteractionState, messageId: string): WireMessage {
    const id = messageId === '@original' ? interaction.originalMessageId : messageId;
    const message = id ? world.messages.get(id) : undefined;
    if (!message || deleted.has(message.id)) fail(UNKNOWN_MESSAGE, 'unknown-message', `webhook message ${messageId} of interaction ${interaction.id}`);
    return message;
  }

  function webhookRoute(method: string, parts: string[], body: any, files: UploadedPart[]): Reply {
    const [, appId, webhookToken, messages, messageId] = parts;
    const interaction = interactionByToken(appId, webhookToken);
    if (method === 'POST' && messages === undefined) {
      uploadLimit(files, 'follow-up', requestBytes);
      const original = interaction.originalMessageId ? world.messages.get(interaction.originalMessageId) : undefined;
      // Discord: the first follow-up after a deferred reply replaces the loading message.
      if (interaction.acknowledged?.type === CALLBACK.deferredReply && original && original.flags & MESSAGE_FLAGS.loading && !deleted.has(original.id)) {
        checkPayload(body, files, original.attachments, 'follow-up');
        return { status: 200, body: editMessage(original, body, files) };
      }
      checkPayload(body, files, [], 'follow-up');
      const message = createMessage(interaction.channelId, body, files, {
        webhook_id: world.applicationId,
        application_id: world.applicationId,
        flags: (body?.flags ?? 0) & MESSAGE_FLAGS.ephemeral,
      });
      return { status: 200, body: message };
    }
    if (messages !== 'messages' || !messageId) fail(NOT_FOUND);
    const message = webhookMessage(interaction, messageId);
    if (method === 'GET') return { status: 200, body: message };
    if (method === 'DELETE') {
      deleted.add(message.id);
      if (!(message.flags & MESSAGE_FLAGS.ephemeral)) gateway.dispatch('MESSAGE_DELETE', { id: message.id, channel_id: message.channel_id, ...(message.guild_id ? { guild_id: message.guild_id } : {}) });
      return { status: 204 };
    }
    if (method === 'PATCH') {
      const headers = rateLimit('messageEdit', webhookToken);
      uploadLimit(files, 'webhook message edit', requestBytes);
      checkPayload(body, files, message.attachments, 'webhook message edit');
      return { status: 200, body: editMessage(message, body, files), headers };
    }
    fail({ status: 405, code: 0, message: '405: Method Not Allowed' });
  }

  // ---- bot routes --------------------------------------------------------------------------------

  /**
   * A message as the bot may read it: without the MESSAGE_CONTENT intent its content, embeds,
   * attachments and components are empty, unless the bot wrote it, it mentions the bot or it is
   * in a DM (developers/events/gateway.mdx, "Message Content Intent"; the exception for a message
   * command's target applies to the interaction's payload, not to a later fetch).
   */
  function withoutContent(message: WireMessage): WireMessage {
    const bot = world.people.bot.id;
    const readable = gateway.intents & INTENTS.messageContent || message.guild_id === undefined || message.author.id === bot || message.mentions.some((user) => user.id === bot);
    return readable ? message : { ...message, content: '', embeds: [], attachments: [], components: [] };
  }

  function channelMessage(channelId: string, messageId: string): WireMessage {
    const message = world.messages.get(messageId);
    if (!message || message.channel_id !== channelId || deleted.has(messageId) || message.flags & MESSAGE_FLAGS.ephemeral) {
      fail(UNKNOWN_MESSAGE, 'unknown-message', `message ${messageId} in channel ${channelId}`);
    }
    return message;
  }

  function checkThreadName(name: unknown): string {
    if (typeof name !== 'string' || name.length === 0 || name.length > LIMITS.threadName) {
      fail(invalidFormBody([{ path: 'name', code: 'BASE_TYPE_BAD_LENGTH', message: `Must be between 1 and ${LIMITS.threadName} in length.` }]), 'invalid-form-body', `thread name ${JSON.stringify(name)}`);
    }
    return name;
  }

  function startThread(parentId: string, name: string, ownerId: string, id?: string): any {
    if (world.channels.get(parentId)?.type === CHANNEL_TYPE.dm) fail(WRONG_CHANNEL_TYPE, 'thread-in-dm', `thread in DM channel ${parentId}`);
    const thread = world.newThread(parentId, name, ownerId, id);
    gateway.dispatch('THREAD_CREATE', world.threadCreatePayload(thread));
    return thread;
  }

  function checkCommands(list: any): void {
    const fieldErrors: FieldError[] = [];
    if (!Array.isArray(list)) fail(invalidFormBody([{ path: '_root', code: 'BASE_TYPE_BAD_ARRAY', message: 'Must be an array.' }]), 'invalid-form-body', 'commands not an array');
    list.forEach((command: any, i: number) => {
      const type = command?.type ?? 1;
      if (![1, 2, 3].includes(type)) fieldErrors.push({ path: `${i}.type`, code: 'BASE_TYPE_CHOICES', message: 'Value must be one of {1, 2, 3}.' });
      if (type === 1) {
        if (typeof command.name !== 'string' || !/^[-_\p{Ll}\p{N}]{1,32}$/u.test(command.name)) fieldErrors.push({ path: `${i}.name`, code: 'APPLICATION_COMMAND_INVALID_NAME', message: 'Command name is invalid' });
        if (typeof command.description !== 'string' || command.description.length < 1 || command.description.length > 100) fieldErrors.push({ path: `${i}.description`, code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' });
        let optionalSeen = false;
        (command.options ?? []).forEach((option: any, o: number) => {
          if (!option.required) optionalSeen = true;
          else if (optionalSeen) fieldErrors.push({ path: `${i}.options.${o}.required`, code: 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', message: 'Required options must be placed before non-required options' });
          if (typeof option.description !== 'string' || option.description.length < 1 || option.description.length > 100) fieldErrors.push({ path: `${i}.options.${o}.description`, code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' });
        });
      } else {
        if (typeof command.name !== 'string' || command.name.length < 1 || command.name.length > 32) fieldErrors.push({ path: `${i}.name`, code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 32 in length.' });
        if (command.description) fieldErrors.push({ path: `${i}.description`, code: 'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION', message: 'Context menu commands cannot have description' });
      }
    });
    if (fieldErrors.length > 0) fail(invalidFormBody(fieldErrors), 'invalid-form-body', `commands: ${fieldErrors.map((e) => `${e.path} ${e.code}`).join(', ')}`);
  }

  function botRoute(method: string, parts: string[], body: any, files: UploadedPart[]): Reply {
    const route = `${method} /${parts.map((part, i) => (i % 2 === 1 && /^\d+$/.test(part) ? ':id' : part)).join('/')}`;
    switch (route) {
      case 'GET /gateway/bot':
        return { status: 200, body: { url: `ws://127.0.0.1:${new URL(baseUrl).port}/gateway`, shards: config.recommendedShards, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 } } };
      case 'GET /users/@me':
        return { status: 200, body: { ...world.people.bot, verified: true, mfa_enabled: false, flags: 0, locale: 'en-US' } };
      case 'POST /users/@me/channels': {
        const recipient = String(body?.recipient_id ?? '');
        if (!Object.values(world.people).some((person) => person.id === recipient)) fail(invalidFormBody([{ path: 'recipient_id', code: 'NUMBER_TYPE_COERCE', message: `Value "${recipient}" is not snowflake.` }]), 'invalid-form-body', `DM with unknown user ${recipient}`);
        return { status: 200, body: world.dmChannel(recipient) };
      }
      case 'GET /applications/@me':
        return { status: 200, body: { id: world.applicationId, name: 'gas', icon: null, description: '', bot_public: false, bot_require_code_grant: false, flags: 0, bot: world.people.bot, verify_key: 'fake', team: null } };
      case 'PUT /applications/:id/commands':
      case 'PUT /applications/:id/guilds/:id/commands': {
        if (parts[1] !== world.applicationId) fail({ status: 403, code: 50001, message: 'Missing Access' }, 'wrong-application', `commands for application ${parts[1]}`);
        checkCommands(body);
        const registered = (body as any[]).map((command) => ({ ...command, type: command.type ?? 1, id: snowflake(), application_id: world.applicationId, version: snowflake(), ...(parts[3] ? { guild_id: parts[3] } : {}) }));
        commands.set(parts[3] ?? 'global', registered);
        return { status: 200, body: registered };
      }
      case 'POST /channels/:id/messages': {
        const channelId = parts[1];
        if (!world.channels.has(channelId)) fail(UNKNOWN_CHANNEL, 'unknown-channel', `message to channel ${channelId}`);
        requireAccess(channelId, 'channel message', sendNeeds(channelId, files));
        const headers = rateLimit('messageCreate', channelId);
        uploadLimit(files, 'channel message', requestBytes);
        checkPayload(body, files, [], 'channel message');
        return { status: 200, body: createMessage(channelId, body, files), headers };
      }
      case 'GET /channels/:id/messages/:id': {
        requireAccess(parts[1], 'get message', ['readMessageHistory']);
        return { status: 200, body: withoutContent(channelMessage(parts[1], parts[3])) };
      }
      case 'PATCH /channels/:id/messages/:id': {
        requireAccess(parts[1], 'channel message edit', files.length > 0 ? ['attachFiles'] : []);
        const message = channelMessage(parts[1], parts[3]);
        if (message.author.id !== world.people.bot.id) fail(CANNOT_EDIT_OTHERS, 'edit-others-message', `edit of message ${message.id} by ${message.author.username}`);
        const headers = rateLimit('messageEdit', parts[1]);
        uploadLimit(files, 'channel message edit', requestBytes);
        checkPayload(body, files, message.attachments, 'channel message edit');
        return { status: 200, body: editMessage(message, body, files), headers };
      }
      case 'POST /channels/:id/messages/:id/threads': {
        requireAccess(parts[1], 'start thread', ['createPublicThreads']);
        const message = channelMessage(parts[1], parts[3]);
        if (world.channels.get(parts[1])?.type === CHANNEL_TYPE.publicThread) fail(invalidFormBody([{ path: '_root', code: 'THREAD_IN_THREAD', message: 'Cannot start a thread in a thread.' }]), 'thread-in-thread', `thread from message ${message.id} inside thread ${parts[1]}`);
        if (world.channels.has(message.id)) fail(THREAD_EXISTS, 'thread-exists', `second thread from message ${message.id}`);
        const thread = startThread(parts[1], checkThreadName(body?.name), world.people.bot.id, message.id);
        message.thread = thread;
        return { status: 201, body: thread };
      }
      case 'POST /channels/:id/threads': {
        if (!world.channels.has(parts[1])) fail(UNKNOWN_CHANNEL, 'unknown-channel', `thread in channel ${parts[1]}`);
        return { status: 201, body: startThread(parts[1], checkThreadName(body?.name), world.people.bot.id) };
      }
      default:
        fail(NOT_FOUND, 'unknown-route', route);
    }
  }

  // ---- the HTTP server ------------------------------------------------------------------------

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', baseUrl);
    const method = request.method ?? 'GET';
    if (method === 'GET' && url.pathname.startsWith('/attachments/')) {
      const [, , , id] = url.pathname.split('/');
      const file = world.files.get(id);
      if (!file) return sendError(response, NOT_FOUND);
      response.writeHead(200, { 'content-type': file.attachment.content_type ?? 'application/octet-stream', 'content-length': file.data.length }).end(file.data);
      return;
    }
    const raw = await readBody(request);
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10(?=\/)/, '');
    const record: RecordedRequest = {
      at: Date.now(),
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      authorization: request.headers.authorization,
      json: undefined,
      files: [],
      status: 0,
    };
    requests.push(record);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      if (body && typeof body === 'object' && 'code' in body && status >= 400) record.code = (body as { code: number }).code;
      sendJson(response, status, body, headers);
    };
    try {
      if (!url.pathname.startsWith('/api/v10/')) fail(NOT_FOUND, 'wrong-api-version', `${method} ${url.pathname} is not under /api/v10`);
      let parsed;
      try {
        parsed = await parseBody(raw, request.headers['content-type']);
      } catch {
        fail({ status: 400, code: 50109, message: 'The request body contains invalid JSON.' }, 'invalid-json', `${method} ${path}`);
      }
      record.json = parsed.json;
      record.files = parsed.files;
      requestBytes = parsed.size;
      // Every request, answered or not, must be one Discord's own API description allows.
      const described = spec?.check(method, path, parsed.json);
      if (described && described.problems.length > 0) violate('spec', described.problems.join('; '));
      const injected = failures.findIndex(({ matcher }) => matches(matcher, method, path, record));
      if (injected >= 0) {
        const [{ failure }] = failures.splice(injected, 1);
        const headers: Record<string, string> = failure.status === 429 ? { 'retry-after': String(failure.retryAfter ?? 1), 'x-ratelimit-scope': 'user' } : {};
        const body = failure.status === 429 ? { message: 'You are being rate limited.', retry_after: failure.retryAfter ?? 1, global: false } : { message: failure.message ?? 'Injected failure', code: failure.code ?? 0 };
        return answer(failure.status, body, headers);
      }
      const parts = path.split('/').slice(1);
      let reply: Reply;
      if (parts[0] === 'interactions' && parts[3] === 'callback' && method === 'POST') {
        reply = interactionCallback(parts[1], parts[2], parsed.json, parsed.files, url.searchParams.get('with_response') === 'true');
      } else if (parts[0] === 'webhooks') {
        reply = webhookRoute(method, parts, parsed.json, parsed.files);
      } else {
        if (request.headers.authorization !== `Bot ${token}`) fail(UNAUTHORIZED, 'unauthorized', `${method} ${path} with ${request.headers.authorization ? 'a wrong' : 'no'} Authorization header`);
        reply = botRoute(method, parts, parsed.json, parsed.files);
      }
      answer(reply.status, reply.body, reply.headers);
    } catch (error) {
      if (error instanceof HttpFailure) {
        const body = error.error.status === 429 ? { message: error.error.message, retry_after: Number(error.headers['retry-after'] ?? 1), global: false } : { message: error.error.message, code: error.error.code, ...(error.error.errors ? { errors: error.error.errors } : {}) };
        return answer(error.error.status, body, error.headers);
      }
      violate('fake-crashed', String((error as Error)?.stack ?? error));
      answer(500, { message: '500: Internal Server Error', code: 0 });
    }
  }

  http.on('request', (request, response) => void handle(request, response));

  // ---- people's actions --------------------------------------------------------------------------

  function dispatchInteraction(kind: InteractionState['kind'], data: any, userId: string, channelId: string, message?: WireMessage): InteractionRef {
    if (!world.channels.has(channelId)) throw new Error(`the fake Discord has no channel ${channelId}`);
    const id = snowflake();
    const interactionToken = `aW50ZXJhY3Rpb246${id}${randomBytes(48).toString('base64url')}`;
    interactions.set(id, { id, token: interactionToken, kind, createdAt: Date.now(), channelId, userId, ...(message ? { message } : {}) });
    gateway.dispatch('INTERACTION_CREATE', world.interaction({ id, token: interactionToken, kind, data, userId, channelId, ...(message ? { message } : {}), attachmentSizeLimit: config.attachmentSizeLimit }));
    return { id, token: interactionToken };
  }

  function commandId(name: string, type: number): string {
    const all = [...commands.values()].flat();
    return all.find((command) => command.name === name && command.type === type)?.id ?? snowflake();
  }

  function findComponent(message: WireMessage, customId: string, type: number): any {
    for (const row of message.components as any[]) for (const component of row.components ?? []) if (component.custom_id === customId && component.type === type && !component.disabled) return component;
    return undefined;
  }

  const fake: FakeDiscord = {
    apiUrl: `${baseUrl}/api`,
    baseUrl,
    token,
    applicationId: world.applicationId,
    guildId: world.guildId,
    channelId: world.channelId,
    users: world.people,
    roles: world.roles,
    requests,
    violations,
    commands,
    get gatewayReady() {
      return gateway.ready;
    },
    gatewaySessions: () => gateway.sessions.filter((session) => session.identified).length,
    identified: gateway.identified,
    notifications,

    denyBot(channelId, permissions) {
      world.botDenied.set(channelId, permissions.reduce((all, name) => all | PERMISSIONS[name], 0n));
    },

    dropGateway: () => gateway.drop(),
    restoreGateway: () => gateway.restore(),

    slashCommand({ user, name = 'edit', channelId = world.channelId, options = {} }) {
      return dispatchInteraction('command', world.commandData(name, commandId(name, 1), channelId, options), user.id, channelId);
    },

    contextMenu({ user, messageId, name = 'Edit image', channelId }) {
      const target = world.messages.get(messageId);
      if (!target) throw new Error(`the fake Discord has no message ${messageId}`);
      return dispatchInteraction('command', { id: commandId(name, 3), name, type: 3, target_id: messageId, resolved: { messages: { [messageId]: target } } }, user.id, channelId ?? target.channel_id);
    },

    submitModal({ user, shownBy, fields }) {
      const source = interactions.get(shownBy.id);
      if (!source?.modal) throw new Error(`interaction ${shownBy.id} showed no modal; requests so far:\n${fake.describe()}`);
      const fill = (input: any) => ({ type: 4, id: input.id, custom_id: input.custom_id, value: fields[input.custom_id] ?? '' });
      const components = (source.modal.components as any[]).map((component) =>
        component.type === 18 ? { type: 18, id: component.id, component: fill(component.component) } : { type: 1, id: component.id, components: (component.components as any[]).map(fill) },
      );
      const unknown = Object.keys(fields).filter((customId) => !modalTextInputs(source.modal).some((input) => input.custom_id === customId));
      if (unknown.length > 0) throw new Error(`the modal has no text input ${unknown.join(', ')}`);
      return dispatchInteraction('modal', { custom_id: source.modal.custom_id, components }, user.id, source.channelId, source.message);
    },

    pressButton({ user, messageId, customId }) {
      const message = world.messages.get(messageId);
      if (!message || !findComponent(message, customId, 2)) throw new Error(`message ${messageId} has no enabled button ${customId}; requests so far:\n${fake.describe()}`);
      return dispatchInteraction('component', { custom_id: customId, component_type: 2 }, user.id, message.channel_id, message);
    },

    // A string select's interaction carries the chosen values (developers/components/reference.mdx, "String Select Interaction Response Structure").
    chooseOption({ user, messageId, customId, values }) {
      const message = world.messages.get(messageId);
      const select = message && findComponent(message, customId, 3);
      if (!select) throw new Error(`message ${messageId} has no string select ${customId}; requests so far:\n${fake.describe()}`);
      const unknown = values.filter((value) => !(select.options as any[]).some((option) => option.value === value));
      if (unknown.length > 0 || values.length < (select.min_values ?? 1) || values.length > (select.max_values ?? 1)) throw new Error(`select ${customId} does not offer ${JSON.stringify(values)}`);
      return dispatchInteraction('component', { custom_id: customId, component_type: 3, values }, user.id, message.channel_id, message);
    },

    craftedPress({ user, messageId, customId }) {
      const message = world.messages.get(messageId);
      if (!message || message.components.length === 0) throw new Error(`message ${messageId} has no components`);
      return dispatchInteraction('component', { custom_id: customId, component_type: 2 }, user.id, message.channel_id, message);
    },

    postMessage({ user, content, channelId = world.channelId, mentions = [], replyTo, replyPings = true, attachments = [] }) {
      if (!world.channels.has(channelId)) throw new Error(`the fake Discord has no channel ${channelId}`);
      const reference = replyTo ? world.messages.get(replyTo) : undefined;
      if (replyTo && !reference) throw new Error(`the fake Discord has no message ${replyTo}`);
      const pinged = reference && replyPings && !mentions.some((m) => m.id === reference.author.id);
      const mentioned = [...mentions, ...(pinged ? [reference.author] : [])];
      const message = world.newMessage({
        channel_id: channelId,
        author: user,
        content,
        mentions: mentioned,
        attachments: attachments.map((file) => world.storeFile(channelId, file.name, file.data, file.contentType)),
        ...(reference ? { type: 19, message_reference: { type: 0, message_id: reference.id, channel_id: reference.channel_id, ...(reference.guild_id ? { guild_id: reference.guild_id } : {}) }, referenced_message: reference } : {}),
      });
      gateway.dispatchMessage('MESSAGE_CREATE', message);
      return message.id;
    },

    dmChannel: (user) => world.dmChannel(user.id).id,

    createThread({ user, name, channelId = world.channelId }) {
      return startThread(channelId, name, user.id).id;
    },

    message: (id) => (deleted.has(id) ? undefined : world.messages.get(id)),
    messages: (channelId) => [...world.messages.values()].filter((message) => message.channel_id === channelId && !deleted.has(message.id)),
    channel: (id) => world.channels.get(id),

    fileBytes(attachment) {
      const url = typeof attachment === 'string' ? attachment : attachment.url;
      const id = new URL(url).pathname.split('/')[3];
      const file = world.files.get(id);
      if (!file) throw new Error(`the fake Discord has no file at ${url}`);
      return file.data;
    },

    failNext(matcher, failure) {
      failures.push({ matcher, failure });
    },

    waitFor(predicate, { describe, timeoutMs = 15_000 }) {
      return waitForRecord(predicate, describe, timeoutMs, () => fake.describe());
    },

    describe() {
      const lines = requests.map((r) => `  +${r.at - requests[0].at}ms ${r.method} ${r.path} → ${r.status}${r.code ? ` (code ${r.code})` : ''}${r.files.length ? ` [${r.files.map((f) => `${f.name} ${f.data.length} B`).join(', ')}]` : ''}`);
      const broken = violations.map((v) => `  ${v.rule}: ${v.detail}`);
      return `requests:\n${lines.join('\n') || '  none'}\nviolations:\n${broken.join('\n') || '  none'}`;
    },

    async close() {
      gateway.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return fake;
}

const bucketHashes = new Map<string, string>();
function randomBucketHash(name: string): string {
  let hash = bucketHashes.get(name);
  if (!hash) bucketHashes.set(name, (hash = randomBytes(8).toString('hex')));
  return hash;
}
