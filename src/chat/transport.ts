/**
 * The seam between the platform-neutral chat flow (src/chat) and a platform adapter
 * (adapters/discord, adapters/slack), in the spirit of bolt-js's Receiver: the adapter turns
 * platform events into calls on `ChatFlowHandlers` and turns `ChatMessage`s into platform
 * payloads; everything a person experiences (what is said, when, who may press what) is decided
 * by the flow. Adapters never import ONNX or the worker; they meet the queue only through the flow.
 */
import { GasError } from '../errors.js';
import type { Platform } from '../jobs/contracts.js';
import type { EditBudgetSpec } from './edit-budget.js';

/**
 * What a button (or a menu) does. Ids on the wire are `gas:<action>:<jobId>` (see `buttonId`):
 * `go` starts the edit of a job paused to check its masks; `adjust` is the per-part menu of a
 * finished edit, whose chosen option arrives as the press's `value`.
 */
export const CHAT_ACTIONS = ['cancel', 'retry', 'undo', 'masks', 'go', 'adjust'] as const;
export type ChatAction = (typeof CHAT_ACTIONS)[number];

export interface ChatButton {
  action: ChatAction;
  jobId: string;
  label: string;
  style: 'primary' | 'secondary' | 'danger';
}

export interface ChatImage {
  /** A file name with its extension, e.g. `masks.png`. */
  name: string;
  /** PNG bytes (or JPEG, see `contentType`), at the size the flow chose to show. */
  data: Buffer;
  contentType: 'image/png' | 'image/jpeg';
  /** Alt text / description. */
  alt: string;
  /**
   * `inline`: shown inside the status message (masks, previews); `result`: the edit itself, which
   * the adapter posts where people can download it at full resolution (Discord: an attachment of
   * the status message; Slack: a file uploaded into the thread).
   */
  placement: 'inline' | 'result';
}

/** A menu of choices (Discord: a string select; Slack: a static select), id `gas:<action>:<jobId>`. */
export interface ChatMenu {
  action: ChatAction;
  jobId: string;
  placeholder: string;
  /** At most 25; `value` comes back as the press's `value`. */
  options: ReadonlyArray<{ label: string; value: string }>;
}

/** One message, rendered from job state; the adapter serialises it (and validates the payload). */
export interface ChatMessage {
  /** Already formatted with the transport's `TextFormat`. */
  text: string;
  images: ChatImage[];
  buttons: ChatButton[];
  /** Menus under the buttons (the per-part control of a finished edit). */
  menus?: ChatMenu[];
  /** The job reached a terminal event: the adapter must deliver this version even if edits are throttled. */
  final: boolean;
  /** A small line for operators (a job id to look up in the logs), shown small where the platform can. */
  footer?: string;
  /**
   * The only users this message may ping (their `<@id>` is in `text`). Absent: it pings no one,
   * whatever its text holds; the bot pings nobody but a requester told that their edit ended.
   */
  mentions?: readonly string[];
  /** A status message this one answers: the platform shows the link (Discord: a reply). */
  replyTo?: StatusRef;
}

/** Platform markup for the few things the renderer needs. */
export interface TextFormat {
  bold(text: string): string;
  /** A time people see in their own zone, relative ("in 2 minutes"): Discord `<t:…:R>`, Slack `<!date^…>`. */
  relativeTime(epochMs: number): string;
  /** Escapes text a person wrote (requests, labels) so it cannot ping, link or format. */
  escape(text: string): string;
}

/**
 * Where a status message lives, serialisable as JSON so that a restarted bot can keep editing
 * it. Adapters may add fields (an interaction token and when it expires, a Slack ts).
 */
export interface StatusRef {
  platform: Platform;
  channel: string;
  /** The message id (Discord snowflake, Slack ts). */
  message: string;
  /** The conversation thread the edit belongs to (see `IncomingEdit.thread`). */
  thread: string;
  [extra: string]: unknown;
}

/** An attached file; `download` enforces the adapter's host allow-list and streams under `maxBytes`. */
export interface IncomingFile {
  name: string;
  /** As the platform declared it; the flow still checks the bytes. */
  contentType?: string;
  size?: number;
  download(maxBytes: number): Promise<Buffer>;
}

/** Things every incoming event carries. */
export interface IncomingBase {
  platform: Platform;
  user: string;
  /** May press any job's buttons and rewind any thread. */
  isAdmin: boolean;
  channel: string;
  /** Tells the person something only they see (ephemeral / private). */
  replyPrivately(text: string): Promise<void>;
}

/** A person asked for an edit: `/edit`, the "Edit image" context menu + modal, a mention with a photo. */
export interface IncomingEdit extends IncomingBase {
  /** The request with any leading bot mention removed. */
  text: string;
  image?: IncomingFile;
  /**
   * What the person set on the request. `check`: show the masks and wait for Go before any GPU
   * time (true), or never (false); absent: the bot's setting (GAS_CHECK_MASKS) decides.
   */
  options: { steps?: number; seed?: number; check?: boolean };
  /**
   * The conversation thread this edit starts (or continues): the key under which its chain of
   * results lives. Discord: the thread channel the command ran in, else the status message the
   * thread will be started from; Slack: the thread_ts, else the person's message ts.
   */
  thread: string;
  /** The person's message, when there is one (Slack mention, Discord context menu target). */
  message?: string;
  /**
   * True when `message` is the person's own message carrying this request (a Slack mention or DM),
   * which the platform may deliver more than once: the flow makes one job of it however often it
   * arrives. Absent when `message` is only what the request points at (Discord's context menu).
   */
  messageIsRequest?: boolean;
  /**
   * Posts the status message of this edit (the adapter already acknowledged the event within the
   * platform's deadline) and returns where it lives.
   */
  postStatus(message: ChatMessage): Promise<StatusRef>;
}

/** A message in a channel or thread the bot can see; the flow decides whether it is a thread reply it owns. */
export interface IncomingMessage extends IncomingBase {
  /** The conversation thread the message was posted in (undefined: not in a thread). */
  thread?: string;
  message: string;
  text: string;
  /** The first image attached, if any: a reply with an image starts over from that image. */
  image?: IncomingFile;
  /** Posts a new status message in that thread. */
  postStatus(message: ChatMessage): Promise<StatusRef>;
}

export interface IncomingButton extends IncomingBase {
  action: ChatAction;
  jobId: string;
  /** The option chosen, for a menu. */
  value?: string;
  /** The status message the button was on. */
  status: StatusRef;
  /** Posts a new status message in the button's thread (Retry, and Undo's confirmation). */
  postStatus(message: ChatMessage): Promise<StatusRef>;
}

/** What the flow offers an adapter: one call per kind of incoming event. None of them throw. */
export interface ChatFlowHandlers {
  editRequest(request: IncomingEdit): Promise<void>;
  threadMessage(message: IncomingMessage): Promise<void>;
  buttonPressed(press: IncomingButton): Promise<void>;
}

/** The sizes a platform takes files up to. */
export interface UploadLimits {
  /** The largest single file (Discord: an attachment). */
  fileBytes: number;
  /** The largest total of one message's files (Discord: a request); absent: each file counts alone. */
  messageBytes?: number;
}

/** A platform plug. */
export interface ChatTransport {
  readonly platform: Platform;
  readonly format: TextFormat;
  /** Minimum time between two edits of one message (Discord 2.5 s, Slack 1.5 s by default). */
  readonly editIntervalMs: number;
  /** What the platform accepts in one message; bigger images are re-encoded or downscaled (src/chat/upload.ts). */
  readonly uploadLimits: UploadLimits;
  /** Connects and starts delivering events to `handlers`. */
  start(handlers: ChatFlowHandlers): Promise<void>;
  stop(): Promise<void>;
  /** Replaces a status message's content (also after a restart, from a stored ref). */
  editStatus(ref: StatusRef, message: ChatMessage): Promise<void>;
  /**
   * Posts a new message in the status message's conversation thread (also after a restart, from
   * a stored ref): the line that opens a thread, the ping when an edit ends.
   */
  postInThread(ref: StatusRef, message: ChatMessage): Promise<StatusRef>;
  /**
   * How a reply in this conversation must address the bot for the bot to see it (Discord without
   * the message-content intent: its mention, `<@id>`); undefined when any reply there is seen.
   */
  replyMention(ref: StatusRef): string | undefined;
  /**
   * Where the platform limits edits per scope rather than per message (Slack: chat.update per app
   * per workspace), that budget, once the transport knows its scope (after `start`); the flow shares
   * it among every live status and bot process. Absent: each message is paced on its own.
   */
  editBudget?(): EditBudgetSpec | undefined;
}

/**
 * The platform refused an edit because the app made too many (Slack's 429 `ratelimited`), and
 * said when to try again; the transport does not retry it itself, so that whoever paces the
 * edits decides what to send then (the latest state, the final one first).
 */
export class PlatformRateLimited extends GasError {
  constructor(
    readonly retryAfterMs: number,
    /** The budget's scope the limit applies to (`editBudget().scope`). */
    readonly scope: string | undefined,
    what: string,
  ) {
    super('service_unavailable', `${what} was rate-limited by the platform; it may be tried again in ${Math.ceil(retryAfterMs / 1000)} s.`, { retryAfterMs, ...(scope ? { scope } : {}) });
  }
}

/** The stateless id a button carries: everything else is looked up in Redis. */
export const buttonId = (action: ChatAction, jobId: string) => `gas:${action}:${jobId}`;

export function parseButtonId(id: string): { action: ChatAction; jobId: string } | undefined {
  const match = /^gas:([a-z]+):(.+)$/.exec(id);
  if (!match || !(CHAT_ACTIONS as readonly string[]).includes(match[1])) return undefined;
  return { action: match[1] as ChatAction, jobId: match[2] };
}
