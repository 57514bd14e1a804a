/**
 * Where the real Discord differs from what a bot may assume (issues 14 and 16), each pinned with the
 * real discord.js in DiscordTransport against the fake Discord, a recording flow in place of the
 * chat flow: threads that start with their first message, images kept by attachment id, per-file
 * upload limits from the interaction, the app's permissions, "Edit image" without an image or
 * after a restart, a refused channel-route edit, crafted component ids, menus, pings, commands'
 * contexts, a dropped gateway, shards and a gateway that only the leader holds.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { registerCommands } from '../adapters/discord/commands.js';
import { DiscordTransport, type DiscordDeps, type DiscordStatusRef } from '../adapters/discord/transport.js';
import type { DiscordConfigInput } from '../adapters/discord/config.js';
import { PHOTO_FORMATS } from '../src/chat/download.js';
import type { ChatImage, ChatMessage } from '../src/chat/transport.js';
import { redisKeys } from '../src/jobs/keys.js';
import { redisPlatformStore, type PlatformStore } from '../src/jobs/platform-store.js';
import { DEFAULT_REDIS_URL } from '../src/jobs/redis.js';
import { createLogger } from '../src/log.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from './fakes/discord/index.js';
import { RecordingHandlers } from './helpers/recording-handlers.js';

const MIB = 1024 * 1024;
const silent = createLogger('discord-test', { level: 'silent' });

let fake: FakeDiscord | undefined;
const transports: DiscordTransport[] = [];
let redis: Redis | undefined;

afterEach(async () => {
  for (const t of transports.splice(0)) await t.stop().catch(() => {});
  await fake?.close();
  const offSpec = fake?.violations.filter((v) => v.rule === 'spec') ?? [];
  fake = undefined;
  if (redis) {
    const left = await redis.keys('test-discord-platform-*');
    if (left.length > 0) await redis.del(...left);
    redis.disconnect();
    redis = undefined;
  }
  // Every request the transport made must be one Discord's API description allows.
  expect(offSpec).toEqual([]);
});

async function open(options: FakeDiscordOptions = {}, config: Partial<DiscordConfigInput> = {}, deps: DiscordDeps = {}) {
  fake ??= await startFakeDiscord(options);
  const transport = new DiscordTransport({ token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl, ...config }, silent, deps);
  transports.push(transport);
  const flow = new RecordingHandlers();
  await transport.start(flow);
  return { fake, transport, flow };
}

/** A store in Redis under a prefix of its own, as the bot process gives the transport. */
function redisStore(): PlatformStore {
  redis ??= new Redis(DEFAULT_REDIS_URL);
  return redisPlatformStore(redis, redisKeys(`test-discord-platform-${process.pid}-${Date.now()}`), 'discord');
}

const solidPng = (width: number, height: number, colour = { r: 30, g: 120, b: 220 }) => sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
/** Noise does not compress: a PNG of about 3 bytes per pixel. */
const noisePng = (width: number, height: number) => sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
const image = (name: string, data: Buffer, placement: ChatImage['placement'] = 'inline'): ChatImage => ({ name, data, contentType: 'image/png', alt: `${name} alt`, placement });
const message = (text: string, images: ChatImage[] = [], extra: Partial<ChatMessage> = {}): ChatMessage => ({ text, images, buttons: [{ action: 'cancel', jobId: 'job-1', label: 'Cancel', style: 'danger' }], final: false, ...extra });

const callbacks = (f: FakeDiscord, interaction?: string) => f.requests.filter((r) => r.path.endsWith('/callback') && (!interaction || r.path.startsWith(`/interactions/${interaction}/`)));
const ephemerals = (f: FakeDiscord) => f.requests.filter((r) => r.status >= 200 && r.status < 300 && ((r.json?.flags ?? 0) & 64 || (r.json?.data?.flags ?? 0) & 64)).map((r) => String(r.json?.data?.content ?? r.json?.content));
const writesOf = (f: FakeDiscord, messageId: string) => f.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/messages/${messageId}`));

/** /edit with a photo; the flow posts `first` as its status: where it lives. */
async function statusOf(f: FakeDiscord, flow: RecordingHandlers, first: ChatMessage, channelId?: string): Promise<DiscordStatusRef> {
  let ref: DiscordStatusRef | undefined;
  flow.onEdit = async (request) => {
    ref = (await request.postStatus(first)) as DiscordStatusRef;
  };
  f.slashCommand({ user: f.users.alice, ...(channelId ? { channelId } : {}), options: { image: { name: 'photo.png', data: await solidPng(40, 30), contentType: 'image/png' }, request: 'turn the dog into a tiger' } });
  return f.waitFor(() => ref, { describe: 'the first status' });
}

describe('Discord: "Edit image" (issue 14, defect 7; issue 16)', () => {
  it('refuses privately, before the modal, a message without an image, and one with an SVG only, naming the formats', async () => {
    const { fake, flow } = await open();
    const plain = fake.postMessage({ user: fake.users.alice, content: 'no picture here' });
    const menu = fake.contextMenu({ user: fake.users.alice, messageId: plain });
    await fake.waitFor(() => callbacks(fake, menu.id)[0], { describe: 'the answer to the menu' });
    expect(callbacks(fake, menu.id).map((r) => [r.json.type, r.json.data?.flags])).toEqual([[4, 64]]);
    expect(ephemerals(fake)).toEqual([`That message has no image to edit. Use Edit image on a message with a ${PHOTO_FORMATS} photo, or /edit with one attached.`]);

    const svg = fake.postMessage({ user: fake.users.alice, content: 'a logo', attachments: [{ name: 'logo.svg', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), contentType: 'image/svg+xml' }] });
    const second = fake.contextMenu({ user: fake.users.alice, messageId: svg });
    await fake.waitFor(() => callbacks(fake, second.id)[0], { describe: 'the answer to the menu on the SVG' });
    expect(callbacks(fake, second.id).map((r) => r.json.type)).toEqual([4]);
    expect(ephemerals(fake)[1]).toBe(`logo.svg is an SVG image, which cannot be edited. Send a ${PHOTO_FORMATS} photo.`);
    expect([flow.edits, fake.violations]).toEqual([[], []]);
  });

  it('refuses an SVG sent with /edit with the formats that work, instead of editing it', async () => {
    const { fake, flow } = await open();
    fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'logo.svg', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), contentType: 'image/svg+xml' }, request: 'make it red' } });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the request' });
    expect(String((edit.downloadError as Error)?.message)).toBe(`logo.svg is an SVG image, which cannot be edited. Send a ${PHOTO_FORMATS} photo.`);
    expect(fake.requests.some((r) => r.path.startsWith('/attachments/'))).toBe(false);
  });

  it("keeps the menu's target in the store, so that a restarted bot still edits its image", async () => {
    const store = redisStore();
    const first = await open({}, {}, { store });
    const photo = await solidPng(24, 24, { r: 10, g: 200, b: 10 });
    const target = first.fake.postMessage({ user: first.fake.users.alice, content: 'my garden', attachments: [{ name: 'garden.png', data: photo, contentType: 'image/png' }] });
    const menu = first.fake.contextMenu({ user: first.fake.users.alice, messageId: target });
    await first.fake.waitFor(() => callbacks(first.fake, menu.id).find((r) => r.json?.type === 9), { describe: 'the modal' });
    await first.transport.stop();

    const second = await open({}, {}, { store });
    second.fake.submitModal({ user: second.fake.users.alice, shownBy: menu, fields: { request: 'turn the grass into snow' } });
    const [edit] = await second.fake.waitFor(() => second.flow.edits.length > 0 && second.flow.edits, { describe: 'the request after the restart' });
    expect(edit.request).toMatchObject({ text: 'turn the grass into snow', message: target });
    expect(edit.bytes?.equals(photo)).toBe(true);
    expect(first.flow.edits).toEqual([]);
  });

  it("asks to run the menu again when the target's image is gone: without the content intent a fetched message has no attachments", async () => {
    const first = await open();
    const target = first.fake.postMessage({ user: first.fake.users.alice, content: 'my garden', attachments: [{ name: 'garden.png', data: await solidPng(8, 8), contentType: 'image/png' }] });
    const menu = first.fake.contextMenu({ user: first.fake.users.alice, messageId: target });
    await first.fake.waitFor(() => callbacks(first.fake, menu.id).find((r) => r.json?.type === 9), { describe: 'the modal' });
    await first.transport.stop();
    // A new process without the store (memory): the target is gone with the old one.
    const second = await open();
    const submitted = second.fake.submitModal({ user: second.fake.users.alice, shownBy: menu, fields: { request: 'turn the grass into snow' } });
    await second.fake.waitFor(() => ephemerals(second.fake).length > 0, { describe: 'the private answer' });
    const fetched = second.fake.requests.find((r) => r.method === 'GET' && r.path === `/channels/${second.fake.channelId}/messages/${target}`);
    expect(fetched?.status).toBe(200);
    expect(ephemerals(second.fake)).toEqual(["I no longer have that message's image (it was more than 15 minutes ago, or the bot restarted). Run Edit image on the message again."]);
    expect(callbacks(second.fake, submitted.id).map((r) => r.json.type)).toEqual([5]);
    // The loading message was removed: nothing public came of it.
    expect(second.fake.messages(second.fake.channelId).filter((m) => m.author.id === second.fake.users.bot.id && !(m.flags & 64))).toEqual([]);
    expect(second.flow.edits).toEqual([]);
  });
});

describe('Discord: threads and images (issue 14, defects 6 and 9)', () => {
  it('keeps an image the status already carries by its attachment id, uploading only what changed, also after a restart', async () => {
    const store = redisStore();
    const { fake, transport, flow } = await open({}, {}, { store });
    const masks = await solidPng(32, 32, { r: 200, g: 30, b: 30 });
    const ref = await statusOf(fake, flow, message('Planning', [image('masks.png', masks)]));
    const firstUpload = writesOf(fake, ref.message)[0];
    expect(firstUpload.files.map((f) => f.name)).toEqual(['masks.png']);
    const masksId = fake.message(ref.message)!.attachments[0].id;

    await transport.editStatus(ref, message('Editing 10/80', [image('masks.png', masks)]));
    await transport.editStatus(ref, message('Editing 20/80', [image('masks.png', masks), image('preview.png', await solidPng(16, 16))]));
    const [, second, third] = writesOf(fake, ref.message);
    expect(second.files).toEqual([]);
    expect(second.json.attachments).toEqual([{ id: masksId }]);
    expect(second.json.embeds).toEqual([{ image: { url: 'attachment://masks.png' } }]);
    expect(third.files.map((f) => f.name)).toEqual(['preview.png']);
    expect(third.json.attachments).toEqual([{ id: masksId }, { id: '0', filename: 'preview.png', description: 'preview.png alt' }]);
    expect(fake.message(ref.message)!.attachments.map((a) => a.filename)).toEqual(['masks.png', 'preview.png']);

    // A restarted process, the same store: it still knows what the message carries.
    await transport.stop();
    const again = await open({}, {}, { store });
    await again.transport.editStatus(ref, message('Editing 30/80', [image('masks.png', masks)]));
    expect(writesOf(fake, ref.message).at(-1)!.files).toEqual([]);
    expect(fake.message(ref.message)!.attachments.map((a) => [a.id, a.filename])).toEqual([[masksId, 'masks.png']]);
    // The masks went up once, whatever was edited since.
    expect(fake.requests.flatMap((r) => r.files).filter((f) => f.name === 'masks.png')).toHaveLength(1);
    expect(fake.violations).toEqual([]);
  });

  it('posts a ping into the thread of the status, mentioning only its user, and nothing it posts pings anyone else', async () => {
    const { fake, transport, flow } = await open();
    const { alice, bob } = fake.users;
    const request = `make @everyone and <@&${fake.roles.editors}> and <@${bob.id}> happy`;
    const ref = await statusOf(fake, flow, message(`**Edit 1**: ${request}`));
    await transport.postInThread(ref, { text: 'Reply here with the bot and what to change next; Undo steps back one edit.', images: [], buttons: [], final: true });
    await transport.editStatus(ref, message(`**Edit 1**: ${request}\nCancelled by <@${alice.id}>.`));
    const ping = await transport.postInThread(ref, { text: `<@${alice.id}> edit 1 is done: the result is in its status message.`, images: [], buttons: [], final: true, mentions: [alice.id], replyTo: ref });
    const sent = fake.requests.find((r) => r.method === 'POST' && r.path === `/channels/${ref.thread}/messages` && r.json.content.startsWith(`<@${alice.id}>`))!;
    expect(sent.json.allowed_mentions).toEqual({ users: [alice.id] });
    // The status is in the channel, the ping in its thread: a reply can only answer a message of its own channel.
    expect(sent.json.message_reference).toBeUndefined();
    expect(fake.message(ping.message)!.channel_id).toBe(ref.thread);
    // What a real client would have notified: alice, once; never bob, the role or @everyone.
    expect(fake.notifications.map((n) => [n.messageId, n.users, n.roles, n.everyone])).toEqual([[ping.message, [alice.id], [], false]]);
  });

  it('answers the status it pings about where both are in one thread', async () => {
    const { fake, transport, flow } = await open();
    const thread = fake.createThread({ user: fake.users.alice, name: 'edits' });
    const ref = await statusOf(fake, flow, message('Done'), thread);
    await transport.postInThread(ref, { text: `<@${fake.users.alice.id}> edit 1 is done.`, images: [], buttons: [], final: true, mentions: [fake.users.alice.id], replyTo: ref });
    const sent = fake.requests.filter((r) => r.method === 'POST' && r.path === `/channels/${thread}/messages`).at(-1)!;
    expect(sent.json.message_reference).toEqual({ message_id: ref.message, fail_if_not_exists: false });
    expect(sent.json.allowed_mentions).toEqual({ users: [fake.users.alice.id], replied_user: false });
    expect(fake.notifications.map((n) => n.users)).toEqual([[fake.users.alice.id]]);
  });

  it("answers a person's message in a thread as a reply that pings nobody, the person included", async () => {
    const { fake, transport, flow } = await open();
    const ref = await statusOf(fake, flow, message('Queued'));
    await transport.postInThread(ref, { text: 'Reply here…', images: [], buttons: [], final: true });
    const botUser = fake.users.bot;
    const said = fake.postMessage({ user: fake.users.alice, channelId: ref.thread, content: `<@${botUser.id}> make it pink`, mentions: [botUser] });
    const [{ message: incoming }] = await fake.waitFor(() => flow.messages.length > 0 && flow.messages, { describe: 'the reply' });
    await incoming.replyPrivately('That image is too large.');
    const answer = fake.messages(ref.thread).find((m) => m.message_reference?.message_id === said)!;
    expect(answer.content).toBe('That image is too large.');
    expect(fake.notifications).toEqual([]);
  });

  it('shows a footer as small subtext under the text', async () => {
    const { fake, transport, flow } = await open();
    const ref = await statusOf(fake, flow, message('Queued'));
    await transport.editStatus(ref, message('The edit failed.', [], { footer: 'ref 0b6f', final: true }));
    expect(fake.message(ref.message)!.content).toBe('The edit failed.\n-# ref 0b6f');
  });
});

describe('Discord: no empty thread (issue 14, defect 6)', () => {
  it('leaves no thread behind where it cannot write in threads: the request is refused before anything is posted', async () => {
    const { fake, transport, flow } = await open();
    // What the flow does with a request: the status, then the line that opens its thread.
    flow.onEdit = async (request) => {
      const ref = await request.postStatus(message('Queued'));
      await transport.postInThread(ref, { text: 'Reply here…', images: [], buttons: [], final: true });
    };
    fake.denyBot(fake.channelId, ['sendMessagesInThreads']);
    fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'p.png', data: await solidPng(8, 8), contentType: 'image/png' }, request: 'turn the dog into a tiger' } });
    await fake.waitFor(() => ephemerals(fake).length > 0, { describe: 'the refusal' });
    expect(ephemerals(fake)[0]).toContain('Send Messages in Threads');
    expect([...fake.requests].filter((r) => r.path.endsWith('/threads'))).toEqual([]);
    expect(fake.messages(fake.channelId).filter((m) => m.author.id === fake.users.bot.id && !(m.flags & 64))).toEqual([]);
  });

  it('starts the thread only with the line that goes into it, so a request whose status fails leaves no thread', async () => {
    const { fake, flow } = await open();
    let failed: unknown;
    flow.onEdit = async (request) => {
      await request.postStatus(message('Queued')).catch((error: unknown) => (failed = error));
    };
    fake.failNext((method, path) => method === 'PATCH' && path.startsWith('/webhooks/'), { status: 500, code: 0, message: 'Internal Server Error' });
    fake.failNext((method, path) => method === 'PATCH' && path.startsWith('/webhooks/'), { status: 500, code: 0, message: 'Internal Server Error' });
    fake.failNext((method, path) => method === 'PATCH' && path.startsWith('/webhooks/'), { status: 500, code: 0, message: 'Internal Server Error' });
    fake.failNext((method, path) => method === 'PATCH' && path.startsWith('/webhooks/'), { status: 500, code: 0, message: 'Internal Server Error' });
    fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'p.png', data: await solidPng(8, 8), contentType: 'image/png' }, request: 'turn the dog into a tiger' } });
    await fake.waitFor(() => failed, { describe: 'the status failing', timeoutMs: 30_000 });
    expect(fake.requests.filter((r) => r.path.endsWith('/threads'))).toEqual([]);
  });
});

describe('Discord: upload limits per file (issue 16)', () => {
  it("sends files that fit the interaction's attachment_size_limit as they are, though together they pass the old 10 MiB", async () => {
    // A boosted server: 50 MiB per file, as the interaction says; requests up to 25 MiB.
    const { fake, transport, flow } = await open({ maxUploadBytes: 50 * MIB, attachmentSizeLimit: 50 * MIB });
    const ref = await statusOf(fake, flow, message('Planning'));
    expect(ref.fileBytes).toBe(50 * MIB);
    const masks = await noisePng(1400, 1400);
    const preview = await noisePng(1400, 1400);
    expect(masks.length).toBeGreaterThan(5 * MIB);
    expect(masks.length + preview.length).toBeGreaterThan(10 * MIB);
    await transport.editStatus(ref, message('Editing', [image('masks.png', masks), image('preview.png', preview)]));
    const write = writesOf(fake, ref.message).at(-1)!;
    expect(write.status).toBe(200);
    expect(write.files.map((f) => [f.name, f.contentType, f.data.length])).toEqual([
      ['masks.png', 'image/png', masks.length],
      ['preview.png', 'image/png', preview.length],
    ]);
    expect(fake.message(ref.message)!.content).toBe('Editing');
  });

  it('fits each file to the per-file limit and the request to 25 MiB, and the fake answers 413 over either', async () => {
    const { fake, transport, flow } = await open({ maxUploadBytes: 4 * MIB, maxRequestBytes: 6 * MIB });
    const ref = await statusOf(fake, flow, message('Planning'));
    const big = await noisePng(1300, 1300); // about 5 MiB
    await transport.editStatus(ref, message('Editing', [image('masks.png', big), image('preview.png', await noisePng(900, 900))]));
    const write = writesOf(fake, ref.message).at(-1)!;
    expect(write.status, fake.describe()).toBe(200);
    for (const file of write.files) expect(file.data.length).toBeLessThanOrEqual(4 * MIB);
    expect(write.files.reduce((sum, f) => sum + f.data.length, 0)).toBeLessThanOrEqual(6 * MIB);
    expect(fake.violations).toEqual([]);
  });
});

describe("Discord: the app's permissions (issue 16)", () => {
  it('answers privately, before deferring, naming what it lacks where it cannot work, and works in a thread without Create Public Threads', async () => {
    const { fake, flow } = await open();
    fake.denyBot(fake.channelId, ['createPublicThreads', 'attachFiles']);
    const { id } = fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'p.png', data: await solidPng(8, 8), contentType: 'image/png' }, request: 'turn the dog into a tiger' } });
    await fake.waitFor(() => callbacks(fake, id)[0], { describe: 'the answer' });
    expect(callbacks(fake, id).map((r) => r.json.type)).toEqual([4]);
    expect(ephemerals(fake)).toEqual(["I can't edit images in this channel: I'm missing the Create Public Threads and Attach Files permissions here. Ask a server admin to give them to me, then try again."]);
    expect(flow.edits).toEqual([]);

    fake.denyBot(fake.channelId, ['createPublicThreads']);
    const thread = fake.createThread({ user: fake.users.alice, name: 'mine' });
    fake.slashCommand({ user: fake.users.alice, channelId: thread, options: { image: { name: 'p.png', data: await solidPng(8, 8), contentType: 'image/png' }, request: 'turn the dog into a tiger' } });
    await fake.waitFor(() => flow.edits.length > 0, { describe: 'the request in a thread' });
  });
});

describe('Discord: edits after the interaction token (issue 16)', () => {
  it('posts the status anew in its thread when the channel route refuses the edit, and edits that one from then on', async () => {
    const { fake, transport, flow } = await open({ tokenLifetimeMs: 1_500 }, { tokenLifetimeMs: 1_500, tokenMarginMs: 500 });
    const ref = await statusOf(fake, flow, message('Queued'));
    await transport.postInThread(ref, { text: 'Reply here…', images: [], buttons: [], final: true });
    await new Promise((r) => setTimeout(r, 1_200));
    fake.failNext((method, path) => method === 'PATCH' && path === `/channels/${fake.channelId}/messages/${ref.message}`, { status: 403, code: 50001, message: 'Missing Access' });
    await transport.editStatus(ref, message('Editing 10/80'));
    const moved = fake.messages(ref.thread).find((m) => m.content === 'Editing 10/80');
    expect(moved, fake.describe()).toBeDefined();
    await transport.editStatus(ref, message('Done', [], { buttons: [], final: true }));
    expect(fake.message(moved!.id)!.content).toBe('Done');
    expect(fake.message(ref.message)!.content).toBe('Queued');
  });

  it("answers a channel route with 50001 where the bot cannot see the channel, while the interaction's webhook still works", async () => {
    const { fake, transport, flow } = await open();
    const ref = await statusOf(fake, flow, message('Queued'));
    fake.denyBot(fake.channelId, ['viewChannel']);
    await transport.editStatus(ref, message('Editing')); // the webhook: the bot's own access does not matter
    expect(fake.message(ref.message)!.content).toBe('Editing');
    const refused = await fetch(`${fake.apiUrl}/v10/channels/${fake.channelId}/messages/${ref.message}`, { method: 'PATCH', headers: { authorization: `Bot ${fake.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ content: 'x' }) });
    expect([refused.status, ((await refused.json()) as { code: number }).code]).toEqual([403, 50001]);
    expect(fake.violations.map((v) => v.rule)).toEqual(['missing-access']);
  });
});

describe('Discord: components (issues 14 and 16)', () => {
  it('hands the flow the option chosen in a menu as the press value', async () => {
    const { fake, transport, flow } = await open();
    const ref = await statusOf(fake, flow, message('Queued'));
    const menus = [{ action: 'adjust' as const, jobId: 'job-1', placeholder: 'Adjust a part', options: [{ label: '1 · the dog', value: '0' }, { label: '2 · the grass', value: '1' }] }];
    await transport.editStatus(ref, message('Done', [], { menus, final: true }));
    const row = fake.message(ref.message)!.components[1];
    expect(row.components[0]).toMatchObject({ type: 3, custom_id: 'gas:adjust:job-1', placeholder: 'Adjust a part' });
    fake.chooseOption({ user: fake.users.alice, messageId: ref.message, customId: 'gas:adjust:job-1', values: ['1'] });
    const [{ press }] = await fake.waitFor(() => flow.buttons.length > 0 && flow.buttons, { describe: 'the choice' });
    expect(press).toMatchObject({ action: 'adjust', jobId: 'job-1', value: '1', status: { message: ref.message } });
    expect(callbacks(fake).at(-1)!.json).toEqual({ type: 6 });
  });

  it('acknowledges crafted ids (an unknown action, a newline, 2 KB) and answers them briefly; the flow hears nothing', async () => {
    const { fake, flow } = await open();
    const ref = await statusOf(fake, flow, message('Queued'));
    for (const customId of ['gas:explode:job-1', 'gas:cancel:job\n1', `gas:cancel:${'x'.repeat(2048)}`]) {
      const { id } = fake.craftedPress({ user: fake.users.bob, messageId: ref.message, customId });
      await fake.waitFor(() => callbacks(fake, id)[0], { describe: `the acknowledgement of ${JSON.stringify(customId.slice(0, 20))}` });
      expect(callbacks(fake, id).map((r) => r.json.type)).toEqual([6]);
    }
    await fake.waitFor(() => ephemerals(fake).length === 3, { describe: 'three short answers' });
    expect(new Set(ephemerals(fake))).toEqual(new Set(['That control is not one this bot knows; it did nothing.']));
    expect(flow.buttons).toEqual([]);
  });
});

describe('Discord: commands, the gateway and shards (issues 12 and 16)', () => {
  it('registers the commands for servers only, and for DMs with the bot too when DISCORD_DMS is on', async () => {
    fake = await startFakeDiscord();
    const registered = await registerCommands({ token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl });
    expect(registered.map((c) => [c.name, c.contexts, c.integration_types])).toEqual([
      ['edit', [0], [0]],
      ['Edit image', [0], [0]],
    ]);
    const withDms = await registerCommands({ token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl, dms: true });
    expect(withDms.map((c) => c.contexts)).toEqual([
      [0, 1],
      [0, 1],
    ]);
    expect(fake.violations).toEqual([]);
  });

  it('reads a dropped gateway as disconnected within 30 s, and connected again once it is back', { timeout: 90_000 }, async () => {
    const { fake, transport } = await open();
    expect(transport.connected()).toBe(true);
    const droppedAt = Date.now();
    fake.dropGateway();
    await fake.waitFor(() => !transport.connected(), { describe: 'connected() reading false', timeoutMs: 30_000 });
    expect(Date.now() - droppedAt).toBeLessThan(30_000);
    fake.restoreGateway();
    await fake.waitFor(() => transport.connected(), { describe: 'connected() reading true again', timeoutMs: 60_000 });
  });

  it('runs two shards of one token, each identified with its shard, and serves the guild on the shard the formula names', async () => {
    const { fake, flow } = await open({ recommendedShards: 2 }, { shards: 'auto' });
    expect(fake.identified.map((s) => s.shard).sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'p.png', data: await solidPng(8, 8), contentType: 'image/png' }, request: 'turn the dog into a tiger' } });
    await fake.waitFor(() => flow.edits.length > 0, { describe: 'the command, on the guild shard' });
  });

  it('edits statuses over REST from a process that has not connected the gateway, and names one gateway lease per token and shard set', async () => {
    fake = await startFakeDiscord();
    const leader = await open({}, {});
    // A bot process standing by (src/chat/connection-leader.ts): the transport exists, the gateway is not opened.
    const standby = new DiscordTransport({ token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl }, silent);
    transports.push(standby);
    expect(fake.identified).toHaveLength(1);
    expect(standby.connected()).toBe(false);
    const ref = await statusOf(fake, leader.flow, message('Queued'));
    await standby.editStatus(ref, message('Editing'));
    expect(fake.message(ref.message)!.content).toBe('Editing');
    expect(standby.exclusiveConnection()).toBe(`discord-gateway:${fake.applicationId}`);
    const shardOf = (shardIds: string[]) => new DiscordTransport({ token: fake!.token, applicationId: fake!.applicationId, apiUrl: fake!.apiUrl, shards: '4', shardIds }, silent).exclusiveConnection();
    expect(shardOf(['0', '1'])).toBe(`discord-gateway:${fake.applicationId}:4:0,1`);
    expect(shardOf(['2', '3'])).not.toBe(shardOf(['0', '1']));
    await leader.transport.stop();
    await standby.start(new RecordingHandlers());
    expect(fake.identified).toHaveLength(2);
    expect(standby.connected()).toBe(true);
  });
});
