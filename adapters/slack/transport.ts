/**
 * The Slack plug of the chat flow (src/chat/transport.ts) over Bolt: mentions, DMs, thread replies,
 * buttons, menus and the "Edit image" message shortcut in; one status message per job out, posted
 * in the person's thread and updated with chat.update. Inline images (masks, previews) are
 * uploaded without a channel and shown as `slack_file` image blocks once Slack has processed them
 * (an image already uploaded is shown again by its file id, also after a restart); the result is
 * uploaded into the thread. Socket Mode by default, HTTP mode (signed requests, checked by Bolt)
 * by config. Bolt acknowledges events before anything else runs; interactions are acknowledged
 * first thing, whatever they are. Who may use the bot, downloads, truncation and the shape of what
 * the flow receives are the shared policy's (src/chat); what is said, and when, is the flow's.
 *
 * Direct messages: the DM is the conversation (the flow's edit thread is the DM channel), as on
 * Discord, so a later message in the DM without a photo continues its latest result; statuses
 * still go in the message's own thread.
 *
 * Rate limits: chat.update is Tier 3, counted per app per workspace. A 429 on it is not waited out
 * by the Web API client: it comes back at once as PlatformRateLimited with Slack's Retry-After,
 * for whoever paces the updates, and `editBudget()` names the workspace they share.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, LogLevel, SocketModeReceiver, webApi, type BlockAction, type MessageShortcut, type Receiver, type types, type ViewSubmitAction } from '@slack/bolt';
import { AccessPolicy } from '../../src/chat/access.js';
import { buttonPress, editRequest, threadMessage, withoutMentions, type ChatEvent, type Said } from '../../src/chat/incoming.js';
import type { PlatformStore } from '../../src/chat/platform.js';
import { PlatformRateLimited, type ChatFlowHandlers, type ChatImage, type ChatMessage, type ChatTransport, type StatusRef, type UploadLimits } from '../../src/chat/transport.js';
import { isPhotoFile, PHOTO_FORMATS, type FileSource } from '../../src/chat/download.js';
import { parseSettings } from '../../src/config/section.js';
import type { EditBudgetSpec } from '../../src/chat/edit-budget.js';
import { GasError } from '../../src/errors.js';
import { memoryPlatformStore } from '../../src/jobs/platform-store.js';
import { createLogger, type Logger } from '../../src/log.js';
import { slackMessage, truncateText, type ShownFile } from './blocks.js';
import { boltLogger } from './bolt-logger.js';
import { slackSection, type SlackConfig, type SlackConfigInput } from './config.js';
import { fileHosts, firstImage, needsFileInfo, sharedFile, slackFileSource, type SlackFileObject } from './download.js';
import { slackFormat } from './format.js';
import { EDIT_IMAGE_SHORTCUT } from './manifest.js';

/** chat.update's Tier 3 limit per app per workspace (docs.slack.dev/apis/web-api/rate-limits). */
const SLACK_UPDATES_PER_MINUTE = 50;

export interface SlackStatusRef extends StatusRef {
  platform: 'slack';
  /** The Slack thread (thread_ts) the status is in, where it differs from the conversation (`thread`): in a DM, the DM is the conversation. */
  threadTs?: string;
}

/** The Web API methods the transport calls: a WebClient has them, and so may a test's stand-in. */
export interface SlackWebApi {
  auth: Pick<webApi.WebClient['auth'], 'test'>;
  chat: Pick<webApi.WebClient['chat'], 'postMessage' | 'update' | 'postEphemeral'>;
  files: Pick<webApi.WebClient['files'], 'getUploadURLExternal' | 'completeUploadExternal' | 'info'>;
  views?: Pick<webApi.WebClient['views'], 'open'>;
}

/** The platform clients, injectable so that a test drives the transport without a network. */
export interface SlackDeps {
  /** Where events arrive: a Bolt Receiver (bolt-js's own test seam). Default: Socket Mode or HTTP, as configured. */
  receiver?: Receiver;
  /** The Web API client for the bot's own calls. Default: a WebClient on SLACK_API_URL. */
  client?: SlackWebApi;
  /** Uploads images and downloads shared files. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Where what must survive a restart is kept (the bot process gives its Redis one through `useStore`). Default: memory. */
  store?: PlatformStore;
}

/** A person's message as Slack delivers it: a mention of the bot, or a message (plain, with files, or a thread reply also sent to the channel). */
type PersonMessage = types.AppMentionEvent | types.GenericMessageEvent | types.FileShareMessageEvent | types.ThreadBroadcastMessageEvent;

/** Message subtypes that are a person writing (everything else is an edit, a join, a bot…). */
const PERSON_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);
const isPersonMessage = (event: types.MessageEvent): event is Exclude<PersonMessage, types.AppMentionEvent> => PERSON_SUBTYPES.has(event.subtype);
const inDm = (event: PersonMessage) => 'channel_type' in event && event.channel_type === 'im';
const isDmChannel = (channel: string) => channel.startsWith('D');
const MAX_EPHEMERAL_CHARS = 3000;
/** Polling files.info for an upload to be processed: first wait, growth, longest wait. */
const FILE_POLL = { firstMs: 150, factor: 1.6, maxMs: 1_500 };
/** Uploads remembered by content, so a masks image shown in every update is uploaded once (also in the store, for a restarted process). */
const MAX_CACHED_FILES = 64;
const FILE_MEMORY_MS = 7 * 24 * 3600_000;
/** files.getUploadURLExternal's alt_txt: at most 1000 characters. */
const ALT_TXT_MAX = 1_000;
/** A button or menu id of ours: `gas:<action>:<job id>`, the job id a UUID or a test's short name. */
const OUR_ID = /^gas:[a-z]+:[A-Za-z0-9_-]{1,64}$/;
/** The "Edit image" modal: its callback id, and where its request input is. */
export const EDIT_MODAL = { callbackId: 'gas_edit_image_modal', block: 'request', input: 'request' } as const;
/**
 * A request's own options at its end: `steps=300 seed=7 check=yes` (the flow checks their bounds);
 * `check` as Discord's option of that name: yes asks to check the masks before any GPU time, no never.
 */
const TRAILING_OPTION = /(?:^|\s)(?:(steps|seed)=(\d{1,10})|(check)=(yes|no|on|off|true|false))\s*$/i;
const CHECK_WORDS: Record<string, boolean> = { yes: true, on: true, true: true, no: false, off: false, false: false };

/** Slack's errors carry the method and its code; people get a sentence, logs the code. Never a token. */
function deliveryError(error: unknown, what: string): GasError {
  if (error instanceof GasError) return error;
  const code = error instanceof Error && 'data' in error ? (error as { data?: { error?: string } }).data?.error : undefined;
  const hint = code === 'not_in_channel' || code === 'channel_not_found' ? ' Invite the bot to this channel (/invite @bot) and try again.' : '';
  return new GasError('internal', `Slack refused to ${what}.${hint}`, { code: code ?? String((error as Error)?.message ?? error) });
}

/** A request's text with its trailing `steps=N` / `seed=N` / `check=yes|no` taken off, and those options. */
export function requestOptions(text: string): { text: string; options: { steps?: number; seed?: number; check?: boolean } } {
  const options: { steps?: number; seed?: number; check?: boolean } = {};
  let rest = text;
  for (let match = TRAILING_OPTION.exec(rest); match; match = TRAILING_OPTION.exec(rest)) {
    if (match[3]) options.check ??= CHECK_WORDS[match[4].toLowerCase()];
    else {
      const name = match[1].toLowerCase() as 'steps' | 'seed';
      if (options[name] === undefined) options[name] = Number(match[2]);
    }
    rest = rest.slice(0, match.index).trimEnd();
  }
  return { text: rest, options };
}

/** What the modal of "Edit image" carries from the shortcut to its submission. */
interface ShortcutTarget {
  channel: string;
  ts: string;
  threadTs?: string;
  file: SlackFileObject;
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
  /** chat.update's own client: a 429 comes back at once with its Retry-After instead of being waited out. */
  private readonly updates: Pick<SlackWebApi, 'chat'>;
  private store: PlatformStore;
  private app?: App;
  private socket?: SocketModeReceiver;
  private listening = false;
  private bot?: { userId: string; botId?: string; teamId?: string };
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
    this.updates = deps.client ?? new webApi.WebClient(this.config.botToken, { ...this.clientOptions(), rejectRateLimitedCalls: true });
    this.store = deps.store ?? memoryPlatformStore();
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

  useStore(store: PlatformStore): void {
    this.store = store;
  }

  /** Where events come from: the injected receiver, else Socket Mode or HTTP as configured. */
  private receiving() {
    const { config, deps } = this;
    if (deps.receiver) return { receiver: deps.receiver };
    if (config.mode === 'socket') {
      // Made here rather than by Bolt, so that /healthz can ask its connection whether it is up.
      this.socket = new SocketModeReceiver({ appToken: config.appToken!, logger: boltLogger(this.log), logLevel: LogLevel.WARN, installerOptions: { clientOptions: this.clientOptions() } });
      return { receiver: this.socket };
    }
    return { signingSecret: config.signingSecret, port: config.port };
  }

  /**
   * chat.update is a Tier 3 method: about 50 calls a minute per app per workspace
   * (docs.slack.dev/apis/web-api/rate-limits), so every status in the workspace (its team id) and
   * every bot process share one budget. Known once `start` has asked Slack who the bot is.
   */
  editBudget(): EditBudgetSpec | undefined {
    return this.bot?.teamId ? { scope: this.rateScope(), limit: SLACK_UPDATES_PER_MINUTE } : undefined;
  }

  private rateScope(): string {
    return `slack:${this.bot?.teamId ?? 'unknown'}`;
  }

  /**
   * Whether the connection to Slack is up (for /healthz): in Socket Mode, its WebSocket is open (a
   * dropped one reads false as soon as it closes, and a silent one once Slack's pings stop, within
   * 30 s); in HTTP mode, the bot listens.
   */
  connected(): boolean {
    if (!this.app) return false;
    if (this.socket) return this.socket.client.websocket?.isActive() ?? false;
    return this.listening;
  }

  async start(handlers: ChatFlowHandlers): Promise<void> {
    const { config } = this;
    let auth: { user_id?: string; bot_id?: string; team_id?: string };
    try {
      auth = await this.client.auth.test();
    } catch (error) {
      const code = deliveryError(error, 'connect').details?.code;
      throw code === 'invalid_auth' || code === 'not_authed' || code === 'token_revoked'
        ? new GasError('service_unavailable', 'Slack refused the bot token; check SLACK_BOT_TOKEN.')
        : new GasError('service_unavailable', `Cannot reach Slack at ${new URL(config.apiUrl).host}; check SLACK_API_URL and the network.`, { code });
    }
    this.bot = { userId: auth.user_id ?? '', ...(auth.bot_id ? { botId: auth.bot_id } : {}), ...(auth.team_id ? { teamId: auth.team_id } : {}) };
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
    // Every block action is acknowledged (Slack shows the person an error otherwise), ours or not.
    app.action<BlockAction>({ type: 'block_actions' }, async ({ ack, body }) => {
      await ack();
      await this.onAction(body, handlers);
    });
    app.shortcut<MessageShortcut>({ type: 'message_action', callback_id: EDIT_IMAGE_SHORTCUT }, async ({ ack, body }) => {
      await ack();
      await this.onEditImageShortcut(body);
    });
    app.view<ViewSubmitAction>({ type: 'view_submission', callback_id: EDIT_MODAL.callbackId }, async ({ ack, body }) => {
      await ack();
      await this.onEditImageModal(body, handlers);
    });
    app.error(async (error) => {
      this.log.error({ err: String(error?.message ?? error) }, 'slack event handling failed');
    });
    this.app = app;
    try {
      if (config.mode === 'http' && !this.deps.receiver) await app.start(config.port);
      else await app.start();
      this.listening = true;
    } catch (error) {
      this.app = undefined;
      this.socket = undefined;
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
    this.socket = undefined;
    this.listening = false;
    await app?.stop();
  }

  async postInThread(ref: StatusRef, message: ChatMessage): Promise<StatusRef> {
    const status = ref as SlackStatusRef;
    return this.postStatus(status.channel, status.thread, message, status.threadTs);
  }

  /** Every reply in a thread the bot is in reaches it (message events), so none needs to mention it. */
  replyMention(): string | undefined {
    return undefined;
  }

  async editStatus(ref: StatusRef, message: ChatMessage): Promise<void> {
    try {
      const body = slackMessage(message, await this.showInline(message.images));
      await this.updates.chat.update({ channel: ref.channel, ts: ref.message, text: body.text, blocks: body.blocks });
      await this.uploadResult(ref as SlackStatusRef, message);
    } catch (error) {
      if ((error as { code?: string })?.code === webApi.ErrorCode.RateLimitedError) {
        throw new PlatformRateLimited(((error as webApi.WebAPIRateLimitedError).retryAfter ?? 1) * 1000, this.rateScope(), 'Updating the status message');
      }
      throw deliveryError(error, 'update the status message');
    }
  }

  // ---- sending -------------------------------------------------------------------------------

  /** A new status message in a Slack thread (`threadTs`, else the conversation `thread`), kept as part of the conversation `thread`. */
  private async postStatus(channel: string, thread: string, message: ChatMessage, threadTs: string = thread): Promise<SlackStatusRef> {
    try {
      const body = slackMessage(message, await this.showInline(message.images));
      // A DM's conversation is the DM itself: a message there without a Slack thread goes at its top.
      const inThread = threadTs !== channel;
      const posted = await this.client.chat.postMessage({ channel, ...(inThread ? { thread_ts: threadTs } : {}), text: body.text, blocks: body.blocks, unfurl_links: false, unfurl_media: false });
      const ref: SlackStatusRef = { platform: 'slack', channel, message: String(posted.ts), thread, ...(threadTs !== thread ? { threadTs } : {}) };
      await this.uploadResult(ref, message);
      return ref;
    } catch (error) {
      throw deliveryError(error, 'post the status message');
    }
  }

  private async replyPrivately(channel: string, user: string, threadTs: string | undefined, text: string): Promise<void> {
    try {
      const inThread = threadTs !== undefined && threadTs !== channel;
      await this.client.chat.postEphemeral({ channel, user, text: truncateText(text, MAX_EPHEMERAL_CHARS), ...(inThread ? { thread_ts: threadTs } : {}) });
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
    const known = this.uploaded.get(hash) ?? (await this.store.get(`file:${hash}`).catch(() => undefined));
    if (known) return known;
    const fileId = await this.upload(image);
    await this.waitUntilProcessed(fileId);
    if (this.uploaded.size >= MAX_CACHED_FILES) this.uploaded.delete(this.uploaded.keys().next().value!);
    this.uploaded.set(hash, fileId);
    await this.store.set(`file:${hash}`, fileId, FILE_MEMORY_MS).catch((error: unknown) => this.log.debug({ err: String(error) }, 'could not remember an upload'));
    return fileId;
  }

  /**
   * An external upload (docs.slack.dev/reference/methods/files.getUploadURLExternal), with the
   * image's description as `alt_txt`, the method's name for it; shared into a thread when `into` says.
   */
  private async upload(image: ChatImage, into?: { channel: string; threadTs?: string }): Promise<string> {
    const args = { filename: image.name, length: image.data.length, ...(image.alt ? { alt_txt: image.alt.slice(0, ALT_TXT_MAX) } : {}) };
    const { upload_url: url, file_id: fileId } = await this.client.files.getUploadURLExternal(args as unknown as webApi.FilesGetUploadURLExternalArguments);
    if (!url || !fileId) throw new GasError('internal', 'Slack did not give an upload address for an image.');
    const response = await (this.deps.fetch ?? fetch)(url, { method: 'POST', body: new Uint8Array(image.data), headers: { 'content-type': image.contentType }, redirect: 'error' });
    if (!response.ok) throw new GasError('internal', 'Slack refused an image upload.', { status: response.status });
    await response.body?.cancel();
    const share = into ? { channel_id: into.channel, ...(into.threadTs && into.threadTs !== into.channel ? { thread_ts: into.threadTs } : {}) } : {};
    await this.client.files.completeUploadExternal({ files: [{ id: fileId, title: image.name }], ...share } as webApi.FilesCompleteUploadExternalArguments);
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
  private async uploadResult(ref: SlackStatusRef, message: ChatMessage): Promise<void> {
    const result = message.images.find((image) => image.placement === 'result');
    if (!result) return;
    const key = `${ref.channel}:${ref.message}:${createHash('sha256').update(result.data).digest('hex')}`;
    if (this.resultsPosted.has(key)) return;
    await this.upload(result, { channel: ref.channel, threadTs: ref.threadTs ?? ref.thread });
    if (this.resultsPosted.size >= MAX_CACHED_FILES) this.resultsPosted.delete(this.resultsPosted.values().next().value!);
    this.resultsPosted.add(key);
  }

  // ---- events ----------------------------------------------------------------------------------------

  /**
   * Who acted in which channel, in which conversation (`thread`: the flow's key), and how to answer
   * them there: statuses and private replies go in the Slack thread `threadTs` (in a DM, the
   * conversation is the DM and the thread the person's message's).
   */
  private event(channel: string, user: string, thread: string, threadTs: string = thread): ChatEvent {
    return {
      platform: this.platform,
      user,
      isAdmin: false, // Slack marks no admins: the flow's own list of admins applies
      channel,
      thread,
      replyPrivately: (text) => this.replyPrivately(channel, user, threadTs, text),
      postStatus: (message) => this.postStatus(channel, thread, message, threadTs),
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

  private fileInfo = async (id: string): Promise<SlackFileObject | undefined> => (await this.client.files.info({ file: id })).file as SlackFileObject | undefined;

  /** What the person wrote, without the bot's mentions (and, for a request, its trailing options), and the file they shared. */
  private said(event: PersonMessage, withOptions: boolean): Said & { message: string } {
    const file = firstImage('files' in event ? (event.files as SlackFileObject[] | undefined) : undefined);
    const text = withoutMentions(event.text ?? '', this.bot?.userId);
    const asked = withOptions ? requestOptions(text) : { text, options: {} };
    return { text: asked.text, ...(withOptions ? { options: asked.options } : {}), ...(file ? { image: sharedFile(file, this.files, this.fileInfo) } : {}), message: event.ts };
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

  /** The conversation a message belongs to: its DM, else its thread (or itself, starting one). */
  private conversationOf(event: PersonMessage): string {
    return inDm(event) ? event.channel : (event.thread_ts ?? event.ts);
  }

  private async toEditRequest(event: PersonMessage, handlers: ChatFlowHandlers, answersRefusal: boolean): Promise<void> {
    const chat = this.event(event.channel, event.user!, this.conversationOf(event), event.thread_ts ?? event.ts);
    if (!(await this.admitted(chat, inDm(event), answersRefusal))) return;
    await handlers.editRequest(editRequest(chat, this.said(event, true), true));
  }

  private async toThreadMessage(event: PersonMessage, handlers: ChatFlowHandlers): Promise<void> {
    const chat = this.event(event.channel, event.user!, this.conversationOf(event), event.thread_ts!);
    if (!(await this.admitted(chat, inDm(event), false))) return; // silent outside the allow-lists
    await handlers.threadMessage(threadMessage(chat, this.said(event, false)));
  }

  /** A button or menu: to the flow when it is one of ours; anything else gets a short answer. */
  private async onAction(body: BlockAction, handlers: ChatFlowHandlers): Promise<void> {
    const channel: string | undefined = body.channel?.id ?? body.container.channel_id;
    const ts: string | undefined = body.message?.ts ?? body.container.message_ts;
    if (!channel || !ts) return;
    const threadTs: string = body.message?.thread_ts ?? body.container.thread_ts ?? ts;
    const chat = this.event(channel, body.user.id, isDmChannel(channel) ? channel : threadTs, threadTs);
    const action = body.actions[0];
    const id = action?.action_id ?? '';
    const press = OUR_ID.test(id) ? buttonPress(chat, id, ts) : undefined;
    if (!(await this.admitted(chat, isDmChannel(channel), true))) return;
    if (!press) {
      await chat.replyPrivately('That control is not one this bot knows; it did nothing.').catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not reply privately'));
      return;
    }
    const value = action?.type === 'static_select' ? action.selected_option?.value : undefined;
    await handlers.buttonPressed(value !== undefined ? { ...press, value } : press);
  }

  /**
   * "Edit image" on a message (More actions): refused privately when the message has no photo;
   * else a modal asks what should change, carrying the message and its photo to the submission.
   */
  private async onEditImageShortcut(body: MessageShortcut): Promise<void> {
    const channel = body.channel.id;
    const ts = body.message.ts;
    const threadTs: string | undefined = body.message.thread_ts;
    const chat = this.event(channel, body.user.id, isDmChannel(channel) ? channel : (threadTs ?? ts), threadTs ?? ts);
    if (!(await this.admitted(chat, isDmChannel(channel), true))) return;
    const files = (body.message.files ?? []) as SlackFileObject[];
    const file = files.find((f) => isPhotoFile({ name: f.name ?? '', contentType: f.mimetype })) ?? files.find(needsFileInfo);
    if (!file) {
      const words = files.length > 0 ? `That message has no photo I can edit. Send a ${PHOTO_FORMATS} photo.` : `That message has no image to edit. Use Edit image on a message with a ${PHOTO_FORMATS} photo, or mention me with one.`;
      await chat.replyPrivately(words).catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not reply privately'));
      return;
    }
    const target: ShortcutTarget = { channel, ts, ...(threadTs ? { threadTs } : {}), file: { id: file.id, ...(file.name ? { name: file.name } : {}), ...(file.mimetype ? { mimetype: file.mimetype } : {}) } };
    try {
      await this.client.views!.open({
        trigger_id: body.trigger_id,
        view: {
          type: 'modal',
          callback_id: EDIT_MODAL.callbackId,
          private_metadata: JSON.stringify(target),
          title: { type: 'plain_text', text: 'Edit image' },
          submit: { type: 'plain_text', text: 'Edit' },
          close: { type: 'plain_text', text: 'Cancel' },
          blocks: [
            {
              type: 'input',
              block_id: EDIT_MODAL.block,
              label: { type: 'plain_text', text: 'What should change?' },
              element: { type: 'plain_text_input', action_id: EDIT_MODAL.input, multiline: true, max_length: 1000, placeholder: { type: 'plain_text', text: 'turn the dog into a tiger and the grass into snow' } },
            },
          ],
        },
      });
    } catch (error) {
      this.log.warn({ err: String(deliveryError(error, 'open the modal').details?.code) }, 'could not open the Edit image modal');
    }
  }

  /** The modal's submission: the edit starts in the message's thread, as a mention there would. */
  private async onEditImageModal(body: ViewSubmitAction, handlers: ChatFlowHandlers): Promise<void> {
    let target: ShortcutTarget;
    try {
      target = JSON.parse(body.view.private_metadata) as ShortcutTarget;
    } catch {
      this.log.warn('an Edit image modal without its target');
      return;
    }
    const threadTs = target.threadTs ?? target.ts;
    const chat = this.event(target.channel, body.user.id, isDmChannel(target.channel) ? target.channel : threadTs, threadTs);
    if (!(await this.admitted(chat, isDmChannel(target.channel), true))) return;
    const written = body.view.state.values[EDIT_MODAL.block]?.[EDIT_MODAL.input]?.value ?? '';
    const asked = requestOptions(withoutMentions(written, this.bot?.userId));
    await handlers.editRequest(editRequest(chat, { text: asked.text, options: asked.options, image: sharedFile(target.file, this.files, this.fileInfo), message: target.ts }));
  }
}
