/**
 * The Discord transport (adapters/discord) with the real discord.js against the fake Discord,
 * and a recording ChatFlowHandlers in place of the flow: what reaches the flow, and what the
 * flow's messages become on the wire.
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { commandDefinitions, registerCommands } from '../adapters/discord/commands.js';
import { downloadAttachment } from '../adapters/discord/download.js';
import { discordFormat } from '../adapters/discord/format.js';
import { truncateContent } from '../adapters/discord/payload.js';
import { DiscordTransport, type DiscordStatusRef } from '../adapters/discord/transport.js';
import { discordSection, type DiscordConfigInput } from '../adapters/discord/config.js';
import { readSection } from '../src/config/section.js';
import type { ChatImage, ChatMessage } from '../src/chat/transport.js';
import { GasError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions, type RecordedRequest } from './fakes/discord/index.js';
import { rejection } from './helpers/errors.js';
import { RecordingHandlers } from './helpers/recording-handlers.js';

const MIB = 1024 * 1024;

let fake: FakeDiscord | undefined;
let transport: DiscordTransport | undefined;

afterEach(async () => {
  await transport?.stop();
  await fake?.close();
  // Every request the transport made must be one Discord's API description allows, whatever the test asserted.
  const offSpec = fake?.violations.filter((v) => v.rule === 'spec') ?? [];
  transport = undefined;
  fake = undefined;
  expect(offSpec).toEqual([]);
});

/** Settings beyond the connection; a function when they name the fake's ids. */
type ExtraConfig = Partial<DiscordConfigInput> | ((fake: FakeDiscord) => Partial<DiscordConfigInput>);

async function setup(
  fakeOptions: FakeDiscordOptions = {},
  config: ExtraConfig = {},
): Promise<{ fake: FakeDiscord; transport: DiscordTransport; flow: RecordingHandlers }> {
  fake = await startFakeDiscord(fakeOptions);
  const extra = typeof config === 'function' ? config(fake) : config;
  transport = new DiscordTransport({ token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl, ...extra }, createLogger('discord-test', { level: 'silent' }));
  const flow = new RecordingHandlers();
  await transport.start(flow);
  return { fake, transport, flow };
}

async function solidPng(width: number, height: number, colour = { r: 30, g: 120, b: 220 }): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
}

/** Noise does not compress: a PNG about 3 bytes per pixel. */
async function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const image = (name: string, data: Buffer, placement: ChatImage['placement']): ChatImage => ({ name, data, contentType: 'image/png', alt: `${name} alt`, placement });

async function runningStatus(): Promise<ChatMessage> {
  return {
    text: `${discordFormat.bold('Editing')}: 2 changes, done ${discordFormat.relativeTime(Date.UTC(2030, 0, 1))}`,
    images: [image('masks.png', await solidPng(32, 32), 'inline')],
    buttons: [{ action: 'cancel', jobId: 'job-1', label: 'Cancel', style: 'danger' }],
    final: false,
  };
}

async function finalStatus(result: Buffer): Promise<ChatMessage> {
  return {
    text: 'Done.',
    images: [image('result.png', result, 'result')],
    buttons: [
      { action: 'retry', jobId: 'job-1', label: 'Retry', style: 'primary' },
      { action: 'undo', jobId: 'job-1', label: 'Undo', style: 'secondary' },
      { action: 'masks', jobId: 'job-1', label: 'Masks', style: 'secondary' },
    ],
    final: true,
  };
}

const webhookPatches = (f: FakeDiscord) => f.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith('/webhooks/'));
const channelPatches = (f: FakeDiscord) => f.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith('/channels/'));
const callbacks = (f: FakeDiscord) => f.requests.filter((r) => r.path.endsWith('/callback'));
const rules = (f: FakeDiscord) => f.violations.map((v) => v.rule);

/** What the flow does after a conversation's first status: posts the line that opens its thread (which starts the thread). */
async function openThread(f: FakeDiscord, ref: DiscordStatusRef) {
  const opening = await transport!.postInThread(ref, { text: `Reply here with <@${f.users.bot.id}> and what to change next; Undo steps back one edit.`, images: [], buttons: [], final: true });
  await f.waitFor(() => f.channel(ref.thread), { describe: 'the edit thread' });
  return opening;
}

/** The status of an /edit, with the interaction's token and when the interaction was sent (its token's clock starts then). */
async function editWithStatus(f: FakeDiscord, flow: RecordingHandlers, photo: Buffer): Promise<DiscordStatusRef & { token: string; sentAt: number }> {
  let ref: DiscordStatusRef | undefined;
  flow.onEdit = async (request) => {
    ref = (await request.postStatus(await runningStatus())) as DiscordStatusRef;
  };
  const sentAt = Date.now();
  const { token } = f.slashCommand({ user: f.users.alice, options: { image: { name: 'photo.png', data: photo, contentType: 'image/png' }, request: 'turn the dog into a tiger' } });
  const posted = await f.waitFor(() => ref, { describe: 'postStatus from the /edit request' });
  return { ...posted, token, sentAt };
}

describe('DiscordTransport', () => {
  it('defers /edit within 3 s and hands the flow the request with the downloaded image bytes', async () => {
    const { fake, flow } = await setup();
    const photo = await solidPng(40, 30);
    const { id } = fake.slashCommand({
      user: fake.users.alice,
      options: { image: { name: 'photo.png', data: photo, contentType: 'image/png' }, request: 'turn the dog into a tiger', steps: 200, seed: 7, check: true },
    });
    const sentAt = Date.now();
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'editRequest' });
    const [callback] = callbacks(fake);
    expect(callback.path).toMatch(new RegExp(`^/interactions/${id}/[\\w-]+/callback$`));
    expect(callback.json).toEqual({ type: 5, data: { flags: 0 } });
    expect(callback.at - sentAt).toBeLessThan(3_000);
    expect(edit.at).toBeGreaterThanOrEqual(callback.at);
    const { request } = edit;
    expect(request).toMatchObject({ platform: 'discord', user: fake.users.alice.id, isAdmin: false, channel: fake.channelId, text: 'turn the dog into a tiger', options: { steps: 200, seed: 7, check: true } });
    expect(request.image).toMatchObject({ name: 'photo.png', contentType: 'image/png', size: photo.length });
    expect(edit.bytes?.equals(photo)).toBe(true);
    // Not in a thread: the thread is the status message (the deferred reply) the thread will start from.
    const [loading] = fake.messages(fake.channelId);
    expect(request.thread).toBe(loading.id);
    expect(rules(fake)).toEqual([]);
  });

  it('posts the status into the deferred reply, starts a thread from it and edits it with replaced attachments and buttons', async () => {
    const { fake, flow, transport } = await setup();
    const ref = await editWithStatus(fake, flow, await solidPng(40, 30));
    const status = fake.message(ref.message)!;
    expect(ref).toMatchObject({ platform: 'discord', channel: fake.channelId, thread: status.id });
    // The ref is stored with the job in Redis: no credential in it.
    const { token, sentAt: _sentAt, ...stored } = ref;
    expect(JSON.stringify(stored)).not.toContain(token);

    const [post] = webhookPatches(fake);
    expect(post.path).toBe(`/webhooks/${fake.applicationId}/${ref.token}/messages/${status.id}`);
    expect(post.files.map((f) => [f.field, f.name, f.contentType])).toEqual([['files[0]', 'masks.png', 'image/png']]);
    expect(post.json).toMatchObject({
      content: '**Editing**: 2 changes, done <t:1893456000:R>',
      embeds: [{ image: { url: 'attachment://masks.png' } }],
      // A new upload's id is its index, as a snowflake string (Discord's API description).
      attachments: [{ id: '0', filename: 'masks.png', description: 'masks.png alt' }],
      components: [{ type: 1, components: [{ type: 2, style: 4, label: 'Cancel', custom_id: 'gas:cancel:job-1' }] }],
      allowed_mentions: { parse: [] },
    });
    // Issue 14 (defect 6): the thread starts with the first message that goes into it, the flow's line
    // that opens the conversation, which lands in the thread, never in the channel.
    expect(fake.channel(status.id)).toBeUndefined();
    const opening = await openThread(fake, ref);
    const thread = fake.channel(status.id);
    expect([thread.parent_id, thread.name]).toEqual([fake.channelId, 'turn the dog into a tiger']);
    expect(fake.message(opening.message)?.channel_id).toBe(status.id);
    expect(fake.messages(fake.channelId).filter((m) => m.content.startsWith('Reply here'))).toEqual([]);

    const result = await solidPng(96, 64, { r: 250, g: 140, b: 20 });
    await transport.editStatus(ref, await finalStatus(result));
    const edit = webhookPatches(fake)[1];
    expect(edit.files.map((f) => f.name)).toEqual(['result.png']);
    expect(edit.json.embeds).toEqual([]);
    expect(edit.json.components[0].components.map((b: { custom_id: string }) => b.custom_id)).toEqual(['gas:retry:job-1', 'gas:undo:job-1', 'gas:masks:job-1']);
    const edited = fake.message(status.id)!;
    expect(edited.content).toBe('Done.');
    expect(edited.attachments.map((a) => a.filename)).toEqual(['result.png']); // the masks are gone
    const shown = await sharp(fake.fileBytes(edited.attachments[0])).metadata();
    expect([shown.width, shown.height]).toEqual([96, 64]);
    expect(rules(fake)).toEqual([]);
  });

  it('edits through the channel route with the bot token once the interaction token is near its end', async () => {
    // Generous: the first status must still go through the webhook on a busy machine (2 s left before the margin).
    const { fake, flow, transport } = await setup({ tokenLifetimeMs: 3_000 }, { tokenLifetimeMs: 3_000, tokenMarginMs: 1_000 });
    const ref = await editWithStatus(fake, flow, await solidPng(40, 30));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, ref.sentAt + 3_000 - 1_000 - Date.now()) + 50));
    await transport.editStatus(ref, await finalStatus(await solidPng(16, 16)));
    const [edit] = channelPatches(fake);
    expect(edit.path).toBe(`/channels/${fake.channelId}/messages/${ref.message}`);
    expect(edit.authorization).toBe(`Bot ${fake.token}`);
    expect(fake.message(ref.message)?.content).toBe('Done.');
    expect(webhookPatches(fake)).toHaveLength(1);
    expect(rules(fake)).toEqual([]);
  });

  it('falls back to the channel route when Discord answers the interaction webhook with 50027', async () => {
    // The transport believes the token lives 15 minutes; the fake ends it after 2.5 s.
    const { fake, flow, transport } = await setup({ tokenLifetimeMs: 2_500 });
    const ref = await editWithStatus(fake, flow, await solidPng(40, 30));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, ref.sentAt + 2_500 - Date.now()) + 100));
    await transport.editStatus(ref, await finalStatus(await solidPng(16, 16)));
    expect(webhookPatches(fake).map((r) => [r.status, r.code])).toEqual([[200, undefined], [401, 50027]]);
    expect(channelPatches(fake).map((r) => r.status)).toEqual([200]);
    expect(fake.message(ref.message)?.content).toBe('Done.');
    // The refused token is not tried again: the next edit goes straight to the channel route.
    await transport.editStatus(ref, await finalStatus(await solidPng(16, 16)));
    expect(webhookPatches(fake)).toHaveLength(2);
    expect(channelPatches(fake).map((r) => r.status)).toEqual([200, 200]);
  });

  it('passes a reply in the edit thread that mentions the bot to threadMessage, mention stripped, and ignores bots', async () => {
    const { fake, flow } = await setup();
    const ref = await editWithStatus(fake, flow, await solidPng(40, 30));
    await openThread(fake, ref);
    const bot = fake.users.bot;
    fake.postMessage({ user: fake.users.otherBot, channelId: ref.thread, content: `<@${bot.id}> obey`, mentions: [bot] });
    fake.postMessage({ user: fake.users.bob, channelId: ref.thread, content: 'chatting, no mention' });
    const sky = await solidPng(20, 20, { r: 200, g: 200, b: 255 });
    const messageId = fake.postMessage({
      user: fake.users.alice,
      channelId: ref.thread,
      content: `<@${bot.id}>  now make the sky cloudy`,
      mentions: [bot],
      attachments: [{ name: 'sky.png', data: sky, contentType: 'image/png' }],
    });
    const [{ message }] = await fake.waitFor(() => flow.messages.length > 0 && flow.messages, { describe: 'threadMessage' });
    expect(message).toMatchObject({ platform: 'discord', user: fake.users.alice.id, thread: ref.thread, message: messageId, text: 'now make the sky cloudy' });
    expect((await message.image!.download(MIB)).equals(sky)).toBe(true);
    // The gateway delivers in order: the bot's own status, the other bot's and bob's messages came
    // before alice's, and none of them reached the flow.
    expect(flow.messages).toHaveLength(1);
  });

  it('asks for a mention when a reply to the bot does not ping it, since Discord hides what it says', async () => {
    const { fake, flow } = await setup();
    const ref = await editWithStatus(fake, flow, await solidPng(40, 30));
    await openThread(fake, ref);
    const status = fake.postMessage({ user: fake.users.bot, channelId: ref.thread, content: 'Done.' });
    const reply = fake.postMessage({ user: fake.users.alice, channelId: ref.thread, content: 'now make the sky cloudy', replyTo: status, replyPings: false });
    const answer = await fake.waitFor(() => fake.messages(ref.thread).find((m) => m.message_reference?.message_id === reply), { describe: 'the answer to the silent reply' });
    expect(answer.content).toBe(`I can't read replies that don't mention me: start yours with <@${fake.users.bot.id}>, or keep the reply's @ mention on.`);
    expect(flow.messages).toEqual([]);
  });

  it('posts a thread reply status as a new message in the thread', async () => {
    const { fake, flow } = await setup();
    const ref = await editWithStatus(fake, flow, await solidPng(40, 30));
    await openThread(fake, ref);
    fake.postMessage({ user: fake.users.alice, channelId: ref.thread, content: `<@${fake.users.bot.id}> again`, mentions: [fake.users.bot] });
    const [{ message }] = await fake.waitFor(() => flow.messages.length > 0 && flow.messages, { describe: 'threadMessage' });
    const next = await message.postStatus(await runningStatus());
    expect(next).toMatchObject({ channel: ref.thread, thread: ref.thread });
    expect(fake.message(next.message)?.channel_id).toBe(ref.thread);
    expect(fake.message(next.message)?.attachments.map((a) => a.filename)).toEqual(['masks.png']);
  });

  it('defers a button press within 3 s and passes it to buttonPressed with its status message; private replies are ephemeral', async () => {
    const { fake, flow } = await setup();
    const ref = await editWithStatus(fake, flow, await solidPng(40, 30));
    flow.onButton = (press) => press.replyPrivately('Only the person who asked can cancel this edit.');
    const pressedAt = Date.now();
    fake.pressButton({ user: fake.users.bob, messageId: ref.message, customId: 'gas:cancel:job-1' });
    const [{ press }] = await fake.waitFor(() => flow.buttons.length > 0 && flow.buttons, { describe: 'buttonPressed' });
    const callback = callbacks(fake).at(-1)!;
    expect(callback.json).toEqual({ type: 6 });
    expect(callback.at - pressedAt).toBeLessThan(3_000);
    expect(press).toMatchObject({ user: fake.users.bob.id, action: 'cancel', jobId: 'job-1', status: { channel: fake.channelId, message: ref.message, thread: ref.message } });
    const followUp = await fake.waitFor(() => fake.requests.find((r) => r.method === 'POST' && r.path.startsWith('/webhooks/')), { describe: 'the private reply' });
    expect(followUp.json).toMatchObject({ content: 'Only the person who asked can cancel this edit.', flags: 64 });
    expect(rules(fake)).toEqual([]);
  });

  it('answers a private reply before any status by removing the loading message and following up ephemerally', async () => {
    const { fake, flow } = await setup();
    flow.onEdit = (request) => request.replyPrivately('You already have 2 edits running.');
    fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'p.png', data: await solidPng(8, 8), contentType: 'image/png' }, request: 'x into y' } });
    const ephemeral = await fake.waitFor(() => fake.messages(fake.channelId).find((m) => m.flags & 64), { describe: 'an ephemeral follow-up' });
    expect(ephemeral.content).toBe('You already have 2 edits running.');
    expect(fake.messages(fake.channelId).filter((m) => !(m.flags & 64))).toEqual([]);
  });

  it('still hands the flow a /edit without an image, deferred, so the flow can say what is missing', async () => {
    const { fake, flow } = await setup();
    fake.slashCommand({ user: fake.users.alice, options: { request: 'make it snow' } });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'editRequest' });
    expect([edit.request.text, edit.request.image]).toEqual(['make it snow', undefined]);
    expect(callbacks(fake).map((r) => r.json.type)).toEqual([5]);
  });

  it('refuses a disallowed host, a plain-http CDN link and a file over the size cap', async () => {
    const { fake, flow } = await setup();
    const hosts = ['cdn.discordapp.com', 'media.discordapp.net', new URL(fake.apiUrl).host];
    const evil = await rejection(downloadAttachment('https://evil.example/photo.png', MIB, hosts));
    expect([evil.code, evil.message]).toEqual(['bad_input', 'That attachment is not hosted by Discord; attach the image to your message.']);
    expect((await rejection(downloadAttachment('http://cdn.discordapp.com/a/b/p.png', MIB, hosts))).code).toBe('bad_input');

    const big = await noisePng(64, 64);
    fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'big.png', data: big, contentType: 'image/png' }, request: 'a into b' } });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'editRequest' });
    // The declared size already says no; the stream cap says no without it.
    const declared = await rejection(edit.request.image!.download(1_000));
    expect(declared.code).toBe('bad_image');
    // Without a declared size, the response's Content-Length (or the stream) stops it.
    const posted = fake.message(fake.postMessage({ user: fake.users.alice, content: 'big', attachments: [{ name: 'big.png', data: big, contentType: 'image/png' }] }))!;
    expect((await rejection(downloadAttachment(posted.attachments[0].url, 1_000, hosts))).code).toBe('bad_image');
    expect((await downloadAttachment(posted.attachments[0].url, big.length, hosts)).equals(big)).toBe(true);
  });

  it('sends a smaller JPEG, and says so, when Discord answers the result upload with 413', async () => {
    // Discord's real limit is lower than what the interaction said (attachment_size_limit 10 MiB).
    const { fake, flow, transport } = await setup({ maxUploadBytes: 60_000, attachmentSizeLimit: 10 * MIB });
    const ref = await editWithStatus(fake, flow, await solidPng(40, 30));
    const result = await noisePng(400, 300); // JPEG alone does not bring noise under the limit
    expect(result.length).toBeGreaterThan(60_000);
    await transport.editStatus(ref, await finalStatus(result));
    const attempts = webhookPatches(fake).slice(1);
    expect(attempts[0]).toMatchObject({ status: 413, code: 40005 });
    const delivered = attempts.at(-1)!;
    expect(delivered.status).toBe(200);
    expect(delivered.files.map((f) => [f.name, f.contentType])).toEqual([['result.jpg', 'image/jpeg']]);
    const message = fake.message(ref.message)!;
    expect(message.content.split('\n')[0]).toBe('Done.');
    expect(message.content).toMatch(/smaller JPEG \(\d+×\d+\) to fit Discord’s upload limit\.$/);
    const bytes = fake.fileBytes(message.attachments[0]);
    expect(bytes.length).toBeLessThanOrEqual(60_000);
    const { format, width, height } = await sharp(bytes).metadata();
    expect(format).toBe('jpeg');
    expect(width).toBeLessThan(400);
    expect(width! / height!).toBeCloseTo(400 / 300, 1);
    expect(message.content).toContain(`(${width}×${height})`);
  });

  it('runs the "Edit image" context menu through a modal to editRequest with the target message image', async () => {
    const { fake, flow } = await setup();
    const photo = await solidPng(24, 24, { r: 10, g: 200, b: 10 });
    const target = fake.postMessage({ user: fake.users.alice, content: 'my garden', attachments: [{ name: 'garden.png', data: photo, contentType: 'image/png' }] });
    const menu = fake.contextMenu({ user: fake.users.alice, messageId: target });
    const modalCallback = await fake.waitFor(() => callbacks(fake).find((r) => r.json?.type === 9), { describe: 'the modal' });
    expect(modalCallback.json.data).toMatchObject({ custom_id: `gas-edit:${target}`, title: 'Edit image' });
    fake.submitModal({ user: fake.users.alice, shownBy: menu, fields: { request: 'turn the grass into snow' } });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'editRequest from the modal' });
    expect(callbacks(fake).map((r) => r.json.type)).toEqual([9, 5]);
    expect(edit.request).toMatchObject({ text: 'turn the grass into snow', message: target, channel: fake.channelId });
    expect(edit.bytes?.equals(photo)).toBe(true);
    expect(rules(fake)).toEqual([]);
  });

  it('refuses /edit privately outside the allowed roles and lets admins through', async () => {
    const { fake, flow } = await setup({}, (f) => ({ allowedRoles: [f.roles.editors], adminRoles: [f.roles.admins] }));
    const photo = { name: 'p.png', data: await solidPng(8, 8), contentType: 'image/png' };
    fake.slashCommand({ user: fake.users.bob, options: { image: photo, request: 'a into b' } });
    const refusal = await fake.waitFor(() => callbacks(fake)[0], { describe: 'the refusal' });
    expect(refusal.json).toEqual({ type: 4, data: expect.objectContaining({ content: 'You need one of the roles allowed to request edits; ask a server admin.', flags: 64 }) });
    fake.slashCommand({ user: fake.users.carol, options: { image: photo, request: 'a into b' } });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the admin edit' });
    expect([edit.request.user, edit.request.isAdmin]).toEqual([fake.users.carol.id, true]);
  });

  it('with DISCORD_MESSAGE_CONTENT counts any message in its own edit thread but none in people\'s threads', async () => {
    const { fake, flow } = await setup({}, (f) => ({ messageContent: true, allowedChannels: [f.channelId] }));
    const ref = await editWithStatus(fake, flow, await solidPng(16, 16));
    await openThread(fake, ref);
    // A person's own thread is not the bot's: without a mention the bot stays out of it.
    const theirs = fake.createThread({ user: fake.users.bob, name: 'chat' });
    fake.postMessage({ user: fake.users.bob, channelId: theirs, content: 'make it blue' });
    fake.postMessage({ user: fake.users.alice, channelId: ref.thread, content: 'now make it snow' });
    const [{ message }] = await fake.waitFor(() => flow.messages.length > 0 && flow.messages, { describe: 'threadMessage without a mention' });
    expect([message.thread, message.text, flow.messages.length]).toEqual([ref.thread, 'now make it snow', 1]);
  });

  it('refuses /edit privately in a channel outside the allow-list', async () => {
    const { fake, flow } = await setup({}, { allowedChannels: ['123456789'] });
    fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'p.png', data: await solidPng(8, 8), contentType: 'image/png' }, request: 'a into b' } });
    const refusal = await fake.waitFor(() => callbacks(fake)[0], { describe: 'the refusal' });
    expect(refusal.json.data).toMatchObject({ content: 'Edits are not enabled in this channel; use <#123456789>.', flags: 64, allowed_mentions: { parse: [] } });
    expect(flow.edits).toEqual([]);
  });

  it('keeps the upload note when the text is at the length limit', async () => {
    const { fake, flow, transport } = await setup({ maxUploadBytes: 60_000, attachmentSizeLimit: 10 * MIB });
    const ref = await editWithStatus(fake, flow, await solidPng(16, 16));
    const message = { ...(await finalStatus(await noisePng(400, 300))), text: 'z'.repeat(2000) };
    await transport.editStatus(ref, message);
    const content = fake.message(ref.message)!.content;
    expect(content.length).toBeLessThanOrEqual(2000);
    expect(content).toMatch(/…\nThe image was sent as a smaller JPEG \(\d+×\d+\) to fit Discord’s upload limit\.$/);
  });

  it('fails to start with a short message when Discord refuses the token or cannot be reached', async () => {
    fake = await startFakeDiscord();
    const silent = createLogger('discord-test', { level: 'silent' });
    const impostor = new DiscordTransport({ token: 'MTIz.bad.token', applicationId: fake.applicationId, apiUrl: fake.apiUrl }, silent);
    const refused = await rejection(impostor.start(new RecordingHandlers()));
    expect([refused.code, refused.message]).toEqual(['service_unavailable', 'Discord refused the bot token; check DISCORD_TOKEN.']);
    const closed = `http://127.0.0.1:${new URL(fake.baseUrl).port}`;
    await fake.close();
    fake = undefined;
    const unreachable = new DiscordTransport({ token: 'MTIz.bad.token', applicationId: '1', apiUrl: `${closed}/api` }, silent);
    const error = await rejection(unreachable.start(new RecordingHandlers()));
    expect(error.message).toBe(`Cannot reach Discord at ${new URL(closed).host}; check DISCORD_API_URL and the network.`);
  });

  it('registers the slash command and the message context menu in a guild', async () => {
    fake = await startFakeDiscord();
    const registered = await registerCommands({ token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl, guildId: fake.guildId });
    expect(registered.map((c) => [c.name, c.type])).toEqual([['edit', 1], ['Edit image', 3]]);
    const put = fake.requests.find((r) => r.method === 'PUT') as RecordedRequest;
    expect(put.path).toBe(`/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`);
    expect(put.json).toEqual(commandDefinitions());
    expect(fake.violations).toEqual([]);
  });

  it('escapes what people wrote so it cannot ping or format, and truncates long text safely', () => {
    const escaped = discordFormat.escape('@everyone **look** <@123> <#456> @here');
    expect(escaped).not.toMatch(/@everyone|@here|<@123>|<#456>|(?<!\\)\*\*/);
    expect(escaped.replace(/\u200b|\\/g, '')).toBe('@everyone **look** <@123> <#456> @here');
    const long = `${'a'.repeat(1990)} <t:1893456000:R> and more`;
    const cut = truncateContent(long);
    expect(cut.length).toBeLessThanOrEqual(2000);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut).not.toContain('<t:');
    expect(truncateContent(`**${'b'.repeat(2100)}**`)).toMatch(/\*\*…$/);
  });

  it('rejects a download error as a GasError with no URL in its message', async () => {
    const error = await rejection(downloadAttachment('https://cdn.discordapp.com/x.png?token=secret', 10, []));
    expect(error).toBeInstanceOf(GasError);
    expect(error.message).not.toContain('secret');
  });

  it('reads its settings from DISCORD_* variables and names a missing or malformed one', () => {
    const config = readSection(discordSection, {
      DISCORD_TOKEN: 'secret',
      DISCORD_APPLICATION_ID: '42',
      DISCORD_API_URL: 'http://127.0.0.1:9/api',
      DISCORD_CHANNELS: '1, 2',
      DISCORD_ADMIN_ROLES: '7',
      DISCORD_MESSAGE_CONTENT: '1',
      DISCORD_EDIT_INTERVAL_MS: '3000',
    });
    expect(config).toMatchObject({ apiUrl: 'http://127.0.0.1:9/api', allowedChannels: ['1', '2'], allowedGuilds: [], adminRoles: ['7'], messageContent: true, dmsEnabled: false, editIntervalMs: 3000, maxUploadBytes: 10 * MIB });
    expect(readSection(discordSection, { DISCORD_TOKEN: 't', DISCORD_APPLICATION_ID: '1' }).apiUrl).toBe('https://discord.com/api');
    expect(() => readSection(discordSection, { DISCORD_APPLICATION_ID: '1' })).toThrow('Discord settings: DISCORD_TOKEN is required');
    expect(() => readSection(discordSection, { DISCORD_TOKEN: 't', DISCORD_APPLICATION_ID: '1', DISCORD_ROLES: 'editors' })).toThrow('Discord settings: DISCORD_ROLES (item 1) must be a Discord id (digits)');
  });
});

describe('DiscordTransport in direct messages', () => {
  const photoOption = async () => ({ name: 'photo.png', data: await solidPng(40, 30), contentType: 'image/png' });
  const threadRequests = (f: FakeDiscord) => f.requests.filter((r) => r.path.includes('/threads'));

  it('refuses /edit in a DM privately while DISCORD_DMS is off, and neither it nor a DM message reaches the flow', async () => {
    const { fake, flow } = await setup();
    const dm = fake.dmChannel(fake.users.alice);
    const { id } = fake.slashCommand({ user: fake.users.alice, channelId: dm, options: { image: await photoOption(), request: 'turn the dog into a tiger' } });
    const refusal = await fake.waitFor(() => callbacks(fake).find((r) => r.path.startsWith(`/interactions/${id}/`)), { describe: 'the refusal of the DM /edit' });
    expect(refusal.json).toEqual({ type: 4, data: expect.objectContaining({ content: 'Edits are not available in direct messages; use the command in a server channel.', flags: 64, allowed_mentions: { parse: [] } }) });
    expect(fake.messages(dm).map((m) => [m.content, m.flags & 64])).toEqual([['Edits are not available in direct messages; use the command in a server channel.', 64]]);
    // Without DISCORD_DMS the bot does not ask for DMs: the gateway never sends it this message.
    fake.postMessage({ user: fake.users.alice, channelId: dm, content: 'make the sky cloudy' });
    // A guild /edit after both: once it reaches the flow, the DM events were handled before it.
    fake.slashCommand({ user: fake.users.alice, options: { image: await photoOption(), request: 'a into b' } });
    await fake.waitFor(() => flow.edits.length > 0, { describe: 'the guild /edit reaching the flow' });
    expect(flow.edits.map((e) => e.request.channel)).toEqual([fake.channelId]);
    expect(flow.messages).toEqual([]);
    expect(callbacks(fake).map((r) => r.json.type)).toEqual([4, 5]);
    expect(rules(fake)).toEqual([]);
  });

  it('defers /edit in a DM within 3 s with DISCORD_DMS on, hands the flow the image bytes, and posts statuses in the DM without starting a thread', async () => {
    const { fake, flow } = await setup({}, { dmsEnabled: true });
    const dm = fake.dmChannel(fake.users.alice);
    const refs: DiscordStatusRef[] = [];
    flow.onEdit = async (request) => {
      refs.push((await request.postStatus(await runningStatus())) as DiscordStatusRef);
      refs.push((await request.postStatus({ ...(await runningStatus()), text: 'A second status' })) as DiscordStatusRef);
    };
    const photo = await photoOption();
    fake.slashCommand({ user: fake.users.alice, channelId: dm, options: { image: photo, request: 'turn the dog into a tiger', steps: 200 } });
    const sentAt = Date.now();
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'editRequest from the DM' });
    const [callback] = callbacks(fake);
    expect(callback.json).toEqual({ type: 5, data: { flags: 0 } });
    expect(callback.at - sentAt).toBeLessThan(3_000);
    // Discord has no threads in DMs: the DM itself is the edit thread.
    expect(edit.request).toMatchObject({ platform: 'discord', user: fake.users.alice.id, isAdmin: false, channel: dm, thread: dm, text: 'turn the dog into a tiger', options: { steps: 200 } });
    expect(edit.bytes?.equals(photo.data)).toBe(true);

    await fake.waitFor(() => refs.length === 2, { describe: 'two statuses posted from the DM request' });
    const [first, second] = refs;
    const [loading] = fake.messages(dm);
    expect(first).toMatchObject({ platform: 'discord', channel: dm, message: loading.id, thread: dm });
    expect(fake.message(first.message)).toMatchObject({ channel_id: dm, content: '**Editing**: 2 changes, done <t:1893456000:R>' });
    expect(fake.message(first.message)!.attachments.map((a) => a.filename)).toEqual(['masks.png']);
    expect(second).toMatchObject({ channel: dm, thread: dm });
    expect(fake.message(second.message)).toMatchObject({ channel_id: dm, content: 'A second status' });
    expect(threadRequests(fake)).toEqual([]);
    expect(rules(fake)).toEqual([]);

    // A button on a DM status belongs to the DM's thread, and its new status goes into the DM.
    let retried: DiscordStatusRef | undefined;
    flow.onButton = async (press) => {
      retried = (await press.postStatus({ ...(await runningStatus()), text: 'Retrying' })) as DiscordStatusRef;
    };
    fake.pressButton({ user: fake.users.alice, messageId: first.message, customId: 'gas:cancel:job-1' });
    const [{ press }] = await fake.waitFor(() => flow.buttons.length > 0 && flow.buttons, { describe: 'buttonPressed from the DM' });
    expect(press).toMatchObject({ user: fake.users.alice.id, channel: dm, status: { channel: dm, message: first.message, thread: dm } });
    const next = await fake.waitFor(() => retried, { describe: 'the status posted from the button' });
    expect([next.channel, next.thread, fake.message(next.message)?.channel_id, fake.message(next.message)?.content]).toEqual([dm, dm, dm, 'Retrying']);
    expect(rules(fake)).toEqual([]);
  });

  it('takes a later message in the DM, with no mention, as a reply in the DM edit thread; its status and private reply go into the DM', async () => {
    const { fake, flow } = await setup({}, { dmsEnabled: true });
    const dm = fake.dmChannel(fake.users.bob);
    const sky = await solidPng(20, 20, { r: 200, g: 200, b: 255 });
    const messageId = fake.postMessage({ user: fake.users.bob, channelId: dm, content: 'now make the sky cloudy', attachments: [{ name: 'sky.png', data: sky, contentType: 'image/png' }] });
    const [{ message }] = await fake.waitFor(() => flow.messages.length > 0 && flow.messages, { describe: 'threadMessage from the DM' });
    expect(message).toMatchObject({ platform: 'discord', user: fake.users.bob.id, isAdmin: false, channel: dm, thread: dm, message: messageId, text: 'now make the sky cloudy' });
    expect((await message.image!.download(MIB)).equals(sky)).toBe(true);

    const status = await message.postStatus(await runningStatus());
    expect(status).toMatchObject({ channel: dm, thread: dm });
    expect(fake.message(status.message)?.attachments.map((a) => a.filename)).toEqual(['masks.png']);
    await message.replyPrivately('That image is too large.');
    const reply = fake.messages(dm).at(-1)!;
    expect([reply.content, reply.message_reference?.message_id, reply.guild_id]).toEqual(['That image is too large.', messageId, undefined]);
    expect(threadRequests(fake)).toEqual([]);
    expect(rules(fake)).toEqual([]);
  });
});
