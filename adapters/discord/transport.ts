/**
 * The Discord plug of the chat flow (src/chat/transport.ts) over discord.js: interactions and
 * thread messages in, status messages out. It acknowledges every interaction before anything else
 * (Discord's 3 s), never acknowledges one twice, edits status messages through the interaction's
 * webhook while its token lives and through the bot token after, and leaves 429s to discord.js's
 * REST queue. What is said, and when, is the flow's.
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
  LabelBuilder,
  MessageFlags,
  ModalBuilder,
  Partials,
  PermissionFlagsBits,
  REST,
  Routes,
  TextInputBuilder,
  TextInputStyle,
  type APIMessage,
  type Attachment,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type Message,
  type MessageContextMenuCommandInteraction,
  type ModalSubmitInteraction,
  type RepliableInteraction,
} from 'discord.js';
import {
  parseButtonId,
  type ChatFlowHandlers,
  type ChatMessage,
  type ChatTransport,
  type IncomingFile,
  type StatusRef,
} from '../../src/chat/transport.js';
import { GasError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';
import { MAX_REQUEST_CHARS } from '../../src/plan/planner.js';
import { EDIT_COMMAND, EDIT_IMAGE_COMMAND, OPTION } from './commands.js';
import { parseDiscordConfig, type DiscordConfig, type DiscordConfigInput } from './config.js';
import { attachmentHosts, incomingFile, isImageAttachment } from './download.js';
import { fitImages, totalImageBytes } from './fit-upload.js';
import { discordFormat } from './format.js';
import { discordPayload, truncateContent, type DiscordPayload } from './payload.js';

/**
 * A Discord status message. It is stored in Redis with the job, so it holds no credential: the
 * interaction token that may edit it for 15 minutes stays in this process's memory.
 */
export interface DiscordStatusRef extends StatusRef {
  platform: 'discord';
}

/** The interaction webhook of a status message, while its token lives. */
interface InteractionWebhook {
  applicationId: string;
  token: string;
  expiresAt: number;
}

/** The modal the "Edit image" context menu opens; its custom id carries the target message id. */
const MODAL_PREFIX = 'gas-edit:';
const MODAL_REQUEST_INPUT = 'request';
const MAX_THREAD_NAME = 100;
const READY_TIMEOUT_MS = 30_000;
/** 413 retries, each with images at most this share of the previous attempt's bytes. */
const UPLOAD_RETRIES = 4;
const UPLOAD_SHRINK = 0.6;
const REFUSED_WEBHOOK_CODES = new Set([50027, 10015]);

interface Requester {
  user: string;
  isAdmin: boolean;
  guildId: string | null;
  channelId: string;
  /** A thread's parent channel: the allow-list treats a thread as its channel. */
  parentId: string | null;
  /** A DM with the bot, where the DM itself is the edit thread. */
  inDm: boolean;
  roles: string[];
}

/**
 * Whether an error is Discord's answer (with one of `codes`). REST is imported through discord.js so
 * that its errors are discord.js's DiscordAPIError class, not the ESM build's twin.
 */
const isApiError = (error: unknown, ...codes: number[]): error is DiscordAPIError =>
  error instanceof DiscordAPIError && (codes.length === 0 || codes.includes(Number(error.code)));

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
  readonly maxUploadBytes: number;
  private readonly config: DiscordConfig;
  private readonly rest: REST;
  private readonly hosts: string[];
  private readonly log: Logger;
  private client?: Client;
  /** Images of context-menu targets, between the modal and its submission (15 minutes at most). */
  private readonly modalTargets = new Map<string, { file?: IncomingFile; expiresAt: number }>();
  /** Interaction webhooks of status messages, by message id, until their tokens expire or are refused. */
  private readonly webhooks = new Map<string, InteractionWebhook>();

  constructor(config: DiscordConfigInput, log: Logger = createLogger('discord')) {
    this.config = parseDiscordConfig(config);
    this.editIntervalMs = this.config.editIntervalMs;
    this.maxUploadBytes = this.config.maxUploadBytes;
    this.rest = new REST({ api: this.config.apiUrl }).setToken(this.config.token);
    this.hosts = attachmentHosts(this.config.apiUrl);
    this.log = log;
  }

  async start(handlers: ChatFlowHandlers): Promise<void> {
    const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages];
    if (this.config.dmsEnabled) intents.push(GatewayIntentBits.DirectMessages);
    if (this.config.messageContent) intents.push(GatewayIntentBits.MessageContent);
    const client = new Client({ intents, partials: [Partials.Channel], rest: { api: this.config.apiUrl }, allowedMentions: { parse: [] } });
    this.client = client;
    client.on(Events.InteractionCreate, (interaction) => void this.onInteraction(interaction, handlers));
    client.on(Events.MessageCreate, (message) => void this.onMessage(message, handlers));
    client.on(Events.Error, (error) => this.log.error({ err: error }, 'discord client error'));
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

  async editStatus(ref: StatusRef, message: ChatMessage): Promise<void> {
    await this.deliver(message, (payload) => this.patchStatus(ref as DiscordStatusRef, payload)).catch((error: unknown) => {
      throw deliveryError(error, 'update the status message');
    });
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Sends a message, shrinking its images when they exceed the upload limit or Discord answers 413. */
  private async deliver<T>(message: ChatMessage, send: (payload: DiscordPayload) => Promise<T>): Promise<T> {
    let current = message;
    if (totalImageBytes(message.images) > this.maxUploadBytes) current = (await fitImages(message, this.maxUploadBytes)) ?? message;
    for (let attempt = 0; ; attempt++) {
      try {
        return await send(discordPayload(current));
      } catch (error) {
        const tooLarge = isApiError(error, 40005) || (error instanceof DiscordAPIError && error.status === 413);
        if (!tooLarge || attempt >= UPLOAD_RETRIES) throw error;
        const smaller = await fitImages(message, Math.floor(totalImageBytes(current.images) * UPLOAD_SHRINK));
        if (!smaller) throw error;
        this.log.warn({ bytes: totalImageBytes(smaller.images) }, 'upload too large for Discord; sending smaller images');
        current = smaller;
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

  // ---- who may do what ----------------------------------------------------------------------------

  private refusal(who: Requester): string | undefined {
    const { allowedGuilds, allowedChannels, allowedRoles } = this.config;
    if (!who.guildId) return this.config.dmsEnabled ? undefined : 'Edits are not available in direct messages; use the command in a server channel.';
    if (allowedGuilds.length > 0 && !allowedGuilds.includes(who.guildId)) return 'This bot is not enabled in this server.';
    if (allowedChannels.length > 0 && !allowedChannels.includes(who.channelId) && !(who.parentId && allowedChannels.includes(who.parentId))) {
      return `Edits are not enabled in this channel; use ${allowedChannels.map((id) => `<#${id}>`).join(', ')}.`;
    }
    if (allowedRoles.length > 0 && !who.isAdmin && !who.roles.some((role) => allowedRoles.includes(role))) {
      return 'You need one of the roles allowed to request edits; ask a server admin.';
    }
    return undefined;
  }

  private requester(interaction: Interaction): Requester {
    const member = interaction.member;
    const roles = !member ? [] : Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
    const channel = interaction.channel;
    return {
      user: interaction.user.id,
      isAdmin: Boolean(interaction.memberPermissions?.has(PermissionFlagsBits.Administrator)) || roles.some((role) => this.config.adminRoles.includes(role)),
      guildId: interaction.guildId,
      channelId: interaction.channelId ?? '',
      parentId: channel?.isThread() ? channel.parentId : null,
      inDm: !interaction.guildId,
      roles,
    };
  }

  // ---- interactions -------------------------------------------------------------------------------

  private async onInteraction(interaction: Interaction, handlers: ChatFlowHandlers): Promise<void> {
    try {
      if (interaction.isChatInputCommand() && interaction.commandName === EDIT_COMMAND) await this.onEditCommand(interaction, handlers);
      else if (interaction.isMessageContextMenuCommand() && interaction.commandName === EDIT_IMAGE_COMMAND) await this.onEditImageCommand(interaction);
      else if (interaction.isModalSubmit() && interaction.customId.startsWith(MODAL_PREFIX)) await this.onEditModal(interaction, handlers);
      else if (interaction.isButton()) await this.onButton(interaction, handlers);
    } catch (error) {
      this.log.error({ err: error instanceof GasError ? error : String(error), interaction: interaction.id }, 'interaction handling failed');
    }
  }

  /** Runs an acknowledgement; false when Discord refused it (10062 late, 40060 twice), which is never retried. */
  private async acknowledge<T>(ack: () => Promise<T>): Promise<T | undefined> {
    try {
      return await ack();
    } catch (error) {
      this.log.warn({ code: isApiError(error) ? error.code : undefined, cause: isApiError(error) ? undefined : String(error) }, 'interaction could not be acknowledged');
      return undefined;
    }
  }

  /** Refuses privately when outside the allow-lists; true when refused. */
  private async refused(interaction: RepliableInteraction, who: Requester): Promise<boolean> {
    const refusal = this.refusal(who);
    if (!refusal) return false;
    await this.acknowledge(() => interaction.reply({ content: refusal, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } }));
    return true;
  }

  private async onEditCommand(interaction: ChatInputCommandInteraction, handlers: ChatFlowHandlers): Promise<void> {
    const who = this.requester(interaction);
    if (await this.refused(interaction, who)) return;
    const deferred = await this.acknowledge(() => interaction.deferReply({ withResponse: true }));
    if (!deferred) return;
    // Not `required` here: a stale registration without an option must still reach the flow, which words what is missing.
    const attachment = interaction.options.getAttachment(OPTION.image);
    const text = interaction.options.getString(OPTION.request) ?? '';
    const steps = interaction.options.getInteger(OPTION.steps);
    const seed = interaction.options.getInteger(OPTION.seed);
    const reply = await this.deferredReply(interaction, deferred.interaction.responseMessageId ?? undefined, who, text);
    await handlers.editRequest({
      platform: this.platform,
      user: who.user,
      isAdmin: who.isAdmin,
      channel: who.channelId,
      text,
      ...(attachment ? { image: this.file(attachment) } : {}),
      options: { ...(steps !== null ? { steps } : {}), ...(seed !== null ? { seed } : {}) },
      thread: reply.thread,
      replyPrivately: (message) => reply.replyPrivately(message),
      postStatus: (message) => reply.postStatus(message),
    });
  }

  private async onEditImageCommand(interaction: MessageContextMenuCommandInteraction): Promise<void> {
    if (await this.refused(interaction, this.requester(interaction))) return;
    const target = interaction.targetMessage;
    const image = target.attachments.find((attachment) => isImageAttachment({ name: attachment.name, contentType: attachment.contentType }));
    const now = Date.now();
    for (const [id, entry] of this.modalTargets) if (entry.expiresAt < now) this.modalTargets.delete(id);
    this.modalTargets.set(target.id, { ...(image ? { file: this.file(image) } : {}), expiresAt: now + this.config.tokenLifetimeMs });
    const modal = new ModalBuilder()
      .setCustomId(`${MODAL_PREFIX}${target.id}`)
      .setTitle('Edit image')
      .addLabelComponents(
        new LabelBuilder()
          .setLabel('What should change?')
          .setTextInputComponent(
            new TextInputBuilder()
              .setCustomId(MODAL_REQUEST_INPUT)
              .setStyle(TextInputStyle.Paragraph)
              .setPlaceholder('turn the dog into a tiger and the grass into snow')
              .setRequired(true)
              .setMaxLength(MAX_REQUEST_CHARS),
          ),
      );
    await this.acknowledge(() => interaction.showModal(modal));
  }

  private async onEditModal(interaction: ModalSubmitInteraction, handlers: ChatFlowHandlers): Promise<void> {
    const who = this.requester(interaction);
    if (await this.refused(interaction, who)) return;
    const deferred = await this.acknowledge(() => interaction.deferReply({ withResponse: true }));
    if (!deferred) return;
    const targetId = interaction.customId.slice(MODAL_PREFIX.length);
    const text = interaction.fields.getTextInputValue(MODAL_REQUEST_INPUT);
    const image = this.modalTargets.get(targetId)?.file ?? (await this.fetchImage(who.channelId, targetId));
    this.modalTargets.delete(targetId);
    const reply = await this.deferredReply(interaction, deferred.interaction.responseMessageId ?? undefined, who, text);
    await handlers.editRequest({
      platform: this.platform,
      user: who.user,
      isAdmin: who.isAdmin,
      channel: who.channelId,
      text,
      ...(image ? { image } : {}),
      options: {},
      thread: reply.thread,
      message: targetId,
      replyPrivately: (message) => reply.replyPrivately(message),
      postStatus: (message) => reply.postStatus(message),
    });
  }

  private async onButton(interaction: ButtonInteraction, handlers: ChatFlowHandlers): Promise<void> {
    const parsed = parseButtonId(interaction.customId);
    if (!parsed) return;
    const who = this.requester(interaction);
    if (await this.refused(interaction, who)) return;
    if (!(await this.acknowledge(() => interaction.deferUpdate()))) return;
    // A thread started from a status message has the message's id; a DM is its own thread.
    const thread = who.parentId || who.inDm ? who.channelId : interaction.message.id;
    await handlers.buttonPressed({
      platform: this.platform,
      user: who.user,
      isAdmin: who.isAdmin,
      channel: who.channelId,
      action: parsed.action,
      jobId: parsed.jobId,
      status: { platform: this.platform, channel: who.channelId, message: interaction.message.id, thread },
      postStatus: (message) => this.postInChannel(thread, thread, message),
      replyPrivately: async (text) => {
        await interaction.followUp({ content: truncateContent(text), flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } }).catch((error: unknown) => {
          throw deliveryError(error, 'send the private reply');
        });
      },
    });
  }

  /**
   * The deferred ("thinking") reply of a command or modal: the first status replaces it and starts
   * the edit's thread from it (not in a DM, which is the thread); a private reply before that
   * deletes it, because Discord would turn the loading message itself (public) into the first
   * follow-up.
   */
  private async deferredReply(interaction: RepliableInteraction, messageId: string | undefined, who: Requester, request: string) {
    const statusId = messageId ?? (await interaction.fetchReply()).id;
    const inThread = who.parentId !== null || who.inDm;
    const thread = inThread ? who.channelId : statusId;
    const expiresAt = interaction.createdTimestamp + this.config.tokenLifetimeMs;
    let original: 'loading' | 'posted' | 'deleted' = 'loading';
    return {
      thread,
      postStatus: async (message: ChatMessage): Promise<DiscordStatusRef> => {
        if (original !== 'loading') return this.postInChannel(original === 'posted' ? thread : who.channelId, thread, message);
        original = 'posted';
        const ref: DiscordStatusRef = { platform: 'discord', channel: who.channelId, message: statusId, thread };
        this.rememberWebhook(statusId, { applicationId: this.config.applicationId, token: interaction.token, expiresAt });
        await this.editStatus(ref, message);
        if (!inThread) await this.startThread(who.channelId, statusId, request);
        return ref;
      },
      replyPrivately: async (text: string): Promise<void> => {
        try {
          if (original === 'loading') {
            await interaction.deleteReply();
            original = 'deleted';
          }
          await interaction.followUp({ content: truncateContent(text), flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
        } catch (error) {
          throw deliveryError(error, 'send the private reply');
        }
      },
    };
  }

  // ---- thread messages ---------------------------------------------------------------------------

  /** Answers a person's message in its channel, pinging only them. */
  private async replyTo(message: Message, text: string): Promise<void> {
    await this.rest
      .post(Routes.channelMessages(message.channelId), {
        body: { content: truncateContent(text), message_reference: { message_id: message.id, fail_if_not_exists: false }, allowed_mentions: { parse: [], replied_user: true } },
      })
      .catch((error: unknown) => {
        throw deliveryError(error, 'send the reply');
      });
  }

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
      const who: Requester = {
        user: message.author.id,
        isAdmin: Boolean(message.member?.permissions.has(PermissionFlagsBits.Administrator)) || roles.some((role) => this.config.adminRoles.includes(role)),
        guildId: message.guildId,
        channelId: channel.id,
        parentId: channel.isThread() ? channel.parentId : null,
        inDm,
        roles,
      };
      if (this.refusal(who)) return; // outside the allow-lists the bot stays silent rather than answer in public
      const image = message.attachments.find((attachment) => isImageAttachment({ name: attachment.name, contentType: attachment.contentType }));
      await handlers.threadMessage({
        platform: this.platform,
        user: who.user,
        isAdmin: who.isAdmin,
        channel: channel.id,
        thread: channel.id,
        message: message.id,
        text: message.content.replace(new RegExp(`^\\s*<@!?${bot.id}>\\s*`), '').trim(),
        ...(image ? { image: this.file(image) } : {}),
        postStatus: (status) => this.postInChannel(channel.id, channel.id, status),
        // Outside an interaction Discord has no private replies: answer the person's message, pinging only them.
        replyPrivately: (text) => this.replyTo(message, text),
      });
    } catch (error) {
      this.log.error({ err: error instanceof GasError ? error : String(error), message: message.id }, 'message handling failed');
    }
  }

  // ---- attachments ---------------------------------------------------------------------------------

  private file(attachment: Attachment): IncomingFile {
    return incomingFile({ name: attachment.name, url: attachment.url, contentType: attachment.contentType, size: attachment.size }, this.hosts);
  }

  /** The first image of a message, read with the bot token (the context menu's target after a restart). */
  private async fetchImage(channelId: string, messageId: string): Promise<IncomingFile | undefined> {
    try {
      const message = (await this.rest.get(Routes.channelMessage(channelId, messageId))) as APIMessage;
      const image = message.attachments.find((attachment) => isImageAttachment({ name: attachment.filename, contentType: attachment.content_type }));
      return image ? incomingFile({ name: image.filename, url: image.url, contentType: image.content_type, size: image.size }, this.hosts) : undefined;
    } catch {
      return undefined;
    }
  }
}

