/**
 * The Slack plug of the chat flow (src/chat/transport.ts) over Bolt: mentions, DMs, thread replies
 * and buttons in; one status message per job out, posted in the person's thread and updated with
 * chat.update. Inline images (masks, previews) are uploaded without a channel and shown as
 * `slack_file` image blocks once Slack has processed them; the result is uploaded into the thread.
 * Socket Mode by default, HTTP mode (signed requests, checked by Bolt) by config. Bolt acknowledges
 * events before anything else runs; buttons are acknowledged first thing. What is said, and when,
 * is the flow's.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, LogLevel, webApi } from '@slack/bolt';
import { parseButtonId, type ChatFlowHandlers, type ChatImage, type ChatMessage, type ChatTransport, type IncomingFile, type StatusRef } from '../../src/chat/transport.js';
import { GasError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';
import { slackMessage, truncateText, type ShownFile } from './blocks.js';
import { boltLogger } from './bolt-logger.js';
import { parseSlackConfig, type SlackConfig, type SlackConfigInput } from './config.js';
import { fileHosts, incomingFile, isImageFile, type SlackFileObject } from './download.js';
import { slackFormat } from './format.js';

export interface SlackStatusRef extends StatusRef {
  platform: 'slack';
}

/** The fields of message and app_mention events the adapter reads. */
interface SlackMessageEvent {
  type: 'message' | 'app_mention';
  subtype?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  channel: string;
  channel_type?: string;
  files?: SlackFileObject[];
}

/** The fields of a block_actions payload the adapter reads. */
interface ButtonPayload {
  user: { id: string };
  channel?: { id: string };
  message?: { ts: string; thread_ts?: string };
  container?: { channel_id?: string; message_ts?: string; thread_ts?: string };
  actions: Array<{ action_id: string }>;
}

/** Message subtypes that are a person writing (everything else is an edit, a join, a bot…). */
const PERSON_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);
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
  readonly maxUploadBytes: number;
  private readonly config: SlackConfig;
  private readonly hosts: string[];
  private readonly log: Logger;
  private readonly client: webApi.WebClient;
  private app?: App;
  private bot?: { userId: string; botId?: string };
  private readonly uploaded = new Map<string, string>();
  /** Results already uploaded into a thread, per status message and content. */
  private readonly resultsPosted = new Set<string>();

  constructor(config: SlackConfigInput, log: Logger = createLogger('slack')) {
    this.config = parseSlackConfig(config);
    this.editIntervalMs = this.config.editIntervalMs;
    this.maxUploadBytes = this.config.maxUploadBytes;
    this.hosts = fileHosts(this.config.apiUrl);
    this.log = log;
    this.client = new webApi.WebClient(this.config.botToken, this.clientOptions());
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
      ...(config.mode === 'socket'
        ? { socketMode: true, appToken: config.appToken, installerOptions: { clientOptions: this.clientOptions() } }
        : { signingSecret: config.signingSecret, port: config.port }),
    });
    app.event('app_mention', async ({ event }) => this.onMention(event as unknown as SlackMessageEvent, handlers));
    app.event('message', async ({ event }) => this.onMessage(event as unknown as SlackMessageEvent, handlers));
    app.action(/^gas:/, async ({ ack, body }) => {
      await ack();
      await this.onButton(body as unknown as ButtonPayload, handlers);
    });
    app.error(async (error) => {
      this.log.error({ err: String(error?.message ?? error) }, 'slack event handling failed');
    });
    this.app = app;
    try {
      if (config.mode === 'http') await app.start(config.port);
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
    const response = await fetch(url, { method: 'POST', body: new Uint8Array(image.data), headers: { 'content-type': image.contentType }, redirect: 'error' });
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

  // ---- who may do what ----------------------------------------------------------------------------

  private refusal(channel: string, user: string, isDm: boolean): string | undefined {
    const { allowedChannels, allowedUsers } = this.config;
    if (allowedUsers.length > 0 && !allowedUsers.includes(user)) return 'You are not on the list of people who may request edits; ask the bot’s admin.';
    if (!isDm && allowedChannels.length > 0 && !allowedChannels.includes(channel)) {
      return `Edits are not enabled in this channel; use ${allowedChannels.map((id) => `<#${id}>`).join(', ')}.`;
    }
    return undefined;
  }

  // ---- events ----------------------------------------------------------------------------------------

  private isOwn(event: SlackMessageEvent): boolean {
    return Boolean(event.bot_id) || !event.user || event.user === this.bot?.userId;
  }

  private mentionsBot(text: string | undefined): boolean {
    return Boolean(this.bot?.userId) && (text ?? '').includes(`<@${this.bot!.userId}`);
  }

  /** The request without the bot's mentions (`<@U123>` or `<@U123|name>`). */
  private requestText(text: string | undefined): string {
    const id = this.bot?.userId;
    const withoutMentions = id ? (text ?? '').replace(new RegExp(`<@${id}(?:\\|[^>]*)?>`, 'g'), ' ') : (text ?? '');
    return withoutMentions.replace(/\s+/g, ' ').trim();
  }

  /** The first image shared; else the first file, so that the flow names it as not an image instead of asking for one. */
  private sharedFile(event: SlackMessageEvent): IncomingFile | undefined {
    const file = event.files?.find(isImageFile) ?? event.files?.[0];
    return file ? incomingFile(file, this.config.botToken, this.hosts) : undefined;
  }

  private async onMention(event: SlackMessageEvent, handlers: ChatFlowHandlers): Promise<void> {
    if (this.isOwn(event)) return;
    await this.toEditRequest(event, handlers, true);
  }

  private async onMessage(event: SlackMessageEvent, handlers: ChatFlowHandlers): Promise<void> {
    if (!PERSON_SUBTYPES.has(event.subtype) || this.isOwn(event)) return;
    const isDm = event.channel_type === 'im';
    const inThread = event.thread_ts !== undefined && event.thread_ts !== event.ts;
    if (isDm && !inThread) return this.toEditRequest(event, handlers, true);
    // The app_mention twin of this event answers refusals; this copy only reaches the flow's de-duplication.
    if (this.mentionsBot(event.text)) return this.toEditRequest(event, handlers, false);
    if (inThread) return this.toThreadMessage(event, handlers);
  }

  private async toEditRequest(event: SlackMessageEvent, handlers: ChatFlowHandlers, answersRefusal: boolean): Promise<void> {
    const user = event.user!;
    const thread = event.thread_ts ?? event.ts;
    const refusal = this.refusal(event.channel, user, event.channel_type === 'im');
    if (refusal) {
      if (answersRefusal) await this.replyPrivately(event.channel, user, thread, refusal).catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not refuse privately'));
      return;
    }
    const image = this.sharedFile(event);
    await handlers.editRequest({
      platform: this.platform,
      user,
      isAdmin: false,
      channel: event.channel,
      text: this.requestText(event.text),
      ...(image ? { image } : {}),
      options: {},
      thread,
      message: event.ts,
      messageIsRequest: true,
      replyPrivately: (text) => this.replyPrivately(event.channel, user, thread, text),
      postStatus: (message) => this.postStatus(event.channel, thread, message),
    });
  }

  private async toThreadMessage(event: SlackMessageEvent, handlers: ChatFlowHandlers): Promise<void> {
    const user = event.user!;
    const thread = event.thread_ts!;
    if (this.refusal(event.channel, user, event.channel_type === 'im')) return; // silent outside the allow-lists
    const image = this.sharedFile(event);
    await handlers.threadMessage({
      platform: this.platform,
      user,
      isAdmin: false,
      channel: event.channel,
      thread,
      message: event.ts,
      text: this.requestText(event.text),
      ...(image ? { image } : {}),
      replyPrivately: (text) => this.replyPrivately(event.channel, user, thread, text),
      postStatus: (message) => this.postStatus(event.channel, thread, message),
    });
  }

  private async onButton(body: ButtonPayload, handlers: ChatFlowHandlers): Promise<void> {
    const parsed = parseButtonId(body.actions[0]?.action_id ?? '');
    const channel = body.channel?.id ?? body.container?.channel_id;
    const ts = body.message?.ts ?? body.container?.message_ts;
    if (!parsed || !channel || !ts) return;
    const user = body.user.id;
    const thread = body.message?.thread_ts ?? body.container?.thread_ts ?? ts;
    const refusal = this.refusal(channel, user, channel.startsWith('D'));
    if (refusal) {
      await this.replyPrivately(channel, user, thread, refusal).catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not refuse privately'));
      return;
    }
    await handlers.buttonPressed({
      platform: this.platform,
      user,
      isAdmin: false,
      channel,
      action: parsed.action,
      jobId: parsed.jobId,
      status: { platform: this.platform, channel, message: ts, thread },
      postStatus: (message) => this.postStatus(channel, thread, message),
      replyPrivately: (text) => this.replyPrivately(channel, user, thread, text),
    });
  }
}
