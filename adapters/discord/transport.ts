/**
 * The Discord plug of the chat flow (src/chat/transport.ts) over discord.js: interactions and
 * thread messages in, status messages out. It acknowledges every interaction before anything else
 * (Discord's 3 s), never acknowledges one twice, edits status messages through the interaction's
 * webhook while its token lives and through the bot token after, and leaves 429s to discord.js's
 * REST queue. Who may use the bot, downloads, image fitting, truncation and the shape of what the
 * flow receives are the shared policy's (src/chat); what is said, and when, is the flow's.
 *
 * Direct messages (DISCORD_DMS): Discord has no threads in DMs, so there the DM itself is the edit
 * thread: statuses are posted in it, no thread is started, and a later message in the DM (the
 * content intent is not needed there) continues the latest edit as a thread reply would.
 *
 * Threads: a status posted in a channel is where its conversation thread starts, with the status's
 * id; the thread is started when the first message goes into it (the line that opens it), so a
 * request that fails never leaves an empty thread behind.
 *
 * Images: each status message's attachments are remembered by name and content, so an image it
 * already carries (the masks, edit after edit) is kept by its attachment id instead of uploaded
 * again. Upload limits are per file (the interaction's `attachment_size_limit`, higher on boosted
 * servers) and per request.
 */
import { createHash } from 'node:crypto';
import {
  ChannelType,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  Partials,
  PermissionFlagsBits,
  REST,
  Routes,
  Status,
  type APIMessage,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type Message,
  type MessageContextMenuCommandInteraction,
  type ModalSubmitInteraction,
  type RepliableInteraction,
  type StringSelectMenuInteraction,
  type TextBasedChannel,
} from 'discord.js';
import { AccessPolicy, type AccessFacts } from '../../src/chat/access.js';
import { incomingFile, isImageFile, isPhotoFile, unsupportedImage, unsupportedWords, PHOTO_FORMATS, type FileSource, type RemoteFile } from '../../src/chat/download.js';
import { buttonPress, editRequest, threadMessage, withoutMentions, type ChatEvent, type Said } from '../../src/chat/incoming.js';
import type { PlatformStore } from '../../src/chat/platform.js';
import type { ChatFlowHandlers, ChatImage, ChatMessage, ChatTransport, IncomingFile, StatusRef, UploadLimits } from '../../src/chat/transport.js';
import { fitMessage, type FittedMessage } from '../../src/chat/upload.js';
import { parseSettings } from '../../src/config/section.js';
import { GasError } from '../../src/errors.js';
import { memoryPlatformStore } from '../../src/jobs/platform-store.js';
import { createLogger, type Logger } from '../../src/log.js';
import { EDIT_COMMAND, EDIT_IMAGE_COMMAND, EDIT_MODAL, editImageModal, OPTION } from './commands.js';
import { discordSection, shardOptions, type DiscordConfig, type DiscordConfigInput } from './config.js';
import { attachmentHosts, attachmentSource } from './download.js';
import { discordFormat } from './format.js';
import { attachmentNames, discordPayload, privateReply, replyBody, truncateContent, type DiscordPayload } from './payload.js';

/**
 * A Discord status message. It is stored in Redis with the job, so it holds no credential: the
 * interaction token that may edit it for 15 minutes stays in this process's memory.
 */
export interface DiscordStatusRef extends StatusRef {
  platform: 'discord';
  /** The largest file its messages may carry, as the interaction that asked for it said (`attachment_size_limit`). */
  fileBytes?: number;
}

/** The platform clients, injectable so that a test drives the transport without a network. */
export interface DiscordDeps {
  /** The gateway client; `start` logs it in unless it is ready already, `stop` destroys it. Default: a new one per `start`. */
  client?: Client;
  /** The REST client for the bot's own calls. Default: the injected client's, else a new one. */
  rest?: REST;
  /** Downloads attachments. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Where what must survive a restart is kept (the bot process gives its Redis one through `useStore`). Default: memory. */
  store?: PlatformStore;
}

/** The interaction webhook of a status message, while its token lives. */
interface InteractionWebhook {
  applicationId: string;
  token: string;
  expiresAt: number;
}

/** A person in a channel, as the allow-lists and the flow see them. */
interface Requester {
  facts: AccessFacts;
  isAdmin: boolean;
  /** The channel is itself the edit thread: a thread, or a DM. */
  ownThread: boolean;
}

/** An attachment a status message carries: its id, and the hash of the image it was uploaded from. */
interface Carried {
  id: string;
  hash: string;
}

/** A file as the store keeps it between the "Edit image" menu and its modal. */
type StoredFile = RemoteFile;

const MAX_THREAD_NAME = 100;
const READY_TIMEOUT_MS = 30_000;
/** 413 retries, each with images at most this share of the previous attempt's bytes. */
const UPLOAD_RETRIES = 4;
const UPLOAD_SHRINK = 0.6;
const REFUSED_WEBHOOK_CODES = new Set([50027, 10015]);
/** The channel route refused an edit: no access to the channel (50001), missing permissions (50013), or no such message there (10008). */
const REFUSED_EDIT_CODES = [50001, 50013, 10008];
/** Status messages whose attachments are kept in memory too (the most recently written). */
const MAX_REMEMBERED = 256;
/** How long the store keeps a status message's attachments and where it moved: as long as people may still act on it. */
const STATUS_MEMORY_MS = 7 * 24 * 3600_000;
/** A button or menu id of ours: `gas:<action>:<job id>`, the job id a UUID or a test's short name. */
const OUR_ID = /^gas:[a-z]+:[A-Za-z0-9_-]{1,64}$/;

/** What the bot needs where it answers, by Discord's names for them (discord.com/developers/docs/topics/permissions). */
const NEEDED = [
  { bit: PermissionFlagsBits.ViewChannel, name: 'View Channel' },
  { bit: PermissionFlagsBits.SendMessagesInThreads, name: 'Send Messages in Threads' },
  { bit: PermissionFlagsBits.CreatePublicThreads, name: 'Create Public Threads', startsThread: true },
  { bit: PermissionFlagsBits.AttachFiles, name: 'Attach Files' },
] as const;

/**
 * Whether an error is Discord's answer (with one of `codes`). REST is imported through discord.js so
 * that its errors are discord.js's DiscordAPIError class, not the ESM build's twin.
 */
const isApiError = (error: unknown, ...codes: number[]): error is DiscordAPIError =>
  error instanceof DiscordAPIError && (codes.length === 0 || codes.includes(Number(error.code)));

const isTooLarge = (error: unknown) => isApiError(error, 40005) || (error instanceof DiscordAPIError && error.status === 413);

const imageBytes = (message: ChatMessage) => message.images.reduce((sum, image) => sum + image.data.length, 0);
const hashOf = (image: ChatImage) => createHash('sha256').update(image.data).digest('hex');

/** Discord errors carry the request URL, which holds interaction tokens: people and logs get status and code only. */
function deliveryError(error: unknown, what: string): GasError {
  if (error instanceof GasError) return error;
  const details = error instanceof DiscordAPIError ? { status: error.status, code: error.code } : { cause: String((error as Error)?.message ?? error) };
  return new GasError('internal', `Discord refused to ${what}.`, details);
}

const listed = (names: readonly string[]) => (names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`);

export class DiscordTransport implements ChatTransport {
  readonly platform = 'discord' as const;
  readonly format = discordFormat;
  readonly editIntervalMs: number;
  /** The gateway connection, from `start` to `stop`. */
  private client?: Client;
  private readonly rest: REST;
  private readonly config: DiscordConfig;
  private readonly files: FileSource;
  private readonly access: AccessPolicy;
  private store: PlatformStore;
  /** Interaction webhooks of status messages, by message id, until their tokens expire or are refused. */
  private readonly webhooks = new Map<string, InteractionWebhook>();
  /** What each status message carries, by file name (also in the store, for a restarted process). */
  private readonly carried = new Map<string, Map<string, Carried>>();
  /** Status messages whose edit the channel route refused, and the message that took their place. */
  private readonly moved = new Map<string, { channel: string; message: string }>();
  /** The names of the threads statuses will start, by status message id (the request, for people to find it). */
  private readonly threadNames = new Map<string, string>();
  /** Servers' upload limits per file, as their interactions said. */
  private readonly guildLimits = new Map<string, number>();

  constructor(config: DiscordConfigInput, private readonly log: Logger = createLogger('discord'), private readonly deps: DiscordDeps = {}) {
    this.config = parseSettings(discordSection, config);
    this.editIntervalMs = this.config.editIntervalMs;
    this.rest = (deps.rest ?? deps.client?.rest ?? new REST({ api: this.config.apiUrl })).setToken(this.config.token);
    this.files = attachmentSource(attachmentHosts(this.config.apiUrl), deps.fetch);
    this.store = deps.store ?? memoryPlatformStore();
    const { allowedGuilds, allowedChannels, allowedRoles, adminRoles, dmsEnabled } = this.config;
    this.access = new AccessPolicy({ spaces: allowedGuilds, channels: allowedChannels, roles: allowedRoles, adminRoles, directMessages: dmsEnabled }, { space: 'server' });
  }

  /**
   * What one message may carry: each file within the largest limit a server told us (the flow fits
   * results to it; each message is fitted again to its own server's), all within a request.
   */
  get uploadLimits(): UploadLimits {
    return { fileBytes: Math.max(this.config.maxUploadBytes, ...this.guildLimits.values()), messageBytes: this.config.maxRequestBytes };
  }

  useStore(store: PlatformStore): void {
    this.store = store;
  }

  async start(handlers: ChatFlowHandlers): Promise<void> {
    if (this.client) return;
    const client = this.deps.client ?? this.newClient();
    this.client = client;
    client.on(Events.InteractionCreate, (interaction) => void this.onInteraction(interaction, handlers));
    client.on(Events.MessageCreate, (message) => void this.onMessage(message, handlers));
    client.on(Events.Error, (error) => this.log.error({ err: error }, 'discord client error'));
    if (!client.isReady()) await this.connect(client);
  }

  /**
   * A bot token's gateway session delivers every event to whoever opens it, so among several bot
   * processes on one token only the one holding this lease connects (src/chat/connection-leader.ts);
   * the others edit statuses over REST meanwhile. One lease per application and set of shards:
   * processes running other shards do not compete.
   */
  exclusiveConnection(): string {
    const { shards, shardIds } = this.config;
    return `discord-gateway:${this.config.applicationId}${shards ? `:${shards}${shardIds.length > 0 ? `:${shardIds.join(',')}` : ''}` : ''}`;
  }

  private newClient(): Client {
    const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages];
    if (this.config.dmsEnabled) intents.push(GatewayIntentBits.DirectMessages);
    if (this.config.messageContent) intents.push(GatewayIntentBits.MessageContent);
    return new Client({ intents, partials: [Partials.Channel], rest: { api: this.config.apiUrl }, allowedMentions: { parse: [] }, ...shardOptions(this.config) });
  }

  private async connect(client: Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new GasError('service_unavailable', 'Discord did not finish connecting within 30 s; check DISCORD_API_URL and the network.')), READY_TIMEOUT_MS);
      client.once(Events.ClientReady, () => resolve());
    });
    try {
      // Whichever ends first: a login still pending when the ready deadline passes must not leave that rejection unheard.
      await Promise.race([client.login(this.config.token).then(() => ready), ready]);
    } catch (error) {
      await this.stop();
      if (error instanceof GasError) throw error;
      const tokenRefused = (error as { code?: string })?.code === 'TokenInvalid';
      throw tokenRefused
        ? new GasError('service_unavailable', 'Discord refused the bot token; check DISCORD_TOKEN.')
        : new GasError('service_unavailable', `Cannot reach Discord at ${new URL(this.config.apiUrl).host}; check DISCORD_API_URL and the network.`, { cause: String((error as Error)?.message ?? error) });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Whether the gateway is up (for /healthz): every shard of this process ready. A dropped
   * connection reads false as soon as discord.js sees it closed, and stays so while it reconnects.
   */
  connected(): boolean {
    const client = this.client;
    if (!client) return false;
    return client.isReady() && client.ws.shards.size > 0 && client.ws.shards.every((shard) => shard.status === Status.Ready);
  }

  /** The gateway shards this process runs, when it is sharded (for /healthz and gas_shards); none before it connects. */
  shards(): readonly number[] {
    if (!this.config.shards || !this.client) return [];
    return [...this.client.ws.shards.keys()].sort((a, b) => a - b);
  }

  /** Disconnects the gateway; statuses can still be edited over REST (another process may lead now). */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.destroy();
  }

  /**
   * A new message in the status's conversation thread: the thread started from the status (started
   * now when nothing went into it yet), or the thread or DM the status is in. A reply to the status
   * only where it is in the same channel (Discord answers messages of the channel).
   */
  async postInThread(ref: StatusRef, message: ChatMessage): Promise<StatusRef> {
    return this.postInConversation(ref as DiscordStatusRef, message, this.limitsFor(ref as DiscordStatusRef));
  }

  private async postInConversation(status: Pick<DiscordStatusRef, 'channel' | 'message' | 'thread'>, message: ChatMessage, limits: UploadLimits): Promise<DiscordStatusRef> {
    const inChannel = status.thread === status.channel;
    if (!inChannel) await this.ensureThread(status);
    try {
      return await this.postInChannel(status.thread, status.thread, message, limits, inChannel);
    } catch (error) {
      // No thread could be started: the status's channel takes the message, answering the status.
      const cause = error instanceof GasError ? error.details?.code : undefined;
      if (inChannel || ![10003, 50001, 50013].includes(Number(cause))) throw error;
      return this.postInChannel(status.channel, status.thread, message, limits, true);
    }
  }

  /** Without the message-content intent, a reply in a server thread reaches the bot only when it mentions it; every DM does. */
  replyMention(ref: StatusRef): string | undefined {
    if (this.config.messageContent) return undefined;
    if (this.client?.channels.cache.get(ref.channel)?.type === ChannelType.DM) return undefined;
    return `<@${this.client?.user?.id ?? this.config.applicationId}>`;
  }

  async editStatus(ref: StatusRef, message: ChatMessage): Promise<void> {
    const status = ref as DiscordStatusRef;
    try {
      await this.patchStatus(status, message);
    } catch (error) {
      throw deliveryError(error, 'update the status message');
    }
  }

  // ---- sending -------------------------------------------------------------------------------

  /** A status's upload limits: its interaction's per-file limit (or its server's, or the configured one), and the request's. */
  private limitsFor(ref: { fileBytes?: number; guild?: string | null }): UploadLimits {
    const fileBytes = ref.fileBytes ?? (ref.guild ? this.guildLimits.get(ref.guild) : undefined) ?? this.config.maxUploadBytes;
    return { fileBytes, messageBytes: this.config.maxRequestBytes };
  }

  private rememberLimit(interaction: Interaction): number | undefined {
    const limit = interaction.attachmentSizeLimit;
    if (!Number.isFinite(limit) || limit <= 0) return undefined;
    if (interaction.guildId) this.guildLimits.set(interaction.guildId, limit);
    return limit;
  }

  /**
   * Sends a message with the images it does not already carry fitted to the limits (each file on
   * its own; only what is uploaded counts toward the request); when Discord still answers 413,
   * fits them under a smaller limit and says so.
   */
  private async deliver(message: ChatMessage, limits: UploadLimits, send: (payload: DiscordPayload) => Promise<APIMessage>, carried?: ReadonlyMap<string, Carried>, reply = true): Promise<APIMessage> {
    const names = attachmentNames(message.images);
    const keep = new Map<string, string>();
    message.images.forEach((image, i) => {
      const known = carried?.get(names[i]);
      if (known && known.hash === hashOf(image)) keep.set(names[i], known.id);
    });
    const fresh: ChatMessage = { ...message, images: message.images.filter((_, i) => !keep.has(names[i])) };
    let fitted: FittedMessage = await fitMessage(fresh, limits);
    for (let attempt = 0; ; attempt++) {
      // Kept images stay where they were among the new ones, so that names (and embeds) keep their order.
      const images = message.images.map((image, i) => (keep.has(names[i]) ? image : fitted.message.images[fresh.images.indexOf(image)]));
      try {
        return await send(discordPayload({ ...fitted.message, images }, { ...(fitted.note ? { note: fitted.note } : {}), keep, reply }));
      } catch (error) {
        if (!isTooLarge(error) || attempt >= UPLOAD_RETRIES || fitted.message.images.length === 0) throw error;
        const limit = Math.floor(imageBytes(fitted.message) * UPLOAD_SHRINK);
        fitted = await fitMessage(fresh, { fileBytes: Math.min(limit, limits.fileBytes), messageBytes: limit }, 'Discord').catch(() => {
          throw error;
        });
        this.log.warn({ bytes: imageBytes(fitted.message) }, 'upload too large for Discord; sending smaller images');
      }
    }
  }

  /** What a message carries after a write: its attachments by name, with the hash of the image each came from. */
  private async remember(messageId: string, message: ChatMessage, written: APIMessage): Promise<void> {
    const names = attachmentNames(message.images);
    const hashes = new Map(names.map((name, i) => [name, hashOf(message.images[i])]));
    const previous = this.carried.get(messageId);
    const carried = new Map<string, Carried>();
    for (const attachment of written.attachments ?? []) {
      const hash = previous?.get(attachment.filename)?.id === attachment.id ? previous.get(attachment.filename)!.hash : hashes.get(attachment.filename);
      if (hash) carried.set(attachment.filename, { id: attachment.id, hash });
    }
    // A message that carries no image and never did (a line in a thread, a ping) has nothing to remember.
    if (carried.size === 0 && !previous) return;
    this.carried.delete(messageId);
    if (this.carried.size >= MAX_REMEMBERED) this.carried.delete(this.carried.keys().next().value!); // the store keeps the rest
    this.carried.set(messageId, carried);
    await this.store.set(`carried:${messageId}`, JSON.stringify([...carried]), STATUS_MEMORY_MS).catch((error: unknown) => this.log.debug({ err: String(error) }, 'could not store what a status carries'));
  }

  private async carriedBy(messageId: string): Promise<Map<string, Carried> | undefined> {
    const known = this.carried.get(messageId);
    if (known) return known;
    const stored = await this.store.get(`carried:${messageId}`).catch(() => undefined);
    if (!stored) return undefined;
    const carried = new Map(JSON.parse(stored) as Array<[string, Carried]>);
    this.carried.set(messageId, carried);
    return carried;
  }

  private rememberWebhook(message: string, webhook: InteractionWebhook): void {
    const now = Date.now();
    for (const [id, known] of this.webhooks) if (known.expiresAt < now) this.webhooks.delete(id);
    this.webhooks.set(message, webhook);
  }

  private async movedTo(messageId: string): Promise<{ channel: string; message: string } | undefined> {
    const known = this.moved.get(messageId);
    if (known) return known;
    const stored = await this.store.get(`moved:${messageId}`).catch(() => undefined);
    return stored ? (JSON.parse(stored) as { channel: string; message: string }) : undefined;
  }

  /**
   * An edit of a status: through its interaction's webhook while the token lives, then through the
   * channel route with the bot token. Where the channel route is refused (the bot lost access to
   * the channel, or the status is one it cannot edit there), a new message in the status's thread
   * takes its place, and later edits go to that one.
   */
  private async patchStatus(ref: DiscordStatusRef, message: ChatMessage): Promise<void> {
    const moved = await this.movedTo(ref.message);
    const target = moved?.message ?? ref.message;
    const carried = await this.carriedBy(target);
    const limits = this.limitsFor(ref);
    const webhook = this.webhooks.get(target);
    if (webhook && Date.now() < webhook.expiresAt - this.config.tokenMarginMs) {
      try {
        const written = await this.deliver(message, limits, ({ body, files }) => this.rest.patch(Routes.webhookMessage(webhook.applicationId, webhook.token, target), { body, files, auth: false }) as Promise<APIMessage>, carried);
        await this.remember(target, message, written);
        return;
      } catch (error) {
        if (!isApiError(error, ...REFUSED_WEBHOOK_CODES)) throw error;
        // A refused token stays refused: later edits of this message go straight to the channel route.
        this.webhooks.delete(target);
        this.log.info({ code: error.code }, 'interaction token refused; editing with the bot token');
      }
    }
    const channel = moved?.channel ?? ref.channel;
    try {
      const written = await this.deliver(message, limits, ({ body, files }) => this.rest.patch(Routes.channelMessage(channel, target), { body, files }) as Promise<APIMessage>, carried);
      await this.remember(target, message, written);
    } catch (error) {
      if (!isApiError(error, ...REFUSED_EDIT_CODES) || moved) throw error;
      this.log.warn({ code: error.code }, 'the status message can no longer be edited; posting it anew in its thread');
      const posted = await this.postInConversation(ref, message, limits);
      const place = { channel: posted.channel, message: posted.message };
      this.moved.set(ref.message, place);
      await this.store.set(`moved:${ref.message}`, JSON.stringify(place), STATUS_MEMORY_MS).catch(() => {});
    }
  }

  /** A new message in a channel or thread, with the bot token. */
  private async postInChannel(channelId: string, thread: string, message: ChatMessage, limits: UploadLimits = this.limitsFor({}), reply = true): Promise<DiscordStatusRef> {
    try {
      const posted = await this.deliver(message, limits, ({ body, files }) => this.rest.post(Routes.channelMessages(channelId), { body, files }) as Promise<APIMessage>, undefined, reply);
      await this.remember(posted.id, message, posted);
      return { platform: 'discord', channel: channelId, message: posted.id, thread, ...(limits.fileBytes !== this.config.maxUploadBytes ? { fileBytes: limits.fileBytes } : {}) };
    } catch (error) {
      throw deliveryError(error, 'post the status message');
    }
  }

  /** Starts the thread of a status posted in a channel, unless it has one; the thread takes the status's id. */
  private async ensureThread(ref: Pick<DiscordStatusRef, 'channel' | 'message'>): Promise<void> {
    const name = this.threadNames.get(ref.message);
    if (name === undefined) return; // started already (or by another process): posting finds it
    try {
      await this.rest.post(Routes.threads(ref.channel, ref.message), { body: { name, auto_archive_duration: 1440 } });
      this.threadNames.delete(ref.message);
    } catch (error) {
      if (isApiError(error, 160004)) {
        this.threadNames.delete(ref.message); // it has one
        return;
      }
      // The message goes to the channel instead; replies then start new edits.
      this.log.warn({ code: isApiError(error) ? error.code : undefined }, 'could not start a thread from the status message');
    }
  }

  /** Answers a person's message in its channel, pinging only them. */
  private async replyTo(message: Message, text: string): Promise<void> {
    await this.rest.post(Routes.channelMessages(message.channelId), { body: replyBody(text, message.id) }).catch((error: unknown) => {
      throw deliveryError(error, 'send the reply');
    });
  }

  // ---- who may do what ----------------------------------------------------------------------------

  private requester(user: string, guildId: string | null, channelId: string, channel: TextBasedChannel | null, roles: string[], administrator: boolean): Requester {
    const parent = channel?.isThread() ? channel.parentId : null;
    const facts: AccessFacts = { user, ...(guildId ? { space: guildId } : {}), channel: channelId, ...(parent ? { parentChannel: parent } : {}), isDm: !guildId, roles, platformAdmin: administrator };
    return { facts, isAdmin: this.access.isAdmin(facts), ownThread: facts.isDm || parent !== null };
  }

  private interactionRequester(interaction: Interaction): Requester {
    const member = interaction.member;
    const roles = !member ? [] : Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
    const administrator = Boolean(interaction.memberPermissions?.has(PermissionFlagsBits.Administrator));
    return this.requester(interaction.user.id, interaction.guildId, interaction.channelId ?? '', interaction.channel, roles, administrator);
  }

  /** What the flow needs to know of who acted where, and how to answer them. */
  private event(who: Requester, thread: string, answer: Pick<ChatEvent, 'replyPrivately' | 'postStatus'>): ChatEvent {
    return { platform: this.platform, user: who.facts.user, isAdmin: who.isAdmin, channel: who.facts.channel, thread, ...answer };
  }

  /**
   * What the bot lacks where an interaction asks it to work (its `app_permissions`): to see the
   * channel, start the edit's thread (not needed in a thread), write in threads and attach images.
   */
  private missingPermissions(interaction: Interaction, who: Requester): string[] {
    if (!interaction.inGuild()) return [];
    const has = interaction.appPermissions;
    return NEEDED.filter((needed) => !('startsThread' in needed && who.ownThread) && !has.has(needed.bit)).map((needed) => needed.name);
  }

  // ---- interactions -------------------------------------------------------------------------------

  private async onInteraction(interaction: Interaction, handlers: ChatFlowHandlers): Promise<void> {
    try {
      this.rememberLimit(interaction);
      if (interaction.isChatInputCommand() && interaction.commandName === EDIT_COMMAND) await this.onEditCommand(interaction, handlers);
      else if (interaction.isMessageContextMenuCommand() && interaction.commandName === EDIT_IMAGE_COMMAND) await this.onEditImageCommand(interaction);
      else if (interaction.isModalSubmit() && interaction.customId.startsWith(EDIT_MODAL.prefix)) await this.onEditModal(interaction, handlers);
      else if (interaction.isButton() || interaction.isStringSelectMenu()) await this.onComponent(interaction, handlers);
    } catch (error) {
      this.log.error({ err: error instanceof GasError ? error : String(error), interaction: interaction.id }, 'interaction handling failed');
    }
  }

  /** Runs an acknowledgement; undefined when Discord refused it (10062 late, 40060 twice), which is never retried. */
  private async acknowledge<T>(ack: () => Promise<T>): Promise<T | undefined> {
    try {
      return await ack();
    } catch (error) {
      this.log.warn({ code: isApiError(error) ? error.code : undefined, cause: isApiError(error) ? undefined : String(error) }, 'interaction could not be acknowledged');
      return undefined;
    }
  }

  /**
   * Whether the person may use the bot here, and the bot can work here; when not, says why
   * privately (which acknowledges the interaction).
   */
  private async admitted(interaction: RepliableInteraction, who: Requester, checkPermissions = true): Promise<boolean> {
    if (!(await this.access.admits(who.facts, (refusal) => this.acknowledge(() => interaction.reply(privateReply(refusal)))))) return false;
    const missing = checkPermissions ? this.missingPermissions(interaction, who) : [];
    if (missing.length === 0) return true;
    const them = missing.length === 1 ? 'it' : 'them';
    await this.acknowledge(() =>
      interaction.reply(privateReply(`I can't edit images in this channel: I'm missing the ${listed(missing)} permission${missing.length === 1 ? '' : 's'} here. Ask a server admin to give ${them} to me, then try again.`)),
    );
    return false;
  }

  /**
   * `/edit` and the "Edit image" modal: refuse or defer first, then read the request and hand it to
   * the flow; `read` may answer privately instead (a menu target whose image is gone).
   */
  private async takeEdit(
    interaction: ChatInputCommandInteraction | ModalSubmitInteraction,
    handlers: ChatFlowHandlers,
    read: (who: Requester) => Promise<Said | { refusal: string }>,
  ): Promise<void> {
    const who = this.interactionRequester(interaction);
    if (!(await this.admitted(interaction, who))) return;
    const deferred = await this.acknowledge(() => interaction.deferReply({ withResponse: true }));
    if (!deferred) return;
    const said = await read(who);
    const reply = await this.deferredReply(interaction, deferred.interaction.responseMessageId ?? undefined, who, 'refusal' in said ? '' : said.text);
    if ('refusal' in said) {
      await reply.replyPrivately(said.refusal).catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not reply privately'));
      return;
    }
    await handlers.editRequest(editRequest(this.event(who, reply.thread, reply), said));
  }

  private async onEditCommand(interaction: ChatInputCommandInteraction, handlers: ChatFlowHandlers): Promise<void> {
    await this.takeEdit(interaction, handlers, async () => {
      // Not `required` here: a stale registration without an option must still reach the flow, which words what is missing.
      const attachment = interaction.options.getAttachment(OPTION.image);
      const steps = interaction.options.getInteger(OPTION.steps);
      const seed = interaction.options.getInteger(OPTION.seed);
      const check = interaction.options.getBoolean(OPTION.check);
      return {
        text: interaction.options.getString(OPTION.request) ?? '',
        ...(attachment ? { image: this.file(attachment) } : {}),
        options: { ...(steps !== null ? { steps } : {}), ...(seed !== null ? { seed } : {}), ...(check !== null ? { check } : {}) },
      };
    });
  }

  /**
   * "Edit image" on a message: refused privately at once when the message has no photo (or only an
   * image of another format), before anyone types a request; else its photo is kept for 15 minutes
   * (in the store, so a restarted process still has it) and the modal asks what should change.
   */
  private async onEditImageCommand(interaction: MessageContextMenuCommandInteraction): Promise<void> {
    const who = this.interactionRequester(interaction);
    if (!(await this.admitted(interaction, who))) return;
    const target = interaction.targetMessage;
    const image = target.attachments.find((attachment) => isPhotoFile({ name: attachment.name, contentType: attachment.contentType }));
    if (!image) {
      const other = target.attachments.find((attachment) => isImageFile({ name: attachment.name, contentType: attachment.contentType }));
      const kind = other && unsupportedImage({ name: other.name, contentType: other.contentType });
      const refusal = other && kind ? unsupportedWords(other.name, kind) : `That message has no image to edit. Use Edit image on a message with a ${PHOTO_FORMATS} photo, or /edit with one attached.`;
      await this.acknowledge(() => interaction.reply(privateReply(refusal)));
      return;
    }
    const file: StoredFile = { name: image.name, url: image.url, contentType: image.contentType, size: image.size };
    // The key names the person too: another's modal for the same message is another request.
    await this.store.set(`menu-target:${target.id}:${who.facts.user}`, JSON.stringify(file), this.config.tokenLifetimeMs).catch((error: unknown) => this.log.warn({ err: String(error) }, "could not keep the menu's target"));
    await this.acknowledge(() => interaction.showModal(editImageModal(target.id)));
  }

  private async onEditModal(interaction: ModalSubmitInteraction, handlers: ChatFlowHandlers): Promise<void> {
    const targetId = interaction.customId.slice(EDIT_MODAL.prefix.length);
    await this.takeEdit(interaction, handlers, async (who) => {
      const stored = await this.store.take(`menu-target:${targetId}:${who.facts.user}`).catch(() => undefined);
      const image = stored ? this.file(JSON.parse(stored) as StoredFile) : await this.fetchImage(who.facts.channel, targetId);
      // Without the content intent a fetched message shows no attachments: the menu's own payload was the only way to its image.
      if (!image) return { refusal: "I no longer have that message's image (it was more than 15 minutes ago, or the bot restarted). Run Edit image on the message again." };
      return { text: interaction.fields.getTextInputValue(EDIT_MODAL.requestInput), image, message: targetId };
    });
  }

  /**
   * A button or a menu of a status message. Every press is acknowledged (the person's client says
   * "interaction failed" otherwise), ours or not; one that is not one of ours gets a short answer.
   */
  private async onComponent(interaction: ButtonInteraction | StringSelectMenuInteraction, handlers: ChatFlowHandlers): Promise<void> {
    const who = this.interactionRequester(interaction);
    // A thread started from a status message has the message's id; a DM is its own thread.
    const thread = who.ownThread ? who.facts.channel : interaction.message.id;
    const replyPrivately = async (text: string) => {
      await interaction.followUp(privateReply(text)).catch((error: unknown) => {
        throw deliveryError(error, 'send the private reply');
      });
    };
    const fileBytes = this.rememberLimit(interaction);
    const press = OUR_ID.test(interaction.customId)
      ? buttonPress(
          this.event(who, thread, {
            postStatus: (message) => this.postInConversation({ channel: who.facts.channel, message: interaction.message.id, thread }, message, this.limitsFor({ ...(fileBytes ? { fileBytes } : {}) })),
            replyPrivately,
          }),
          interaction.customId,
          interaction.message.id,
        )
      : undefined;
    if (!(await this.access.admits(who.facts, (refusal) => this.acknowledge(() => interaction.reply(privateReply(refusal)))))) return;
    if (!(await this.acknowledge(() => interaction.deferUpdate()))) return;
    if (!press) {
      await replyPrivately('That control is not one this bot knows; it did nothing.').catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not reply privately'));
      return;
    }
    await handlers.buttonPressed(interaction.isStringSelectMenu() ? { ...press, ...(interaction.values[0] !== undefined ? { value: interaction.values[0] } : {}) } : press);
  }

  /**
   * The deferred ("thinking") reply of a command or modal: the first status replaces it, and its
   * thread starts when something is first posted into it (not in a DM, which is the thread); a
   * private reply before that deletes it, because Discord would turn the loading message itself
   * (public) into the first follow-up.
   */
  private async deferredReply(interaction: RepliableInteraction, messageId: string | undefined, who: Requester, request: string) {
    const statusId = messageId ?? (await interaction.fetchReply()).id;
    const channel = who.facts.channel;
    const thread = who.ownThread ? channel : statusId;
    const expiresAt = interaction.createdTimestamp + this.config.tokenLifetimeMs;
    const fileBytes = this.rememberLimit(interaction);
    let original: 'loading' | 'posted' | 'deleted' = 'loading';
    return {
      thread,
      postStatus: async (message: ChatMessage): Promise<DiscordStatusRef> => {
        const limits = this.limitsFor({ ...(fileBytes ? { fileBytes } : {}) });
        if (original === 'posted') return this.postInConversation({ channel, message: statusId, thread }, message, limits);
        if (original === 'deleted') return this.postInChannel(channel, thread, message, limits);
        original = 'posted';
        const ref: DiscordStatusRef = { platform: 'discord', channel, message: statusId, thread, ...(fileBytes ? { fileBytes } : {}) };
        this.rememberWebhook(statusId, { applicationId: this.config.applicationId, token: interaction.token, expiresAt });
        if (!who.ownThread) this.threadNames.set(statusId, truncateContent(request.replace(/\s+/g, ' ').trim() || 'Edit', MAX_THREAD_NAME));
        await this.editStatus(ref, message);
        return ref;
      },
      replyPrivately: async (text: string): Promise<void> => {
        try {
          if (original === 'loading') {
            await interaction.deleteReply();
            original = 'deleted';
          }
          await interaction.followUp(privateReply(text));
        } catch (error) {
          throw deliveryError(error, 'send the private reply');
        }
      },
    };
  }

  // ---- thread messages ---------------------------------------------------------------------------

  private async onMessage(message: Message, handlers: ChatFlowHandlers): Promise<void> {
    try {
      const bot = this.client?.user;
      if (!bot || message.author.bot || message.system || message.webhookId) return;
      const channel = message.channel;
      const inDm = channel.type === ChannelType.DM;
      if (!channel.isThread() && !inDm) return;
      const mentioned = message.mentions.users.has(bot.id);
      const repliesToBot = Boolean(message.reference?.messageId) && (message.mentions.repliedUser?.id === bot.id || channel.messages.cache.get(message.reference!.messageId!)?.author.id === bot.id);
      const inOwnThread = this.config.messageContent && channel.isThread() && channel.ownerId === bot.id;
      // Every message in a DM is to the bot.
      if (!inDm && !mentioned && !repliesToBot && !inOwnThread) return;
      // Without the message-content intent Discord hides what a reply says unless it pings the bot.
      if (!inDm && !mentioned && !this.config.messageContent) {
        await this.replyTo(message, `I can't read replies that don't mention me: start yours with <@${bot.id}>, or keep the reply's @ mention on.`);
        return;
      }
      const roles = message.member ? [...message.member.roles.cache.keys()] : [];
      const who = this.requester(message.author.id, message.guildId, channel.id, channel, roles, Boolean(message.member?.permissions.has(PermissionFlagsBits.Administrator)));
      if (!(await this.access.admits(who.facts))) return; // outside the allow-lists the bot stays silent rather than answer in public
      const image = message.attachments.find((attachment) => isImageFile({ name: attachment.name, contentType: attachment.contentType }));
      const limits = this.limitsFor({ guild: message.guildId });
      const event = this.event(who, channel.id, {
        postStatus: (status) => this.postInChannel(channel.id, channel.id, status, limits),
        // Outside an interaction Discord has no private replies: answer the person's message, pinging only them.
        replyPrivately: (text) => this.replyTo(message, text),
      });
      await handlers.threadMessage(threadMessage(event, { message: message.id, text: withoutMentions(message.content, bot.id), ...(image ? { image: this.file(image) } : {}) }));
    } catch (error) {
      this.log.error({ err: error instanceof GasError ? error : String(error), message: message.id }, 'message handling failed');
    }
  }

  // ---- attachments ---------------------------------------------------------------------------------

  private file(attachment: RemoteFile): IncomingFile {
    return incomingFile(attachment, this.files);
  }

  /** The first photo of a message, read with the bot token (the context menu's target after a restart, with the content intent). */
  private async fetchImage(channelId: string, messageId: string): Promise<IncomingFile | undefined> {
    try {
      const message = (await this.rest.get(Routes.channelMessage(channelId, messageId))) as APIMessage;
      const image = message.attachments.map((a) => ({ name: a.filename, url: a.url, contentType: a.content_type, size: a.size })).find((a) => isPhotoFile(a));
      return image ? this.file(image) : undefined;
    } catch {
      return undefined;
    }
  }
}
