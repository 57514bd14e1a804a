/**
 * The Slack plug of the chat flow (src/chat/transport.ts) over Bolt: mentions, DMs, thread replies
 * and buttons in; one status message per job out, posted in the person's thread and updated with
 * chat.update. Inline images (masks, previews) are uploaded without a channel and shown as
 * `slack_file` image blocks once Slack has processed them; the result is uploaded into the thread.
 * Socket Mode by default, HTTP mode (signed requests, checked by Bolt) by config. Bolt acknowledges
 * events before anything else runs; buttons are acknowledged first thing. Who may use the bot,
 * downloads, truncation and the shape of what the flow receives are the shared policy's
 * (src/chat); what is said, and when, is the flow's.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, LogLevel, webApi, type BlockAction, type Receiver, type types } from '@slack/bolt';
import { AccessPolicy } from '../../src/chat/access.js';
import { buttonPress, editRequest, threadMessage, withoutMentions, type ChatEvent, type Said } from '../../src/chat/incoming.js';
import type { ChatFlowHandlers, ChatImage, ChatMessage, ChatTransport, StatusRef, UploadLimits } from '../../src/chat/transport.js';
import type { FileSource } from '../../src/chat/download.js';
import { parseSettings } from '../../src/config/section.js';
import { GasError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';
import { slackMessage, truncateText, type ShownFile } from './blocks.js';
import { boltLogger } from './bolt-logger.js';
import { slackSection, type SlackConfig, type SlackConfigInput } from './config.js';
import { fileHosts, firstImage, sharedFile, slackFileSource } from './download.js';
import { slackFormat } from './format.js';

export interface SlackStatusRef extends StatusRef {
  platform: 'slack';
}

/** The Web API methods the transport calls: a WebClient has them, and so may a test's stand-in. */
export interface SlackWebApi {
  auth: Pick<webApi.WebClient['auth'], 'test'>;
  chat: Pick<webApi.WebClient['chat'], 'postMessage' | 'update' | 'postEphemeral'>;
  files: Pick<webApi.WebClient['files'], 'getUploadURLExternal' | 'completeUploadExternal' | 'info'>;
  filesUploadV2: webApi.WebClient['filesUploadV2'];
}

/** The platform clients, injectable so that a test drives the transport without a network. */
export interface SlackDeps {
  /** Where events arrive: a Bolt Receiver (bolt-js's own test seam). Default: Socket Mode or HTTP, as configured. */
  receiver?: Receiver;
  /** The Web API client for the bot's own calls. Default: a WebClient on SLACK_API_URL. */
  client?: SlackWebApi;
  /** Uploads inline images and downloads shared files. Default: the global fetch. */
  fetch?: typeof fetch;
}

/** A person's message as Slack delivers it: a mention of the bot, or a message (plain, with files, or a thread reply also sent to the channel). */
type PersonMessage = types.AppMentionEvent | types.GenericMessageEvent | types.FileShareMessageEvent | types.ThreadBroadcastMessageEvent;

/** Message subtypes that are a person writing (everything else is an edit, a join, a bot…). */
const PERSON_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);
const isPersonMessage = (event: types.MessageEvent): event is Exclude<PersonMessage, types.AppMentionEvent> => PERSON_SUBTYPES.has(event.subtype);
const inDm = (event: PersonMessage) => 'channel_type' in event && event.channel_type === 'im';
const MAX_EPHEMERAL_CHARS = 3000;
/** Polling files.info for an upload to be processed: first wait, growth, longest wait. */
const FILE_POLL = { firstMs: 150, factor: 1.6, maxMs: 1_500 };
/** Inline images already uploaded, by content, so a masks image shown in every edit is uploaded once. */
const MAX_CACHED_FILES = 64;

/** Slack's errors carry the method and its code; people get a sentence, logs the code. Never a token. */
function deliveryError(error: unknown, what: string): GasError {
  if (error instanceof GasError) return error;
  const code = error instanceof Error && 'data' in error ? (error as { data?: { error?: string } }).data?.error : undefined;
  const hint = code === 'not_in_channel' || code === 'channel_not_found' ? ' Invite the bot to this channel (/invite @bot) and try again.' : '';
  return new GasError('internal', `Slack refused to ${what}.${hint}`, { code: code ?? String((error as Error)?.message ?? error) });
}

export class SlackTransport implements ChatTransport {
  readonly platform = 'slack' as const;
  readonly format = slackFormat;
  readonly editIntervalMs: number;
  readonly uploadLimits: UploadLimits;
  private readonly config: SlackConfig;
  private readonly files: FileSource;
  private readonly access: AccessPolicy;
  private readonly client: SlackWebApi;
  private app?: App;
  private bot?: { userId: string; botId?: string };
  private readonly uploaded = new Map<string, string>();
  /** Results already uploaded into a thread, per status message and content. */
  private readonly resultsPosted = new Set<string>();

  constructor(config: SlackConfigInput, private readonly log: Logger = createLogger('slack'), private readonly deps: SlackDeps = {}) {
    this.config = parseSettings(slackSection, config);
    this.editIntervalMs = this.config.editIntervalMs;
    // Slack takes each file in its own upload: there is no total per message.
    this.uploadLimits = { fileBytes: this.config.maxUploadBytes };
    this.files = slackFileSource(this.config.botToken, fileHosts(this.config.apiUrl), deps.fetch);
    this.access = new AccessPolicy({ channels: this.config.allowedChannels, users: this.config.allowedUsers }, { space: 'workspace' });
    this.client = deps.client ?? new webApi.WebClient(this.config.botToken, this.clientOptions());
  }

  /**
   * Options for one Web API client. Each client gets its own object: the Socket Mode client writes
   * into its options, and Bolt hands it `installerOptions.clientOptions`, not `clientOptions`
   * (bolt-js#2292), so without this it would open its connection at slack.com whatever SLACK_API_URL says.
   */
  private clientOptions(): webApi.WebClientOptions {
    return {
      slackApiUrl: this.config.apiUrl,
      logger: boltLogger(this.log),
      retryConfig: { retries: this.config.apiRetries, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
    };
  }

  /** Where events come from: the injected receiver, else Socket Mode or HTTP as configured. */
  private receiving() {
    const { config, deps } = this;
    if (deps.receiver) return { receiver: deps.receiver };
    return config.mode === 'socket'
      ? { socketMode: true, appToken: config.appToken, installerOptions: { clientOptions: this.clientOptions() } }
      : { signingSecret: config.signingSecret, port: config.port };
  }

  async start(handlers: ChatFlowHandlers): Promise<void> {
    const { config } = this;
    let auth: { user_id?: string; bot_id?: string };
    try {
      auth = await this.client.auth.test();
    } catch (error) {
      const code = deliveryError(error, 'connect').details?.code;
      throw code === 'invalid_auth' || code === 'not_authed' || code === 'token_revoked'
        ? new GasError('service_unavailable', 'Slack refused the bot token; check SLACK_BOT_TOKEN.')
        : new GasError('service_unavailable', `Cannot reach Slack at ${new URL(config.apiUrl).host}; check SLACK_API_URL and the network.`, { code });
    }
    this.bot = { userId: auth.user_id ?? '', ...(auth.bot_id ? { botId: auth.bot_id } : {}) };
    const app = new App({
      token: config.botToken,
      botUserId: this.bot.userId,
      ...(this.bot.botId ? { botId: this.bot.botId } : {}),
      logger: boltLogger(this.log),
      logLevel: LogLevel.WARN,
      clientOptions: this.clientOptions(),
      ...this.receiving(),
    });
    app.event('app_mention', async ({ event }) => this.onMention(event, handlers));
    app.event('message', async ({ event }) => this.onMessage(event, handlers));
    app.action<BlockAction>({ type: 'block_actions', action_id: /^gas:/ }, async ({ ack, body }) => {
      await ack();
      await this.onButton(body, handlers);
    });
    app.error(async (error) => {
      this.log.error({ err: String(error?.message ?? error) }, 'slack event handling failed');
    });
    this.app = app;
    try {
      if (config.mode === 'http' && !this.deps.receiver) await app.start(config.port);
      else await app.start();
    } catch (error) {
      this.app = undefined;
      await app.stop().catch(() => {});
      throw new GasError(
        'service_unavailable',
        config.mode === 'socket'
          ? 'Slack refused the Socket Mode connection; check SLACK_APP_TOKEN (an xapp- token with connections:write).'
          : `Cannot listen for Slack events on port ${config.port}; check SLACK_PORT.`,
        { cause: String((error as Error)?.message ?? error) },
      );
    }
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.stop();
  }

  async postInThread(ref: StatusRef, message: ChatMessage): Promise<StatusRef> {
    return this.postStatus(ref.channel, ref.thread, message);
  }

  /** Every reply in a thread the bot is in reaches it (message events), so none needs to mention it. */
  replyMention(): string | undefined {
    return undefined;
  }

  async editStatus(ref: StatusRef, message: ChatMessage): Promise<void> {
    try {
      const body = slackMessage(message, await this.showInline(message.images));
      await this.client.chat.update({ channel: ref.channel, ts: ref.message, text: body.text, blocks: body.blocks });
      await this.uploadResult(ref, message);
    } catch (error) {
      throw deliveryError(error, 'update the status message');
    }
  }

  // ---- sending -------------------------------------------------------------------------------

  /** A new status message in a thread. */
  private async postStatus(channel: string, thread: string, message: ChatMessage): Promise<SlackStatusRef> {
    try {
      const body = slackMessage(message, await this.showInline(message.images));
      const posted = await this.client.chat.postMessage({ channel, thread_ts: thread, text: body.text, blocks: body.blocks, unfurl_links: false, unfurl_media: false });
      const ref: SlackStatusRef = { platform: 'slack', channel, message: String(posted.ts), thread };
      await this.uploadResult(ref, message);
      return ref;
    } catch (error) {
      throw deliveryError(error, 'post the status message');
    }
  }

  private async replyPrivately(channel: string, user: string, thread: string | undefined, text: string): Promise<void> {
    try {
      await this.client.chat.postEphemeral({ channel, user, text: truncateText(text, MAX_EPHEMERAL_CHARS), ...(thread ? { thread_ts: thread } : {}) });
    } catch (error) {
      throw deliveryError(error, 'send the private reply');
    }
  }

  /** Uploads the message's inline images (external upload, no channel) and waits until Slack can show them. */
  private async showInline(images: readonly ChatImage[]): Promise<ShownFile[]> {
    const inline = images.filter((image) => image.placement === 'inline');
    return Promise.all(inline.map(async (image) => ({ fileId: await this.uploadInline(image), alt: image.alt })));
  }

  private async uploadInline(image: ChatImage): Promise<string> {
    const hash = createHash('sha256').update(image.data).digest('hex');
    const known = this.uploaded.get(hash);
    if (known) return known;
    const { upload_url: url, file_id: fileId } = await this.client.files.getUploadURLExternal({ filename: image.name, length: image.data.length, alt_text: image.alt });
    if (!url || !fileId) throw new GasError('internal', 'Slack did not give an upload address for an image.');
    const response = await (this.deps.fetch ?? fetch)(url, { method: 'POST', body: new Uint8Array(image.data), headers: { 'content-type': image.contentType }, redirect: 'error' });
    if (!response.ok) throw new GasError('internal', 'Slack refused an image upload.', { status: response.status });
    await response.body?.cancel();
    await this.client.files.completeUploadExternal({ files: [{ id: fileId, title: image.name }] });
    await this.waitUntilProcessed(fileId);
    if (this.uploaded.size >= MAX_CACHED_FILES) this.uploaded.delete(this.uploaded.keys().next().value!);
    this.uploaded.set(hash, fileId);
    return fileId;
  }

  /** Slack processes uploads asynchronously; a block naming an unprocessed file is refused (invalid_blocks). */
  private async waitUntilProcessed(fileId: string): Promise<void> {
    const deadline = Date.now() + this.config.fileReadyTimeoutMs;
    let wait = FILE_POLL.firstMs;
    for (;;) {
      const info = await this.client.files.info({ file: fileId });
      if (info.file?.mimetype) return;
      if (Date.now() + wait > deadline) throw new GasError('internal', 'Slack did not finish processing an image in time.', { fileId });
      await sleep(wait);
      wait = Math.min(FILE_POLL.maxMs, wait * FILE_POLL.factor);
    }
  }

  /** The result, at full resolution, as a file in the thread: once per status message and image. */
  private async uploadResult(ref: StatusRef, message: ChatMessage): Promise<void> {
    const result = message.images.find((image) => image.placement === 'result');
    if (!result) return;
    const key = `${ref.channel}:${ref.message}:${createHash('sha256').update(result.data).digest('hex')}`;
    if (this.resultsPosted.has(key)) return;
    await this.client.filesUploadV2({ channel_id: ref.channel, thread_ts: ref.thread, file: result.data, filename: result.name, title: result.name, alt_text: result.alt });
    if (this.resultsPosted.size >= MAX_CACHED_FILES) this.resultsPosted.delete(this.resultsPosted.values().next().value!);
    this.resultsPosted.add(key);
  }

  // ---- events ----------------------------------------------------------------------------------------

  /** Who acted in which channel and thread, and how to answer them there. */
  private event(channel: string, user: string, thread: string): ChatEvent {
    return {
      platform: this.platform,
      user,
      isAdmin: false, // Slack marks no admins: the flow's own list of admins applies
      channel,
      thread,
      replyPrivately: (text) => this.replyPrivately(channel, user, thread, text),
      postStatus: (message) => this.postStatus(channel, thread, message),
    };
  }

  /** Whether the person may use the bot here; when not, tells them privately if `answer`, else stays silent. */
  private admitted(chat: ChatEvent, isDm: boolean, answer: boolean): Promise<boolean> {
    const refuse = (refusal: string) => chat.replyPrivately(refusal).catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not refuse privately'));
    return this.access.admits({ user: chat.user, channel: chat.channel, isDm, roles: [], platformAdmin: false }, answer ? refuse : undefined);
  }

  private isOwn(event: PersonMessage): boolean {
    return ('bot_id' in event && Boolean(event.bot_id)) || !event.user || event.user === this.bot?.userId;
  }

  private mentionsBot(text: string | undefined): boolean {
    return Boolean(this.bot?.userId) && (text ?? '').includes(`<@${this.bot!.userId}`);
  }

  /** What the person wrote, without the bot's mentions, and the file they shared. */
  private said(event: PersonMessage): Said & { message: string } {
    const file = firstImage('files' in event ? event.files : undefined);
    return { text: withoutMentions(event.text ?? '', this.bot?.userId), ...(file ? { image: sharedFile(file, this.files) } : {}), message: event.ts };
  }

  private async onMention(event: types.AppMentionEvent, handlers: ChatFlowHandlers): Promise<void> {
    if (this.isOwn(event)) return;
    await this.toEditRequest(event, handlers, true);
  }

  private async onMessage(event: types.MessageEvent, handlers: ChatFlowHandlers): Promise<void> {
    if (!isPersonMessage(event) || this.isOwn(event)) return;
    const inThread = event.thread_ts !== undefined && event.thread_ts !== event.ts;
    if (inDm(event) && !inThread) return this.toEditRequest(event, handlers, true);
    // The app_mention twin of this event answers refusals; this copy only reaches the flow's de-duplication.
    if (this.mentionsBot(event.text)) return this.toEditRequest(event, handlers, false);
    if (inThread) return this.toThreadMessage(event, handlers);
  }

  private async toEditRequest(event: PersonMessage, handlers: ChatFlowHandlers, answersRefusal: boolean): Promise<void> {
    const chat = this.event(event.channel, event.user!, event.thread_ts ?? event.ts);
    if (!(await this.admitted(chat, inDm(event), answersRefusal))) return;
    await handlers.editRequest(editRequest(chat, this.said(event), true));
  }

  private async toThreadMessage(event: PersonMessage, handlers: ChatFlowHandlers): Promise<void> {
    const chat = this.event(event.channel, event.user!, event.thread_ts!);
    if (!(await this.admitted(chat, inDm(event), false))) return; // silent outside the allow-lists
    await handlers.threadMessage(threadMessage(chat, this.said(event)));
  }

  private async onButton(body: BlockAction, handlers: ChatFlowHandlers): Promise<void> {
    const channel: string | undefined = body.channel?.id ?? body.container.channel_id;
    const ts: string | undefined = body.message?.ts ?? body.container.message_ts;
    if (!channel || !ts) return;
    const chat = this.event(channel, body.user.id, body.message?.thread_ts ?? body.container.thread_ts ?? ts);
    const press = buttonPress(chat, body.actions[0]?.action_id ?? '', ts);
    if (!press || !(await this.admitted(chat, channel.startsWith('D'), true))) return;
    await handlers.buttonPressed(press);
  }
}
