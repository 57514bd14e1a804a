/**
 * The DiscordTransport over the real discord.js without a network, for the shared adapter suite.
 * The Client is never logged in: the driver plays the gateway by feeding raw payloads to the
 * client's own handlers (READY and GUILD_CREATE through its WebSocketManager, then
 * `client.actions.InteractionCreate` / `MessageCreate` / `ThreadCreate`, as discord.js's gateway
 * handlers do), and answers every REST call through @discordjs/rest's `makeRequest`, recording it.
 * The payloads are the fake Discord's World objects, in Discord's wire shape.
 */
import { Client, GatewayIntentBits, Partials } from 'discord.js';
import { DiscordTransport } from '../../adapters/discord/transport.js';
import type { StatusRef } from '../../src/chat/transport.js';
import { createLogger } from '../../src/log.js';
import { snowflake } from '../fakes/discord/snowflake.js';
import { loadSpecChecker } from '../fakes/discord/spec.js';
import { CHANNEL_TYPE, MESSAGE_FLAGS, World, type FileInput, type InteractionInput, type WireMessage } from '../fakes/discord/world.js';
import { OfflineFiles, until, type AdapterDriver, type DriverOptions, type Photo, type Sent, type StatusWrite } from './adapter-driver.js';
import { RecordingHandlers } from './recording-handlers.js';

/**
 * The parts of a Client that its gateway connection drives, which the driver drives instead:
 * private in discord.js's typings, see its src/client/websocket/WebSocketManager.js and
 * src/client/actions/.
 */
interface GatewaySide {
  ws: { handlePacket(packet: { t: string; d: unknown }, shard: { id: number; checkReady(): void }): boolean; triggerClientReady(): void };
  actions: Record<'InteractionCreate' | 'MessageCreate' | 'ThreadCreate', { handle(data: unknown): unknown }>;
}

/** One REST call as discord.js made it. */
interface RestCall {
  method: string;
  /** After /api/v10. */
  path: string;
  json: any;
  files: Array<{ name: string; contentType: string; data: Buffer }>;
  /** What the driver answered. */
  answer?: any;
}

const CDN = 'https://cdn.discordapp.com';
const MIB = 1024 * 1024;

async function readCall(url: string, init: RequestInit): Promise<RestCall> {
  const call: RestCall = { method: init.method ?? 'GET', path: new URL(url).pathname.replace(/^\/api\/v10/, ''), json: undefined, files: [] };
  if (typeof init.body === 'string') call.json = JSON.parse(init.body);
  if (init.body instanceof FormData) {
    for (const [key, value] of init.body.entries()) {
      if (key === 'payload_json') call.json = JSON.parse(String(value));
      else if (value instanceof Blob) call.files.push({ name: (value as File).name, contentType: value.type, data: Buffer.from(await value.arrayBuffer()) });
    }
  }
  return call;
}

const toFile = (photo: Photo): FileInput => ({ name: photo.name, data: photo.data, contentType: photo.contentType });

export async function startDiscordDriver(options: DriverOptions = {}): Promise<AdapterDriver> {
  const world = new World(CDN);
  const elsewhere = snowflake();
  const bot = world.people.bot;
  const calls: RestCall[] = [];
  // Every request is checked against Discord's API description, as the fake Discord checks them.
  const spec = await loadSpecChecker();
  const offSpec: string[] = [];
  const interactions = new Map<string, { token: string; channelId: string; original?: string }>();
  // Attachment URLs are …/attachments/<channel>/<id>/<name>, as the World stores them.
  const files = new OfflineFiles((url) => {
    const stored = world.files.get(new URL(url).pathname.split('/')[3]);
    return stored && { data: stored.data, contentType: stored.attachment.content_type ?? 'application/octet-stream' };
  });
  const describe = () => calls.map((c) => `${c.method} ${c.path} ${JSON.stringify(c.json ?? null).slice(0, 200)}`).join('\n');

  const edit = (message: WireMessage, call: RestCall): WireMessage => {
    const attachments = call.files.map((file) => world.storeFile(message.channel_id, file.name, file.data, file.contentType));
    return Object.assign(message, {
      content: call.json?.content ?? message.content,
      components: call.json?.components ?? message.components,
      attachments: call.json?.attachments ? attachments : message.attachments,
      flags: message.flags & ~MESSAGE_FLAGS.loading,
    });
  };

  // Discord's answers to the routes the transport and discord.js's interactions use.
  const answer = (call: RestCall, query: URLSearchParams): unknown => {
    const parts = call.path.split('/').slice(1);
    if (parts[0] === 'interactions') {
      const interaction = interactions.get(parts[1])!;
      if (call.json.type === 5) {
        interaction.original = world.newMessage({ channel_id: interaction.channelId, author: bot, type: 20, flags: MESSAGE_FLAGS.loading, webhook_id: world.applicationId }).id;
      }
      if (query.get('with_response') !== 'true') return undefined;
      const response = { id: parts[1], type: 2, activity_instance_id: null, response_message_id: interaction.original ?? null, response_message_loading: true, response_message_ephemeral: false };
      return { interaction: response, resource: { type: call.json.type } };
    }
    if (parts[0] === 'webhooks') {
      const interaction = [...interactions.values()].find((known) => known.token === parts[2])!;
      if (call.method === 'DELETE') return undefined;
      if (call.method === 'POST') return world.newMessage({ channel_id: interaction.channelId, author: bot, content: call.json.content, flags: call.json.flags ?? 0, webhook_id: world.applicationId });
      return edit(world.messages.get(parts[4] === '@original' ? interaction.original! : parts[4])!, call);
    }
    const route = `${call.method} ${parts.length}${parts[4] ? ` ${parts[4]}` : ''}`;
    switch (route) {
      case 'POST 3':
        return edit(world.newMessage({ channel_id: parts[1], author: bot }), call);
      case 'GET 4':
        return world.messages.get(parts[3]);
      case 'PATCH 4':
        return edit(world.messages.get(parts[3])!, call);
      case 'POST 5 threads': {
        const thread = world.newThread(parts[1], call.json.name, bot.id, parts[3]);
        gateway.actions.ThreadCreate.handle(world.threadCreatePayload(thread));
        return thread;
      }
      default:
        throw new Error(`the Discord driver has no answer to ${call.method} ${call.path}`);
    }
  };

  const makeRequest = async (url: string, init: RequestInit) => {
    const call = await readCall(url, init);
    calls.push(call);
    offSpec.push(...spec.check(call.method, call.path, call.json).problems);
    const body = answer(call, new URL(url).searchParams);
    call.answer = body;
    return body === undefined ? new Response(null, { status: 204 }) : Response.json(body);
  };

  const client = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages], partials: [Partials.Channel], rest: { makeRequest } });
  const gateway = client as unknown as GatewaySide;
  const shard = { id: 0, checkReady: () => {} };
  gateway.ws.handlePacket({ t: 'READY', d: world.ready() }, shard);
  gateway.ws.handlePacket({ t: 'GUILD_CREATE', d: world.guildCreate() }, shard);
  gateway.ws.triggerClientReady();

  const transport = new DiscordTransport(
    { token: 'MTIz.offline.token', applicationId: world.applicationId, dmsEnabled: true, ...(options.onlyElsewhere ? { allowedChannels: [elsewhere] } : {}) },
    createLogger('discord-driver', { level: 'silent' }),
    { client, fetch: files.fetch },
  );
  const handlers = new RecordingHandlers();
  await transport.start(handlers);

  /** Sends an interaction and resolves once the transport acknowledged it. */
  const interact = async (input: Omit<InteractionInput, 'id' | 'token' | 'attachmentSizeLimit'>) => {
    const id = snowflake();
    const token = `offline-${id}`;
    interactions.set(id, { token, channelId: input.channelId });
    gateway.actions.InteractionCreate.handle(world.interaction({ ...input, id, token, attachmentSizeLimit: 10 * MIB }));
    await until(() => calls.some((call) => call.path.startsWith(`/interactions/${id}/`)), `the acknowledgement of interaction ${id}`, describe);
    return interactions.get(id)!;
  };

  const slashEdit = async (channelId: string, text: string, photo?: Photo): Promise<Sent> => {
    const data = world.commandData('edit', snowflake(), channelId, { request: text, ...(photo ? { image: toFile(photo) } : {}) });
    const sent = await interact({ kind: 'command', data, userId: world.people.alice.id, channelId });
    const inDm = world.channels.get(channelId)?.type === CHANNEL_TYPE.dm;
    return { channel: channelId, thread: inDm ? channelId : (sent.original ?? '') };
  };

  const writeOf = (message: string, call: RestCall): StatusWrite => ({
    message,
    text: call.json.content,
    buttons: (call.json.components ?? []).flatMap((row: any) => row.components.map((button: any) => button.custom_id)),
    images: call.files.map((file) => file.name),
  });

  return {
    platform: 'discord',
    transport,
    handlers,
    people: { alice: world.people.alice.id, bob: world.people.bob.id },
    channels: { here: world.channelId, elsewhere },
    requestEdit: (text, photo) => slashEdit(world.channelId, text, photo),
    requestInDm: (text, photo) => slashEdit(world.dmChannel(world.people.alice.id).id, text, photo),
    async reply(status: StatusRef, text, photo) {
      const message = world.newMessage({
        channel_id: status.thread,
        author: world.people.alice,
        content: `<@${bot.id}> ${text}`,
        mentions: [bot],
        attachments: photo ? [world.storeFile(status.thread, photo.name, photo.data, photo.contentType)] : [],
      });
      gateway.actions.MessageCreate.handle(world.messagePayload(message));
      return { channel: status.thread, thread: status.thread, message: message.id };
    },
    async press(status, customId) {
      await interact({ kind: 'component', data: { custom_id: customId, component_type: 2 }, userId: world.people.bob.id, channelId: status.channel, message: world.messages.get(status.message)! });
    },
    statusWrites: () =>
      calls.flatMap((call) => {
        const parts = call.path.split('/');
        if (call.method === 'PATCH' && parts.at(-2) === 'messages') return [writeOf(parts.at(-1)!, call)];
        // A new message in a channel is a status unless it answers a person's message.
        if (call.method === 'POST' && parts.length === 4 && parts[3] === 'messages' && !call.json.message_reference) return [writeOf(call.answer.id, call)];
        return [];
      }),
    privateReplies: () =>
      calls.flatMap((call) => {
        const data = call.path.startsWith('/interactions/') ? call.json.data : call.json;
        const ephemeral = (data?.flags ?? 0) & MESSAGE_FLAGS.ephemeral;
        const isReply = call.method === 'POST' && (ephemeral || data?.message_reference);
        return isReply ? [String(data.content)] : [];
      }),
    async close() {
      await transport.stop();
      if (offSpec.length > 0) throw new Error(`requests Discord's API description refuses:\n${offSpec.map((p) => `  ${p}`).join('\n')}`);
    },
  };
}
