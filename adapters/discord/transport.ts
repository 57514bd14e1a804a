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
 */
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
  type APIMessage,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type Message,
  type MessageContextMenuCommandInteraction,
  type ModalSubmitInteraction,
  type RepliableInteraction,
  type TextBasedChannel,
} from 'discord.js';
import { AccessPolicy, type AccessFacts } from '../../src/chat/access.js';
import { incomingFile, isImageFile, type FileSource, type RemoteFile } from '../../src/chat/download.js';
import { buttonPress, editRequest, threadMessage, withoutMentions, type ChatEvent, type Said } from '../../src/chat/incoming.js';
import type { ChatFlowHandlers, ChatMessage, ChatTransport, IncomingFile, StatusRef, UploadLimits } from '../../src/chat/transport.js';
import { fitMessage, type FittedMessage } from '../../src/chat/upload.js';
import { parseSettings } from '../../src/config/section.js';
import { GasError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';
import { EDIT_COMMAND, EDIT_IMAGE_COMMAND, EDIT_MODAL, editImageModal, OPTION } from './commands.js';
import { discordSection, type DiscordConfig, type DiscordConfigInput } from './config.js';
import { attachmentHosts, attachmentSource } from './download.js';
import { discordFormat } from './format.js';
import { discordPayload, privateReply, replyBody, truncateContent, type DiscordPayload } from './payload.js';

/**
 * A Discord status message. It is stored in Redis with the job, so it holds no credential: the
 * interaction token that may edit it for 15 minutes stays in this process's memory.
 */
export interface DiscordStatusRef extends StatusRef {
  platform: 'discord';
}

/** The platform clients, injectable so that a test drives the transport without a network. */
export interface DiscordDeps {
  /** The gateway client; `start` logs it in unless it is ready already, `stop` destroys it. Default: a new one per `start`. */
  client?: Client;
  /** The REST client for the bot's own calls. Default: the injected client's, else a new one. */
  rest?: REST;
  /** Downloads attachments. Default: the global fetch. */
  fetch?: typeof fetch;
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

const MAX_THREAD_NAME = 100;
const READY_TIMEOUT_MS = 30_000;
/** 413 retries, each with images at most this share of the previous attempt's bytes. */
const UPLOAD_RETRIES = 4;
const UPLOAD_SHRINK = 0.6;
const REFUSED_WEBHOOK_CODES = new Set([50027, 10015]);

/**
 * Whether an error is Discord's answer (with one of `codes`). REST is imported through discord.js so
 * that its errors are discord.js's DiscordAPIError class, not the ESM build's twin.
 */
const isApiError = (error: unknown, ...codes: number[]): error is DiscordAPIError =>
  error instanceof DiscordAPIError && (codes.length === 0 || codes.includes(Number(error.code)));

const isTooLarge = (error: unknown) => isApiError(error, 40005) || (error instanceof DiscordAPIError && error.status === 413);

const imageBytes = (message: ChatMessage) => message.images.reduce((sum, image) => sum + image.data.length, 0);

/** Discord errors carry the request URL, which holds interaction tokens: people and logs get status and code only. */
function deliveryError(error: unknown, what: string): GasError {
  if (error instanceof GasError) return error;
  const details = error instanceof DiscordAPIError ? { status: error.status, code: error.code } : { cause: String((error as Error)?.message ?? error) };
  return new GasError('internal', `Discord refused to ${what}.`, details);
}

export class DiscordTransport implements ChatTransport {
  readonly platform = 'discord' as const;
  readonly format = discordFormat;
  readonly editIntervalMs: number;
  readonly uploadLimits: UploadLimits;
  /** The gateway connection, from `start` to `stop`. */
  private client?: Client;
  private readonly rest: REST;
  private readonly config: DiscordConfig;
  private readonly files: FileSource;
  private readonly access: AccessPolicy;
  /** Images of context-menu targets, between the modal and its submission (15 minutes at most). */
  private readonly modalTargets = new Map<string, { file?: IncomingFile; expiresAt: number }>();
  /** Interaction webhooks of status messages, by message id, until their tokens expire or are refused. */
  private readonly webhooks = new Map<string, InteractionWebhook>();

  constructor(config: DiscordConfigInput, private readonly log: Logger = createLogger('discord'), private readonly deps: DiscordDeps = {}) {
    this.config = parseSettings(discordSection, config);
    this.editIntervalMs = this.config.editIntervalMs;
    // Discord counts a request's files together; DISCORD_MAX_UPLOAD_BYTES bounds both until a setting tells them apart.
    this.uploadLimits = { fileBytes: this.config.maxUploadBytes, messageBytes: this.config.maxUploadBytes };
    this.rest = (deps.rest ?? deps.client?.rest ?? new REST({ api: this.config.apiUrl })).setToken(this.config.token);
    this.files = attachmentSource(attachmentHosts(this.config.apiUrl), deps.fetch);
    const { allowedGuilds, allowedChannels, allowedRoles, adminRoles, dmsEnabled } = this.config;
    this.access = new AccessPolicy({ spaces: allowedGuilds, channels: allowedChannels, roles: allowedRoles, adminRoles, directMessages: dmsEnabled }, { space: 'server' });
  }

  async start(handlers: ChatFlowHandlers): Promise<void> {
    const client = this.deps.client ?? this.newClient();
    this.client = client;
    client.on(Events.InteractionCreate, (interaction) => void this.onInteraction(interaction, handlers));
    client.on(Events.MessageCreate, (message) => void this.onMessage(message, handlers));
    client.on(Events.Error, (error) => this.log.error({ err: error }, 'discord client error'));
    if (!client.isReady()) await this.connect(client);
  }

  private newClient(): Client {
    const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages];
    if (this.config.dmsEnabled) intents.push(GatewayIntentBits.DirectMessages);
    if (this.config.messageContent) intents.push(GatewayIntentBits.MessageContent);
    return new Client({ intents, partials: [Partials.Channel], rest: { api: this.config.apiUrl }, allowedMentions: { parse: [] } });
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

  /** Whether the gateway connection is up (for /healthz). */
  connected(): boolean {
    return this.client?.isReady() ?? false;
  }

  async stop(): Promise<void> {
    await this.client?.destroy();
    this.client = undefined;
  }

  async postInThread(ref: StatusRef, message: ChatMessage): Promise<StatusRef> {
    // A thread started from a status message has the message's id; where no thread could be started, the channel takes it.
    return this.postInChannel(ref.thread, ref.thread, message).catch((error: unknown) => {
      if (ref.thread === ref.channel) throw error;
      return this.postInChannel(ref.channel, ref.thread, message);
    });
  }

  /**
   * A bot token's gateway session delivers every event to whoever opens it, so among several bot
   * processes on one token only the one holding this connection's lease connects.
   */
  exclusiveConnection(): string | undefined {
    return `discord:gateway:${this.config.applicationId}`;
  }

  /** Without the message-content intent, a reply in a server thread reaches the bot only when it mentions it; every DM does. */
  replyMention(ref: StatusRef): string | undefined {
    const bot = this.client?.user;
    if (!bot || this.config.messageContent) return undefined;
    return this.client?.channels.cache.get(ref.channel)?.type === ChannelType.DM ? undefined : `<@${bot.id}>`;
  }

  async editStatus(ref: StatusRef, message: ChatMessage): Promise<void> {
    await this.deliver(message, (payload) => this.patchStatus(ref as DiscordStatusRef, payload)).catch((error: unknown) => {
      throw deliveryError(error, 'update the status message');
    });
  }

  // ---- sending -------------------------------------------------------------------------------

  /**
   * Sends a message with its images fitted to the upload limits; when Discord still answers 413
   * (its real limit can be lower than configured), fits them under a smaller limit and says so.
   */
  private async deliver<T>(message: ChatMessage, send: (payload: DiscordPayload) => Promise<T>): Promise<T> {
    let fitted: FittedMessage = await fitMessage(message, this.uploadLimits);
    for (let attempt = 0; ; attempt++) {
      try {
        return await send(discordPayload(fitted.message, fitted.note));
      } catch (error) {
        if (!isTooLarge(error) || attempt >= UPLOAD_RETRIES || fitted.message.images.length === 0) throw error;
        const limit = Math.floor(imageBytes(fitted.message) * UPLOAD_SHRINK);
        fitted = await fitMessage(message, { fileBytes: limit, messageBytes: limit }, 'Discord').catch(() => {
          throw error;
        });
        this.log.warn({ bytes: imageBytes(fitted.message) }, 'upload too large for Discord; sending smaller images');
      }
    }
  }

  private rememberWebhook(message: string, webhook: InteractionWebhook): void {
    const now = Date.now();
    for (const [id, known] of this.webhooks) if (known.expiresAt < now) this.webhooks.delete(id);
    this.webhooks.set(message, webhook);
  }

  private async patchStatus(ref: DiscordStatusRef, { body, files }: DiscordPayload): Promise<APIMessage> {
    const webhook = this.webhooks.get(ref.message);
    if (webhook && Date.now() < webhook.expiresAt - this.config.tokenMarginMs) {
      try {
        return (await this.rest.patch(Routes.webhookMessage(webhook.applicationId, webhook.token, ref.message), { body, files, auth: false })) as APIMessage;
      } catch (error) {
        if (!isApiError(error, ...REFUSED_WEBHOOK_CODES)) throw error;
        // A refused token stays refused: later edits of this message go straight to the channel route.
        this.webhooks.delete(ref.message);
        this.log.info({ code: error.code }, 'interaction token refused; editing with the bot token');
      }
    }
    return (await this.rest.patch(Routes.channelMessage(ref.channel, ref.message), { body, files })) as APIMessage;
  }

  /** A new status message in a channel or thread, with the bot token. */
  private async postInChannel(channelId: string, thread: string, message: ChatMessage): Promise<DiscordStatusRef> {
    try {
      const posted = await this.deliver(message, ({ body, files }) => this.rest.post(Routes.channelMessages(channelId), { body, files }) as Promise<APIMessage>);
      return { platform: 'discord', channel: channelId, message: posted.id, thread };
    } catch (error) {
      throw deliveryError(error, 'post the status message');
    }
  }

  private async startThread(channelId: string, messageId: string, request: string): Promise<void> {
    const name = truncateContent(request.replace(/\s+/g, ' ').trim() || 'Edit', MAX_THREAD_NAME);
    try {
      await this.rest.post(Routes.threads(channelId, messageId), { body: { name, auto_archive_duration: 1440 } });
    } catch (error) {
      // The edit goes on without a thread; replies then start new edits.
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

  // ---- interactions -------------------------------------------------------------------------------

  private async onInteraction(interaction: Interaction, handlers: ChatFlowHandlers): Promise<void> {
    try {
      if (interaction.isChatInputCommand() && interaction.commandName === EDIT_COMMAND) await this.onEditCommand(interaction, handlers);
      else if (interaction.isMessageContextMenuCommand() && interaction.commandName === EDIT_IMAGE_COMMAND) await this.onEditImageCommand(interaction);
      else if (interaction.isModalSubmit() && interaction.customId.startsWith(EDIT_MODAL.prefix)) await this.onEditModal(interaction, handlers);
      else if (interaction.isButton()) await this.onButton(interaction, handlers);
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

  /** Whether the person may use the bot here; when not, says why privately (which acknowledges the interaction). */
  private admitted(interaction: RepliableInteraction, who: Requester): Promise<boolean> {
    return this.access.admits(who.facts, (refusal) => this.acknowledge(() => interaction.reply(privateReply(refusal))));
  }

  /** `/edit` and the "Edit image" modal: refuse or defer first, then read the request and hand it to the flow. */
  private async takeEdit(
    interaction: ChatInputCommandInteraction | ModalSubmitInteraction,
    handlers: ChatFlowHandlers,
    read: (who: Requester) => Promise<Said>,
  ): Promise<void> {
    const who = this.interactionRequester(interaction);
    if (!(await this.admitted(interaction, who))) return;
    const deferred = await this.acknowledge(() => interaction.deferReply({ withResponse: true }));
    if (!deferred) return;
    const said = await read(who);
    const reply = await this.deferredReply(interaction, deferred.interaction.responseMessageId ?? undefined, who, said.text);
    await handlers.editRequest(editRequest(this.event(who, reply.thread, reply), said));
  }

  private async onEditCommand(interaction: ChatInputCommandInteraction, handlers: ChatFlowHandlers): Promise<void> {
    await this.takeEdit(interaction, handlers, async () => {
      // Not `required` here: a stale registration without an option must still reach the flow, which words what is missing.
      const attachment = interaction.options.getAttachment(OPTION.image);
      const steps = interaction.options.getInteger(OPTION.steps);
      const seed = interaction.options.getInteger(OPTION.seed);
      return {
        text: interaction.options.getString(OPTION.request) ?? '',
        ...(attachment ? { image: this.file(attachment) } : {}),
        options: { ...(steps !== null ? { steps } : {}), ...(seed !== null ? { seed } : {}) },
      };
    });
  }

  private async onEditImageCommand(interaction: MessageContextMenuCommandInteraction): Promise<void> {
    if (!(await this.admitted(interaction, this.interactionRequester(interaction)))) return;
    const target = interaction.targetMessage;
    const image = target.attachments.find((attachment) => isImageFile(attachment));
    const now = Date.now();
    for (const [id, entry] of this.modalTargets) if (entry.expiresAt < now) this.modalTargets.delete(id);
    this.modalTargets.set(target.id, { ...(image ? { file: this.file(image) } : {}), expiresAt: now + this.config.tokenLifetimeMs });
    await this.acknowledge(() => interaction.showModal(editImageModal(target.id)));
  }

  private async onEditModal(interaction: ModalSubmitInteraction, handlers: ChatFlowHandlers): Promise<void> {
    const targetId = interaction.customId.slice(EDIT_MODAL.prefix.length);
    await this.takeEdit(interaction, handlers, async (who) => {
      const image = this.modalTargets.get(targetId)?.file ?? (await this.fetchImage(who.facts.channel, targetId));
      this.modalTargets.delete(targetId);
      return { text: interaction.fields.getTextInputValue(EDIT_MODAL.requestInput), ...(image ? { image } : {}), message: targetId };
    });
  }

  private async onButton(interaction: ButtonInteraction, handlers: ChatFlowHandlers): Promise<void> {
    const who = this.interactionRequester(interaction);
    // A thread started from a status message has the message's id; a DM is its own thread.
    const thread = who.ownThread ? who.facts.channel : interaction.message.id;
    const press = buttonPress(
      this.event(who, thread, {
        postStatus: (message) => this.postInChannel(thread, thread, message),
        replyPrivately: async (text) => {
          await interaction.followUp(privateReply(text)).catch((error: unknown) => {
            throw deliveryError(error, 'send the private reply');
          });
        },
      }),
      interaction.customId,
      interaction.message.id,
    );
    if (!press || !(await this.admitted(interaction, who))) return;
    if (!(await this.acknowledge(() => interaction.deferUpdate()))) return;
    await handlers.buttonPressed(press);
  }

  /**
   * The deferred ("thinking") reply of a command or modal: the first status replaces it and starts
   * the edit's thread from it (not in a DM, which is the thread); a private reply before that
   * deletes it, because Discord would turn the loading message itself (public) into the first
   * follow-up.
   */
  private async deferredReply(interaction: RepliableInteraction, messageId: string | undefined, who: Requester, request: string) {
    const statusId = messageId ?? (await interaction.fetchReply()).id;
    const channel = who.facts.channel;
    const thread = who.ownThread ? channel : statusId;
    const expiresAt = interaction.createdTimestamp + this.config.tokenLifetimeMs;
    let original: 'loading' | 'posted' | 'deleted' = 'loading';
    return {
      thread,
      postStatus: async (message: ChatMessage): Promise<DiscordStatusRef> => {
        if (original !== 'loading') return this.postInChannel(original === 'posted' ? thread : channel, thread, message);
        original = 'posted';
        const ref: DiscordStatusRef = { platform: 'discord', channel, message: statusId, thread };
        this.rememberWebhook(statusId, { applicationId: this.config.applicationId, token: interaction.token, expiresAt });
        await this.editStatus(ref, message);
        if (!who.ownThread) await this.startThread(channel, statusId, request);
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
      const image = message.attachments.find((attachment) => isImageFile(attachment));
      const event = this.event(who, channel.id, {
        postStatus: (status) => this.postInChannel(channel.id, channel.id, status),
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

  /** The first image of a message, read with the bot token (the context menu's target after a restart). */
  private async fetchImage(channelId: string, messageId: string): Promise<IncomingFile | undefined> {
    try {
      const message = (await this.rest.get(Routes.channelMessage(channelId, messageId))) as APIMessage;
      const image = message.attachments.map((a) => ({ name: a.filename, url: a.url, contentType: a.content_type, size: a.size })).find((a) => isImageFile(a));
      return image ? this.file(image) : undefined;
    } catch {
      return undefined;
    }
  }
}
