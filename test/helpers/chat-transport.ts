/**
 * A ChatTransport in memory: it records every status post, edit and private reply with its time,
 * and lets a test play a person (an edit request, a reply in a thread, a button press).
 */
import type { EditBudgetSpec } from '../../src/chat/edit-budget.js';
import type { ChatFlowHandlers, ChatAction, ChatMessage, ChatTransport, IncomingFile, StatusRef, TextFormat, UploadLimits } from '../../src/chat/transport.js';

/** Markdown-ish markup, like Discord's, so tests can see what was escaped. */
export const testFormat: TextFormat = {
  bold: (text) => `**${text}**`,
  relativeTime: (epochMs) => `<t:${Math.round(epochMs / 1000)}:R>`,
  escape: (text) => text.replace(/[\\*_~`|>]/g, (c) => `\\${c}`).replace(/@/g, '@\u200b'),
};

export interface RecordedWrite {
  /** `thread`: a message posted in a status's thread (the line that opens it, a ping). */
  kind: 'post' | 'edit' | 'thread';
  /** The status message written. */
  message: string;
  thread: string;
  content: ChatMessage;
  at: number;
}

export interface PrivateReply {
  user: string;
  text: string;
  at: number;
}

export interface PersonAction {
  user: string;
  isAdmin?: boolean;
  channel?: string;
}

export function imageFile(data: Buffer, name = 'photo.png', contentType: string | undefined = 'image/png'): IncomingFile {
  return {
    name,
    ...(contentType ? { contentType } : {}),
    size: data.length,
    download: async (maxBytes) => {
      if (data.length > maxBytes) throw new Error(`over ${maxBytes} bytes`);
      return data;
    },
  };
}

export class RecordingTransport implements ChatTransport {
  readonly platform = 'discord' as const;
  readonly format = testFormat;
  readonly editIntervalMs: number;
  readonly uploadLimits: UploadLimits;
  readonly writes: RecordedWrite[] = [];
  readonly privateReplies: PrivateReply[] = [];
  /** Edits in flight at once, at most (the flow must keep it at one per message). */
  maxConcurrentEdits = 0;
  private handlers: ChatFlowHandlers | undefined;
  private nextId = 1;
  private editing = 0;

  private readonly budget: EditBudgetSpec | undefined;

  constructor(options: { editIntervalMs?: number; maxUploadBytes?: number; editLatencyMs?: number; threadPostLatencyMs?: number; editBudget?: EditBudgetSpec } = {}) {
    this.budget = options.editBudget;
    this.threadPostLatencyMs = options.threadPostLatencyMs ?? 0;
    this.editIntervalMs = options.editIntervalMs ?? 100;
    this.uploadLimits = { fileBytes: options.maxUploadBytes ?? 8 * 1024 * 1024 };
    this.editLatencyMs = options.editLatencyMs ?? 5;
  }

  private readonly editLatencyMs: number;
  /** How long a post into a thread takes (a platform that is slow to start a thread). */
  private readonly threadPostLatencyMs: number;

  async start(handlers: ChatFlowHandlers): Promise<void> {
    this.handlers = handlers;
  }

  async stop(): Promise<void> {
    this.handlers = undefined;
  }

  /** The next this many edits fail, as a platform that is down or rate-limiting would. */
  refuseEdits = 0;
  readonly refused: RecordedWrite[] = [];

  async editStatus(ref: StatusRef, message: ChatMessage): Promise<void> {
    if (this.refuseEdits > 0) {
      this.refuseEdits -= 1;
      this.refused.push({ kind: 'edit', message: ref.message, thread: ref.thread, content: message, at: Date.now() });
      throw new Error('503 Service Unavailable');
    }
    this.editing += 1;
    this.maxConcurrentEdits = Math.max(this.maxConcurrentEdits, this.editing);
    const at = Date.now();
    await new Promise((r) => setTimeout(r, this.editLatencyMs));
    this.writes.push({ kind: 'edit', message: ref.message, thread: ref.thread, content: message, at });
    this.editing -= 1;
  }

  async postInThread(ref: StatusRef, message: ChatMessage): Promise<StatusRef> {
    if (this.threadPostLatencyMs > 0) await new Promise((r) => setTimeout(r, this.threadPostLatencyMs));
    const id = `m${this.nextId++}`;
    this.writes.push({ kind: 'thread', message: id, thread: ref.thread, content: message, at: Date.now() });
    return { platform: this.platform, channel: ref.channel, message: id, thread: ref.thread };
  }

  /** As a platform that limits edits per workspace, when the test says so. */
  editBudget(): EditBudgetSpec | undefined {
    return this.budget;
  }

  /** As a platform whose bot sees a reply only when it is mentioned. */
  replyMention(): string | undefined {
    return '@bot';
  }

  /** Messages posted in statuses' threads (the line that opens a thread, pings), in order. */
  inThreads(): RecordedWrite[] {
    return this.writes.filter((w) => w.kind === 'thread');
  }

  /** `/edit` with an optional photo, starting a thread (or in `thread`). */
  async edit(person: PersonAction & { text: string; image?: IncomingFile; thread?: string; options?: { steps?: number; seed?: number; check?: boolean } }): Promise<void> {
    const channel = person.channel ?? 'c1';
    const thread = person.thread ?? `t${this.nextId++}`;
    await this.live().editRequest({
      ...this.base(person, channel),
      text: person.text,
      ...(person.image ? { image: person.image } : {}),
      options: person.options ?? {},
      thread,
      postStatus: async (message) => this.post(channel, thread, message),
    });
  }

  /** A message in a thread (or, without `thread`, in a channel). */
  async reply(person: PersonAction & { text: string; thread?: string; image?: IncomingFile }): Promise<void> {
    const channel = person.channel ?? 'c1';
    const id = `u${this.nextId++}`;
    await this.live().threadMessage({
      ...this.base(person, channel),
      ...(person.thread ? { thread: person.thread } : {}),
      message: id,
      text: person.text,
      ...(person.image ? { image: person.image } : {}),
      postStatus: async (message) => this.post(channel, person.thread ?? id, message),
    });
  }

  /** Presses a button on a status message (or, with `value`, chooses an option of its menu). */
  async press(person: PersonAction, action: ChatAction, jobId: string, on: StatusRef, value?: string): Promise<void> {
    await this.live().buttonPressed({
      ...this.base(person, on.channel),
      action,
      jobId,
      ...(value !== undefined ? { value } : {}),
      status: on,
      postStatus: async (message) => this.post(on.channel, on.thread, message),
    });
  }

  /** Every write of one status message, in order. */
  writesOf(message: string): RecordedWrite[] {
    return this.writes.filter((w) => w.message === message);
  }

  posts(): RecordedWrite[] {
    return this.writes.filter((w) => w.kind === 'post');
  }

  /** The latest content of a message. */
  latest(message: string): ChatMessage | undefined {
    return this.writesOf(message).at(-1)?.content;
  }

  /** A readable account of what was written, for assertion messages. */
  transcript(): string {
    return this.writes
      .map((w) => `[${w.kind} ${w.message} +${w.at - (this.writes[0]?.at ?? 0)}ms] ${w.content.text.replace(/\n/g, ' ⏎ ')} {${w.content.images.map((i) => i.name).join(',')}} final=${w.content.final}`)
      .concat(this.privateReplies.map((r) => `[private to ${r.user}] ${r.text}`))
      .join('\n');
  }

  private post(channel: string, thread: string, content: ChatMessage): StatusRef {
    const message = `m${this.nextId++}`;
    this.writes.push({ kind: 'post', message, thread, content, at: Date.now() });
    return { platform: this.platform, channel, message, thread };
  }

  private base(person: PersonAction, channel: string) {
    return {
      platform: this.platform,
      user: person.user,
      isAdmin: person.isAdmin ?? false,
      channel,
      replyPrivately: async (text: string) => {
        this.privateReplies.push({ user: person.user, text, at: Date.now() });
      },
    };
  }

  private live(): ChatFlowHandlers {
    if (!this.handlers) throw new Error('the transport is not started');
    return this.handlers;
  }
}
