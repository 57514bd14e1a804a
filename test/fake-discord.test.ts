/**
 * The fake Discord (test/fakes/discord) with the real discord.js: the gateway handshake, an
 * interaction answered the way a bot answers one, and each rule the fake enforces, answered with
 * Discord's status and code so that discord.js raises what it raises against Discord.
 */
import { DiscordAPIError, Events, GatewayIntentBits, Routes, type ChatInputCommandInteraction, type Client, type Interaction, type Message } from 'discord.js';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { loginClient } from './fakes/discord/client.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from './fakes/discord/index.js';

const BUTTON_ROW = { type: 1, components: [{ type: 2, style: 4, custom_id: 'gas:cancel:job-1', label: 'Cancel' }] };

let fake: FakeDiscord | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  await fake?.close();
  client = undefined;
  fake = undefined;
});

async function connect(options: FakeDiscordOptions = {}, intents?: GatewayIntentBits[]): Promise<{ fake: FakeDiscord; client: Client }> {
  fake = await startFakeDiscord(options);
  client = await loginClient(fake, intents);
  return { fake, client };
}

async function slashCommand(f: FakeDiscord, c: Client): Promise<ChatInputCommandInteraction> {
  let received: Interaction | undefined;
  c.once(Events.InteractionCreate, (interaction) => (received = interaction));
  f.slashCommand({ user: f.users.alice, options: { request: 'make the sky pink' } });
  const interaction = await f.waitFor(() => received, { describe: 'discord.js emitting interactionCreate' });
  if (!interaction.isChatInputCommand()) throw new Error(`expected a slash command, got interaction type ${interaction.type}`);
  return interaction;
}

/** The DiscordAPIError a call rejects with. */
async function apiError(promise: Promise<unknown>): Promise<DiscordAPIError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DiscordAPIError);
    return error as DiscordAPIError;
  }
  throw new Error(`expected a DiscordAPIError.\n${fake?.describe()}`);
}

async function png(width: number, height: number, colour = { r: 200, g: 40, b: 90 }): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
}

describe('the fake Discord with the real discord.js', () => {
  it('logs discord.js in over the gateway and hands it the guild, its channel and the bot member', async () => {
    const { fake, client } = await connect();
    expect(client.user?.id).toBe(fake.users.bot.id);
    expect(client.application?.id).toBe(fake.applicationId);
    const guild = client.guilds.cache.get(fake.guildId);
    expect(guild?.channels.cache.get(fake.channelId)?.name).toBe('edits');
    expect(guild?.members.me?.id).toBe(fake.users.bot.id);
    expect(guild?.roles.cache.size).toBe(3);
    const gateway = fake.requests.find((r) => r.path === '/gateway/bot');
    expect(gateway?.authorization).toBe(`Bot ${fake.token}`);
  });

  it('takes a deferred slash command, an edited reply with a PNG and a button row, and serves the PNG back', async () => {
    const { fake, client } = await connect();
    const interaction = await slashCommand(fake, client);
    expect(interaction.options.getString('request')).toBe('make the sky pink');
    await interaction.deferReply();
    const image = await png(64, 48);
    await interaction.editReply({ content: 'done', files: [{ attachment: image, name: 'result.png' }], components: [BUTTON_ROW] });

    const [callback, edit] = fake.requests.filter((r) => r.path.startsWith('/interactions/') || r.path.startsWith('/webhooks/'));
    expect(callback.json).toEqual({ type: 5, data: { flags: 0 } });
    expect(callback.status).toBe(204);
    expect(edit.method).toBe('PATCH');
    expect(edit.path).toBe(`/webhooks/${fake.applicationId}/${interaction.token}/messages/@original`);
    expect(edit.files.map((f) => [f.field, f.name, f.contentType])).toEqual([['files[0]', 'result.png', 'image/png']]);
    expect(edit.json.attachments).toEqual([{ id: '0' }]);

    const [reply] = fake.messages(fake.channelId);
    expect(reply.content).toBe('done');
    expect(reply.flags & 128).toBe(0); // no longer "thinking"
    expect(reply.components).toEqual([BUTTON_ROW]);
    const served = await fetch(reply.attachments[0].url);
    expect(served.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await served.arrayBuffer());
    expect(bytes.equals(image)).toBe(true);
    const { width, height } = await sharp(bytes).metadata();
    expect([width, height]).toEqual([64, 48]);
    expect(fake.violations).toEqual([]);
  });

  it('returns the callback resource with the loading message id when asked with with_response=true', async () => {
    const { fake, client } = await connect();
    const interaction = await slashCommand(fake, client);
    const response = await interaction.deferReply({ withResponse: true });
    const callback = fake.requests.find((r) => r.path.endsWith('/callback'));
    expect(callback?.query).toEqual({ with_response: 'true' });
    const [loading] = fake.messages(fake.channelId);
    expect(response.interaction.responseMessageId).toBe(loading.id);
    expect(response.interaction.responseMessageLoading).toBe(true);
    expect(response.resource?.message).toBeNull(); // as on Discord: only replies and updates carry the message
    expect(loading.flags & 128).toBe(128);
  });

  it('answers a deferral after the acknowledgement deadline with 10062 Unknown interaction', async () => {
    const { fake, client } = await connect({ ackDeadlineMs: 200 });
    const interaction = await slashCommand(fake, client);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const error = await apiError(interaction.deferReply());
    expect([error.status, error.code]).toEqual([404, 10062]);
    expect(fake.violations.map((v) => v.rule)).toEqual(['late-acknowledgement']);
  });

  it('answers a second acknowledgement with 40060', async () => {
    const { fake, client } = await connect();
    const interaction = await slashCommand(fake, client);
    await interaction.deferReply();
    // discord.js refuses a second acknowledgement itself, so send it as a second process would.
    const error = await apiError(client.rest.post(Routes.interactionCallback(interaction.id, interaction.token), { body: { type: 4, data: { content: 'again' } }, auth: false }));
    expect([error.status, error.code]).toEqual([400, 40060]);
    expect(fake.violations.map((v) => v.rule)).toEqual(['double-acknowledgement']);
  });

  it('answers an interaction webhook call after the token lifetime with 50027, while the bot token still edits the message', async () => {
    const { fake, client } = await connect({ tokenLifetimeMs: 2_000 });
    const interaction = await slashCommand(fake, client);
    await interaction.deferReply();
    const first = await interaction.editReply({ content: 'queued' });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, interaction.createdTimestamp + 2_100 - Date.now())));
    const error = await apiError(interaction.editReply({ content: 'too late' }));
    expect([error.status, error.code]).toEqual([401, 50027]);
    expect(fake.violations.map((v) => v.rule)).toEqual(['expired-token']);
    await client.rest.patch(Routes.channelMessage(fake.channelId, first.id), { body: { content: 'edited by the bot' } });
    expect(fake.message(first.id)?.content).toBe('edited by the bot');
  });

  it('answers uploads over the size limit with 413 and code 40005', async () => {
    const { fake, client } = await connect({ maxUploadBytes: 1_000 });
    const interaction = await slashCommand(fake, client);
    await interaction.deferReply();
    const error = await apiError(interaction.editReply({ files: [{ attachment: Buffer.alloc(1_001, 7), name: 'big.png' }] }));
    expect([error.status, error.code]).toEqual([413, 40005]);
    expect(fake.violations.map((v) => v.rule)).toEqual(['upload-too-large']);
  });

  // `inSpec`: Discord's API description refuses the body too; it allows up to 40 components (the
  // limit of messages with the IS_COMPONENTS_V2 flag), so six rows are refused by the 5-row rule alone.
  it.each([
    ['content over 2000 characters', { content: 'x'.repeat(2001) }, 'content', true],
    ['six action rows', { components: Array.from({ length: 6 }, (_, i) => ({ type: 1, components: [{ type: 2, style: 2, custom_id: `b${i}`, label: 'b' }] })) }, 'components', false],
    ['six buttons in a row', { components: [{ type: 1, components: Array.from({ length: 6 }, (_, i) => ({ type: 2, style: 2, custom_id: `b${i}`, label: 'b' })) }] }, 'components', true],
    ['a custom_id over 100 characters', { components: [{ type: 1, components: [{ type: 2, style: 2, custom_id: 'c'.repeat(101), label: 'b' }] }] }, 'components', true],
  ])('answers %s with 400 Invalid Form Body naming the field', async (_name, body, field, inSpec) => {
    const { fake, client } = await connect();
    const interaction = await slashCommand(fake, client);
    await interaction.deferReply();
    const error = await apiError(interaction.editReply(body));
    expect([error.status, error.code, error.message.split('\n')[0]]).toEqual([400, 50035, 'Invalid Form Body']);
    expect(Object.keys((error.rawError as { errors: object }).errors)).toEqual([field]);
    // The fake checks every request against Discord's own API description first.
    expect(fake.violations.map((v) => v.rule)).toEqual(inSpec ? ['spec', 'invalid-form-body'] : ['invalid-form-body']);
    if (inSpec) expect(fake.violations[0].detail).toContain(`messages/@original: ${field}`);
  });

  it("records every request that Discord's API description refuses: a misspelt field, a wrong type, a route it does not have", async () => {
    const { fake, client } = await connect();
    const message = (await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'status', allowed_mentions: { parse: [] } } })) as { id: string };
    expect(fake.violations).toEqual([]);
    await client.rest.patch(Routes.channelMessage(fake.channelId, message.id), { body: { content: 'edited', alowed_mentions: { parse: [] } } });
    await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x', message_reference: { message_id: 42 } } });
    await client.rest.get('/channels/1/nonsense' as `/${string}`).catch(() => {});
    expect(fake.violations.map((v) => [v.rule, v.detail])).toEqual([
      ['spec', 'PATCH /channels/{channel_id}/messages/{message_id}: (body): unknown key alowed_mentions'],
      ['spec', expect.stringMatching(/^POST \/channels\/\{channel_id\}\/messages: message_reference\.message_id: /)],
      ['spec', "GET /channels/1/nonsense is not a route of Discord's API description"],
      ['unknown-route', 'GET /channels/:id/nonsense'],
    ]);
  });

  it('answers more than ten attachments with 400 Invalid Form Body', async () => {
    const { fake, client } = await connect();
    const interaction = await slashCommand(fake, client);
    await interaction.deferReply();
    const files = Array.from({ length: 11 }, (_, i) => ({ attachment: Buffer.from([i]), name: `f${i}.bin` }));
    const error = await apiError(interaction.editReply({ files }));
    expect([error.status, error.code]).toEqual([400, 50035]);
    expect(fake.violations.find((v) => v.rule === 'invalid-form-body')?.detail).toContain('BASE_TYPE_MAX_LENGTH');
    expect(fake.violations.find((v) => v.rule === 'spec')?.detail).toContain('attachments');
  });

  it('rate-limits message edits with 429, retry_after and the X-RateLimit headers', async () => {
    const { fake, client } = await connect({ rateLimits: { messageEdit: { limit: 2, windowMs: 30_000 } } });
    const message = (await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'status' } })) as { id: string };
    const edit = () =>
      fetch(`${fake.apiUrl}/v10/channels/${fake.channelId}/messages/${message.id}`, {
        method: 'PATCH',
        headers: { authorization: `Bot ${fake.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'progress' }),
      });
    const answers = [await edit(), await edit(), await edit()];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[1].headers.get('x-ratelimit-remaining')).toBe('0');
    expect(answers[2].headers.get('x-ratelimit-limit')).toBe('2');
    expect(Number(answers[2].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await answers[2].json()) as { retry_after: number; global: boolean };
    expect(body.global).toBe(false);
    expect(body.retry_after).toBeGreaterThan(0);
    expect(fake.violations.map((v) => v.rule)).toEqual(['rate-limited']);
  });

  it('lets discord.js pace edits by the rate-limit headers so it never draws a 429', async () => {
    const { fake, client } = await connect({ rateLimits: { messageEdit: { limit: 2, windowMs: 1_500 } } });
    const message = (await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'status' } })) as { id: string };
    const route = Routes.channelMessage(fake.channelId, message.id);
    for (const step of [1, 2, 3]) await client.rest.patch(route, { body: { content: `step ${step}` } });
    const edits = fake.requests.filter((r) => r.method === 'PATCH');
    expect(edits.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(edits[2].at - edits[0].at).toBeGreaterThanOrEqual(1_000);
    expect(fake.violations).toEqual([]);
  });

  it('injects a 429 that discord.js waits out and retries', async () => {
    const { fake, client } = await connect();
    fake.failNext('POST /channels/*/messages', { status: 429, retryAfter: 1 });
    await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'hello' } });
    const posts = fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/messages'));
    expect(posts.map((r) => r.status)).toEqual([429, 200]);
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(900);
  });

  it('injects a 413 that surfaces as DiscordAPIError 40005', async () => {
    const { fake, client } = await connect();
    fake.failNext(/^POST \/channels\//, { status: 413, code: 40005, message: 'Request entity too large' });
    const error = await apiError(client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'hello' } }));
    expect([error.status, error.code]).toEqual([413, 40005]);
  });

  it('refuses bot routes without the bot token, and discord.js refuses to log in with a wrong one', async () => {
    fake = await startFakeDiscord();
    const anonymous = await fetch(`${fake.apiUrl}/v10/users/@me`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${fake.apiUrl}/v10/users/@me`, { headers: { authorization: 'Bot nope' } });
    expect([wrong.status, ((await wrong.json()) as { code: number }).code]).toEqual([401, 0]);
    const { Client } = await import('discord.js');
    const impostor = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
    await expect(impostor.login('MTIz.bad.token')).rejects.toThrow(/invalid token/i);
    await impostor.destroy();
    expect(fake.violations.map((v) => v.rule)).toEqual(['unauthorized', 'unauthorized', 'unauthorized']);
  });

  it('withholds message content from a bot without the MESSAGE_CONTENT intent unless the message mentions it', async () => {
    const { fake, client } = await connect({}, [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages]);
    const seen: Message[] = [];
    client.on(Events.MessageCreate, (message) => void seen.push(message));
    fake.postMessage({ user: fake.users.alice, content: 'just chatting' });
    fake.postMessage({ user: fake.users.alice, content: `<@${fake.users.bot.id}> hi`, mentions: [fake.users.bot] });
    await fake.waitFor(() => seen.length === 2, { describe: 'two MESSAGE_CREATE events' });
    expect(seen.map((m) => m.content)).toEqual(['', `<@${fake.users.bot.id}> hi`]);
  });

  it('starts a thread from a message with the message id as the thread id, once', async () => {
    const { fake, client } = await connect();
    const message = (await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'status' } })) as { id: string };
    const thread = (await client.rest.post(Routes.threads(fake.channelId, message.id), { body: { name: 'edit' } })) as { id: string; parent_id: string };
    expect([thread.id, thread.parent_id]).toEqual([message.id, fake.channelId]);
    await fake.waitFor(() => client.channels.cache.get(thread.id), { describe: 'THREAD_CREATE reaching discord.js' });
    const error = await apiError(client.rest.post(Routes.threads(fake.channelId, message.id), { body: { name: 'again' } }));
    expect(error.code).toBe(160004);
  });

  it('delivers a DM only to a bot with the DIRECT_MESSAGES intent, with its content and without a member or guild', async () => {
    const { fake, client: guildOnly } = await connect({}, [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages]);
    const withDms = await loginClient(fake, [GatewayIntentBits.Guilds, GatewayIntentBits.DirectMessages]);
    try {
      // Raw packets: discord.js drops DMs of uncached channels without Partials.Channel, and this is about what the gateway sends.
      const created = (c: Client) => {
        const seen: any[] = [];
        c.on(Events.Raw, (packet: { t: string | null; d: any }) => void (packet.t === 'MESSAGE_CREATE' && seen.push(packet.d)));
        return seen;
      };
      const toGuildOnly = created(guildOnly);
      const toDms = created(withDms);
      const dm = fake.dmChannel(fake.users.alice);
      expect(fake.channel(dm)).toMatchObject({ type: 1, recipients: [{ id: fake.users.alice.id }] });
      fake.postMessage({ user: fake.users.alice, channelId: dm, content: 'hello in private' });
      fake.postMessage({ user: fake.users.alice, content: 'hello in the guild' });
      // Each session gets its events in order: once the guild message is in, the DM would have been too.
      await fake.waitFor(() => toGuildOnly.length > 0 && toDms.length > 0, { describe: 'MESSAGE_CREATE on both sessions' });
      expect(toGuildOnly.map((m) => m.content)).toEqual(['']);
      expect(toGuildOnly[0].channel_id).toBe(fake.channelId);
      expect(toDms).toHaveLength(1);
      expect(toDms[0]).toMatchObject({ channel_id: dm, content: 'hello in private', author: { id: fake.users.alice.id } });
      expect([toDms[0].guild_id, toDms[0].member]).toEqual([undefined, undefined]);
    } finally {
      await withDms.destroy();
    }
  });

  it('hands discord.js a slash command from a DM with the user, no guild or member, and context 1, and takes its reply there', async () => {
    const { fake, client } = await connect();
    const dm = fake.dmChannel(fake.users.bob);
    let received: Interaction | undefined;
    client.once(Events.InteractionCreate, (interaction) => (received = interaction));
    fake.slashCommand({ user: fake.users.bob, channelId: dm, options: { request: 'make the sky pink' } });
    const interaction = await fake.waitFor(() => received, { describe: 'discord.js emitting interactionCreate' });
    if (!interaction.isChatInputCommand()) throw new Error(`expected a slash command, got interaction type ${interaction.type}`);
    expect([interaction.user.id, interaction.guildId, interaction.member, interaction.channelId, interaction.context]).toEqual([fake.users.bob.id, null, null, dm, 1]);
    expect(interaction.options.getString('request')).toBe('make the sky pink');
    await interaction.deferReply();
    await interaction.editReply({ content: 'working on it' });
    const [reply] = fake.messages(dm);
    expect([reply.content, reply.guild_id]).toEqual(['working on it', undefined]);
    expect(fake.violations).toEqual([]);
  });

  it('opens a DM channel for discord.js with POST /users/@me/channels, takes messages in it and refuses a thread there with 50024', async () => {
    const { fake, client } = await connect();
    const channel = await client.users.createDM(fake.users.carol.id);
    expect(channel.id).toBe(fake.dmChannel(fake.users.carol));
    expect(fake.requests.find((r) => r.path === '/users/@me/channels')?.json).toEqual({ recipient_id: fake.users.carol.id });
    const sent = await channel.send('your edit is ready');
    expect(fake.message(sent.id)).toMatchObject({ channel_id: channel.id, content: 'your edit is ready' });
    const error = await apiError(client.rest.post(Routes.threads(channel.id, sent.id), { body: { name: 'edit' } }));
    expect([error.status, error.code]).toEqual([400, 50024]);
    expect(fake.violations.map((v) => v.rule)).toEqual(['thread-in-dm']);
  });
});

describe('the fake gateway, spoken to directly', () => {
  /** Opens a raw gateway connection and collects what the fake sends until it closes. */
  async function rawGateway(f: FakeDiscord, query = '?v=10&encoding=json') {
    const gateway = (await (await fetch(`${f.apiUrl}/v10/gateway/bot`, { headers: { authorization: `Bot ${f.token}` } })).json()) as { url: string };
    const socket = new WebSocket(`${gateway.url}${query}`);
    const frames: Array<{ op: number; t: string | null; d: any }> = [];
    let closeCode: number | undefined;
    socket.on('close', (code) => (closeCode = code));
    const closed = () => f.waitFor(() => closeCode, { describe: 'the gateway closing the connection' });
    socket.on('message', (raw) => frames.push(JSON.parse(raw.toString())));
    let opened = false;
    socket.once('open', () => (opened = true));
    await f.waitFor(() => opened || closeCode !== undefined, { describe: 'the gateway accepting the WebSocket' });
    return { socket, frames, closed };
  }

  it('says HELLO, acknowledges heartbeats and answers IDENTIFY with READY then GUILD_CREATE', async () => {
    fake = await startFakeDiscord();
    const f = fake;
    const { socket, frames } = await rawGateway(f);
    await f.waitFor(() => frames.length >= 1, { describe: 'HELLO' });
    expect(frames[0]).toMatchObject({ op: 10, d: { heartbeat_interval: 41_250 } });
    socket.send(JSON.stringify({ op: 1, d: null }));
    await f.waitFor(() => frames.some((frame) => frame.op === 11), { describe: 'HEARTBEAT_ACK' });
    socket.send(JSON.stringify({ op: 2, d: { token: f.token, intents: 1, properties: { os: 'linux', browser: 'test', device: 'test' } } }));
    await f.waitFor(() => frames.filter((frame) => frame.op === 0).length >= 2, { describe: 'READY and GUILD_CREATE' });
    const [ready, guild] = frames.filter((frame) => frame.op === 0);
    expect([ready.t, guild.t]).toEqual(['READY', 'GUILD_CREATE']);
    expect(ready.d).toMatchObject({ v: 10, user: { id: f.users.bot.id }, application: { id: f.applicationId }, guilds: [{ id: f.guildId, unavailable: true }] });
    expect(ready.d.resume_gateway_url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/gateway$/);
    expect(guild.d.members.map((m: { user: { id: string } }) => m.user.id)).toContain(f.users.bot.id);
    socket.close();
  });

  it('closes with 4004 on a wrong token and 4012 on another API version', async () => {
    fake = await startFakeDiscord();
    const wrongToken = await rawGateway(fake);
    wrongToken.socket.send(JSON.stringify({ op: 2, d: { token: 'nope', intents: 1, properties: {} } }));
    expect(await wrongToken.closed()).toBe(4004);
    const oldVersion = await rawGateway(fake, '?v=9&encoding=json');
    expect(await oldVersion.closed()).toBe(4012);
    expect(fake.violations.map((v) => v.rule)).toEqual(['bad-token', 'gateway-version']);
  });
});

describe("Discord's API description, as the fake reads it", () => {
  it('maps each route the bot uses to its request body, literal segments before parameters, from the pinned package', async () => {
    const { readRoutes, findRoute, SPEC_PACKAGE } = await import('./fakes/discord/spec.js');
    const { readFileSync } = await import('node:fs');
    const pinned = JSON.parse(readFileSync('package.json', 'utf8')).devDependencies[SPEC_PACKAGE.name];
    expect(pinned).toBe(SPEC_PACKAGE.version);
    const routes = readRoutes();
    const body = (method: string, path: string) => {
      const route = findRoute(routes, method, path);
      return route && [route.template, route.requestBody];
    };
    expect(body('POST', '/channels/1/messages')).toEqual(['/channels/{channel_id}/messages', 'MessageCreateRequest']);
    expect(body('PATCH', '/channels/1/messages/2')).toEqual(['/channels/{channel_id}/messages/{message_id}', 'MessageEditRequestPartial']);
    expect(body('POST', '/channels/1/messages/2/threads')).toEqual(['/channels/{channel_id}/messages/{message_id}/threads', 'CreateTextThreadWithMessageRequest']);
    expect(body('PATCH', '/webhooks/1/token/messages/@original')).toEqual(['/webhooks/{webhook_id}/{webhook_token}/messages/@original', 'IncomingWebhookUpdateRequestPartial']);
    expect(body('PATCH', '/webhooks/1/token/messages/2')?.[0]).toBe('/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}');
    expect(body('PUT', '/applications/1/guilds/2/commands')).toEqual(['/applications/{application_id}/guilds/{guild_id}/commands', 'ApplicationCommandUpdateRequest[] | null']);
    expect(body('POST', '/interactions/1/token/callback')?.[1]).toContain('ModalInteractionCallbackRequest');
    expect(body('GET', '/gateway/bot')).toEqual(['/gateway/bot', undefined]);
    expect(body('POST', '/channels/1/nonsense')).toBeUndefined();
  });
});

describe('the fake Discord, rules of issues 14 and 16', () => {
  it('answers a file over the per-file limit, and a request over the request limit, with 413 40005', async () => {
    const { fake, client } = await connect({ maxUploadBytes: 1_000, maxRequestBytes: 1_500 });
    const tooBig = await apiError(client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x' }, files: [{ name: 'a.png', data: Buffer.alloc(1_001) }] }));
    expect([tooBig.status, tooBig.code]).toEqual([413, 40005]);
    const together = await apiError(client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x' }, files: [{ name: 'a.png', data: Buffer.alloc(900) }, { name: 'b.png', data: Buffer.alloc(900) }] }));
    expect([together.status, together.code]).toEqual([413, 40005]);
    expect(fake.violations.map((v) => v.rule)).toEqual(['upload-too-large', 'request-too-large']);
  });

  it('takes a string select alone in its row, with 1 to 25 options, and refuses more', async () => {
    const { fake, client } = await connect();
    const row = (count: number) => ({ type: 1, components: [{ type: 3, custom_id: 'gas:adjust:j', options: Array.from({ length: count }, (_, i) => ({ label: `part ${i}`, value: String(i) })) }] });
    await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x', components: [row(25)] } });
    const error = await apiError(client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x', components: [row(26)] } }));
    expect([error.status, error.code]).toEqual([400, 50035]);
    expect(fake.violations.find((v) => v.rule === 'invalid-form-body')?.detail).toContain('components.0.components.0.options BASE_TYPE_MAX_LENGTH');
  });

  it("gives a message fetched without the MESSAGE_CONTENT intent no content or attachments, unless it mentions the bot", async () => {
    const { fake, client } = await connect();
    const plain = fake.postMessage({ user: fake.users.alice, content: 'my garden', attachments: [{ name: 'g.png', data: await png(4, 4), contentType: 'image/png' }] });
    const mentioning = fake.postMessage({ user: fake.users.alice, content: `<@${fake.users.bot.id}> my garden`, mentions: [fake.users.bot], attachments: [{ name: 'g.png', data: await png(4, 4), contentType: 'image/png' }] });
    const read = (id: string) => client.rest.get(Routes.channelMessage(fake.channelId, id)) as Promise<{ content: string; attachments: unknown[] }>;
    expect(await read(plain)).toMatchObject({ content: '', attachments: [] });
    expect((await read(mentioning)).attachments).toHaveLength(1);
  });

  it('records whom a sent message notifies by its allowed_mentions, and a bot without MENTION_EVERYONE pings no @everyone', async () => {
    const { fake, client } = await connect();
    const { alice, bob } = fake.users;
    const everyone = (await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: `@everyone <@${alice.id}> <@&${fake.roles.editors}>` } })) as { id: string };
    await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: `<@${alice.id}> <@${bob.id}>`, allowed_mentions: { users: [bob.id] } } });
    await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: `<@${alice.id}>`, allowed_mentions: { parse: [] } } });
    expect(fake.notifications.map((n) => [n.users, n.roles, n.everyone])).toEqual([
      [[alice.id], [], false],
      [[bob.id], [], false],
    ]);
    expect(fake.notifications[0].messageId).toBe(everyone.id);
  });

  it("sends interactions the app's permissions where they happen, less what the channel denies it", async () => {
    const { fake, client } = await connect();
    fake.denyBot(fake.channelId, ['attachFiles']);
    let received: Interaction | undefined;
    client.once(Events.InteractionCreate, (interaction) => (received = interaction));
    fake.slashCommand({ user: fake.users.alice, options: { request: 'x' } });
    const interaction = await fake.waitFor(() => received, { describe: 'the interaction' });
    expect(interaction.appPermissions?.has('AttachFiles')).toBe(false);
    expect(interaction.appPermissions?.has('ViewChannel')).toBe(true);
    expect(interaction.attachmentSizeLimit).toBe(10 * 1024 * 1024);
  });
});
