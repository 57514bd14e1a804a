/**
 * Platform events as the objects the flow receives, made in one place: an adapter describes an
 * event in neutral terms (who did it where, how to answer them there, what they wrote and
 * attached) and these builders make the IncomingEdit / IncomingMessage / IncomingButton, so every
 * adapter hands the flow the same shape for the same kind of event.
 */
import type { Platform } from '../jobs/contracts.js';
import { parseButtonId, type ChatMessage, type IncomingButton, type IncomingEdit, type IncomingFile, type IncomingMessage, type StatusRef } from './transport.js';

/** Who did something where, and how the bot answers them there. */
export interface ChatEvent {
  platform: Platform;
  user: string;
  isAdmin: boolean;
  channel: string;
  /** The conversation thread the event belongs to (see IncomingEdit.thread). */
  thread: string;
  replyPrivately(text: string): Promise<void>;
  postStatus(message: ChatMessage): Promise<StatusRef>;
}

/** What a person sent: their words (bot mentions already removed), the file they attached, the options they set. */
export interface Said {
  text: string;
  image?: IncomingFile;
  /** Their message, when the event is one (not a command). */
  message?: string;
  options?: IncomingEdit['options'];
}

const answers = (event: ChatEvent) => ({
  platform: event.platform,
  user: event.user,
  isAdmin: event.isAdmin,
  channel: event.channel,
  replyPrivately: (text: string) => event.replyPrivately(text),
  postStatus: (message: ChatMessage) => event.postStatus(message),
});

const attached = (said: Said) => (said.image ? { image: said.image } : {});

/** `messageIsRequest`: the person's message is the request itself (see IncomingEdit.messageIsRequest). */
export function editRequest(event: ChatEvent, said: Said, messageIsRequest = false): IncomingEdit {
  return {
    ...answers(event),
    text: said.text,
    ...attached(said),
    options: said.options ?? {},
    thread: event.thread,
    ...(said.message !== undefined ? { message: said.message } : {}),
    ...(messageIsRequest ? { messageIsRequest: true } : {}),
  };
}

export function threadMessage(event: ChatEvent, said: Said & { message: string }): IncomingMessage {
  return { ...answers(event), thread: event.thread, message: said.message, text: said.text, ...attached(said) };
}

/** A press of one of the bot's buttons (`gas:<action>:<jobId>`) on a status message; undefined for any other button. */
export function buttonPress(event: ChatEvent, customId: string, statusMessage: string): IncomingButton | undefined {
  const parsed = parseButtonId(customId);
  if (!parsed) return undefined;
  const status: StatusRef = { platform: event.platform, channel: event.channel, message: statusMessage, thread: event.thread };
  return { ...answers(event), action: parsed.action, jobId: parsed.jobId, status };
}

/** The request as the person meant it: without mentions of the bot (`<@U1>`, `<@!1>`, `<@U1|name>`) and extra white space. */
export function withoutMentions(text: string, botUser: string | undefined): string {
  const stripped = botUser ? text.replace(new RegExp(`<@!?${botUser}(?:\\|[^>]*)?>`, 'g'), ' ') : text;
  return stripped.replace(/\s+/g, ' ').trim();
}
