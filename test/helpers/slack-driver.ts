/**
 * The SlackTransport over the real Bolt without a network, for the shared adapter suite: events
 * arrive through a custom Receiver calling `app.processEvent` (bolt-js's own recommended test
 * seam), the Web API calls the transport makes land on a recording stand-in for the WebClient,
 * and files move through a stand-in for `fetch`. The bodies are the fake Slack's payloads.
 */
import type { App, Receiver } from '@slack/bolt';
import { SlackTransport, type SlackStatusRef, type SlackWebApi } from '../../adapters/slack/transport.js';
import type { StatusRef } from '../../src/chat/transport.js';
import { createLogger } from '../../src/log.js';
import { blockActions, CHANNELS, eventEnvelope, messageEvent, wireFile, WORKSPACE, type SentMessage, type WireFile } from '../fakes/slack/payloads.js';
import { OfflineFiles, type AdapterDriver, type DriverOptions, type Photo, type Sent, type StatusWrite } from './adapter-driver.js';
import { RecordingHandlers } from './recording-handlers.js';

const FILE_HOST = 'https://files.slack.com';
const BOT_TOKEN = 'xoxb-offline';

/** Hands Bolt request bodies as a receiver does; resolves once Bolt has run the listeners. */
class ScriptedReceiver implements Receiver {
  private app?: App;

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async deliver(body: Record<string, unknown>): Promise<void> {
    if (!this.app) throw new Error('the receiver was not given to an App');
    await this.app.processEvent({ body, ack: async () => {} });
  }
}

/** A Web API call as the transport made it. */
interface ApiCall {
  method: string;
  params: Record<string, any>;
  /** The message it posted. */
  ts?: string;
}

/** The Web API methods the transport calls, answered as Slack would and recorded. */
class RecordingWebApi implements SlackWebApi {
  readonly calls: ApiCall[] = [];
  /** The bot's messages, by ts: what a person later presses buttons on. */
  readonly posted = new Map<string, SentMessage & { channel: string }>();
  readonly fileNames = new Map<string, string>();
  private counter = 0;

  private record(method: string, params: object, ts?: string): Record<string, any> {
    this.calls.push({ method, params: params as Record<string, any>, ...(ts ? { ts } : {}) });
    return params as Record<string, any>;
  }

  readonly nextId = (prefix: string) => `${prefix}${String(++this.counter).padStart(9, '0')}`;
  readonly nextTs = () => `1700000000.${String(++this.counter).padStart(6, '0')}`;

  auth: SlackWebApi['auth'] = { test: async () => ({ ok: true, user_id: WORKSPACE.botUserId, bot_id: WORKSPACE.botId }) };

  chat: SlackWebApi['chat'] = {
    postMessage: async (args) => {
      const ts = this.nextTs();
      const params = this.record('chat.postMessage', args, ts);
      this.posted.set(ts, { channel: params.channel, ts, thread_ts: params.thread_ts, user: WORKSPACE.botUserId, bot_id: WORKSPACE.botId, text: params.text, blocks: params.blocks });
      return { ok: true, channel: params.channel, ts };
    },
    update: async (args) => {
      const params = this.record('chat.update', args);
      Object.assign(this.posted.get(params.ts) ?? {}, { text: params.text, blocks: params.blocks });
      return { ok: true, channel: params.channel, ts: params.ts };
    },
    postEphemeral: async (args) => {
      this.record('chat.postEphemeral', args);
      return { ok: true, message_ts: this.nextTs() };
    },
  };

  files: SlackWebApi['files'] = {
    getUploadURLExternal: async (args) => {
      const params = this.record('files.getUploadURLExternal', args);
      const fileId = this.nextId('F');
      this.fileNames.set(fileId, params.filename);
      return { ok: true, file_id: fileId, upload_url: `${FILE_HOST}/upload/v1/${fileId}` };
    },
    completeUploadExternal: async (args) => {
      this.record('files.completeUploadExternal', args);
      return { ok: true, files: [] };
    },
    info: async (args) => {
      this.record('files.info', args);
      return { ok: true, file: { mimetype: 'image/png' } };
    },
  };

}

export async function startSlackDriver(options: DriverOptions = {}): Promise<AdapterDriver> {
  const { users, channels } = WORKSPACE;
  const channel = (id: string) => CHANNELS.find((c) => c.id === id)!;
  const api = new RecordingWebApi();
  const shared = new Map<string, { data: Buffer; contentType: string }>();
  const files = new OfflineFiles((url) => shared.get(url), (authorization) => authorization === `Bearer ${BOT_TOKEN}`);
  const receiver = new ScriptedReceiver();
  const transport = new SlackTransport(
    { botToken: BOT_TOKEN, appToken: 'xapp-offline', ...(options.onlyElsewhere ? { allowedChannels: [channels.outside] } : {}) },
    createLogger('slack-driver', { level: 'silent' }),
    { receiver, client: api, fetch: files.fetch },
  );
  const handlers = new RecordingHandlers();
  await transport.start(handlers);

  const share = (photo: Photo | undefined): WireFile[] => {
    if (!photo) return [];
    const file = wireFile({ id: api.nextId('F'), name: photo.name, user: users.alice, size: photo.data.length, baseUrl: FILE_HOST, mimetype: photo.contentType });
    shared.set(file.url_private_download, { data: photo.data, contentType: photo.contentType });
    return [file];
  };

  /** Alice's message as one event (Slack also sends `message` for a mention: the flow's de-duplication is not this suite's). */
  const post = async (input: { channel: string; text: string; thread?: string; photo?: Photo; type: 'message' | 'app_mention' }): Promise<Sent> => {
    const ts = api.nextTs();
    const attached = share(input.photo);
    const message: SentMessage = { ts, user: users.alice, text: input.text, ...(input.thread ? { thread_ts: input.thread } : {}), ...(attached.length ? { subtype: 'file_share' } : {}) };
    await receiver.deliver(eventEnvelope(`Ev${ts.replace('.', '')}`, messageEvent(message, channel(input.channel), input.type, attached)));
    // A DM is its own conversation (as on Discord); elsewhere the message's thread is.
    return { channel: input.channel, thread: channel(input.channel).type === 'im' ? input.channel : (input.thread ?? ts), message: ts };
  };

  const shownNames = (blocks: any[] = []) => blocks.filter((b) => b.type === 'image').map((b) => api.fileNames.get(b.slack_file.id) ?? b.slack_file.id);

  return {
    platform: 'slack',
    transport,
    handlers,
    people: users,
    channels: { here: channels.general, elsewhere: channels.outside },
    requestEdit: (text, photo) => post({ channel: channels.general, text: `<@${WORKSPACE.botUserId}> ${text}`, type: 'app_mention', ...(photo ? { photo } : {}) }),
    requestInDm: (text, photo) => post({ channel: channels.dm, text, type: 'message', ...(photo ? { photo } : {}) }),
    reply: (status: StatusRef, text, photo) => post({ channel: status.channel, text, thread: (status as SlackStatusRef).threadTs ?? status.thread, type: 'message', ...(photo ? { photo } : {}) }),
    async press(status, customId) {
      const message = api.posted.get(status.message)!;
      const payload = blockActions({ user: users.bob, channel: channel(status.channel), message, actionId: customId, responseUrl: 'https://hooks.slack.com/actions/offline' });
      if (!payload) throw new Error(`status ${status.message} has no button ${customId}`);
      await receiver.deliver(payload);
    },
    statusWrites() {
      const writes: StatusWrite[] = [];
      for (const { method, params, ts } of api.calls) {
        if (method === 'chat.postMessage' || method === 'chat.update') {
          const buttons = (params.blocks as any[]).flatMap((b) => (b.type === 'actions' ? b.elements.map((e: any) => e.action_id) : []));
          writes.push({ message: ts ?? params.ts, text: params.text, buttons, images: shownNames(params.blocks) });
        }
        // The result goes into the thread as a file (an upload completed into the channel), right after the write of its status message.
        if (method === 'files.completeUploadExternal' && params.channel_id) writes.at(-1)?.images.push(...(params.files as Array<{ id: string }>).map((f) => api.fileNames.get(f.id) ?? f.id));
      }
      return writes;
    },
    privateReplies: () => api.calls.filter((c) => c.method === 'chat.postEphemeral').map((c) => String(c.params.text)),
    async close() {
      await transport.stop();
    },
  };
}
