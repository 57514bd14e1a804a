/**
 * What the shared adapter suite (test/adapter-contract.test.ts) needs of a platform: a driver that
 * runs the real transport over the platform's real library, plays people's events into it without
 * a network, and reads back what the transport sent, in neutral terms. One driver per platform
 * (discord-driver.ts, slack-driver.ts).
 */
import type { Platform } from '../../src/jobs/contracts.js';
import type { ChatTransport, StatusRef } from '../../src/chat/transport.js';
import { waitForRecord } from '../fakes/wait.js';
import type { RecordingHandlers } from './recording-handlers.js';

export interface Photo {
  name: string;
  data: Buffer;
  contentType: string;
}

/** Where an event happened: what the Incoming* the flow receives must say about it. */
export interface Sent {
  channel: string;
  thread: string;
  /** The person's message, when the event is one (not a command). */
  message?: string;
}

/** One write of a status message (posted or edited), as the platform received it. */
export interface StatusWrite {
  message: string;
  text: string;
  /** The buttons' ids (`gas:<action>:<jobId>`). */
  buttons: string[];
  /** The names of the images it showed or carried. */
  images: string[];
}

export interface DriverOptions {
  /** Allow the bot only in a channel other than the one people ask in. */
  onlyElsewhere?: boolean;
}

export interface AdapterDriver {
  readonly platform: Platform;
  readonly transport: ChatTransport;
  readonly handlers: RecordingHandlers;
  readonly people: { alice: string; bob: string };
  /** Where people ask for edits, and the one channel the bot is allowed in with `onlyElsewhere`. */
  readonly channels: { here: string; elsewhere: string };
  /** Alice asks for an edit in the channel (Discord: /edit; Slack: a mention), with a photo or none. */
  requestEdit(text: string, photo?: Photo): Promise<Sent>;
  /** Alice asks in her direct message with the bot. */
  requestInDm(text: string, photo?: Photo): Promise<Sent>;
  /** Alice replies in an edit thread, the way a reply reaches the bot there (Discord: mentioning it). */
  reply(status: StatusRef, text: string, photo?: Photo): Promise<Sent>;
  /** Bob presses a button of a status message. */
  press(status: StatusRef, customId: string): Promise<void>;
  /** Every write of a status message, oldest first. */
  statusWrites(): StatusWrite[];
  /** The texts of the private replies, oldest first. */
  privateReplies(): string[];
  close(): Promise<void>;
}

export type StartDriver = (options?: DriverOptions) => Promise<AdapterDriver>;

/** A stored file's bytes and type, by its URL. */
export type FileLookup = (url: string) => { data: Buffer; contentType: string } | undefined;

/**
 * A platform's file host, played by a stand-in for `fetch` (the transports take it as a
 * dependency): downloads answer with the bytes `lookup` finds, if `authorize` accepts the request's
 * Authorization header; uploads are kept.
 */
export class OfflineFiles {
  readonly downloads: Array<{ url: string; authorization?: string }> = [];
  readonly uploads: Array<{ url: string; bytes: Buffer }> = [];

  constructor(
    private readonly lookup: FileLookup,
    private readonly authorize: (authorization: string | undefined) => boolean = () => true,
  ) {}

  readonly fetch: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (init?.method === 'POST') {
      this.uploads.push({ url, bytes: Buffer.from(init.body as Uint8Array) });
      return new Response(`OK - ${(init.body as Uint8Array).byteLength}`);
    }
    const authorization = new Headers(init?.headers).get('authorization') ?? undefined;
    this.downloads.push({ url, ...(authorization ? { authorization } : {}) });
    const file = this.lookup(url);
    if (!file || !this.authorize(authorization)) return new Response('Not Found', { status: 404 });
    return new Response(new Uint8Array(file.data), { headers: { 'content-type': file.contentType, 'content-length': String(file.data.length) } });
  };
}

/** The first truthy value of `probe`, polled; past the deadline, fails naming what was awaited and with `record()`. */
export const until = <T>(probe: () => T | undefined | null | false, what: string, record: () => string = () => '', timeoutMs = 5_000): Promise<T> =>
  waitForRecord(probe, what, timeoutMs, record);
