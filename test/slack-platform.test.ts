/**
 * Where the real Slack differs from what a bot may assume (issues 14 and 16), each pinned with the
 * real Bolt in SlackTransport against the fake Slack, a recording flow in place of the chat flow:
 * DMs as conversations, chat.update's workspace-wide limit, Slack Connect files, alt_txt, the
 * sign-in page behind a redirect, SVGs, the "Edit image" message shortcut, options in a request,
 * menus, crafted action ids, uploads remembered across a restart, pings, and a dropped socket.
 */
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { SlackConfigInput } from '../adapters/slack/config.js';
import { SlackTransport, type SlackDeps, type SlackStatusRef } from '../adapters/slack/transport.js';
import { PHOTO_FORMATS } from '../src/chat/download.js';
import { PlatformRateLimited, type ChatImage, type ChatMessage } from '../src/chat/transport.js';
import { redisKeys } from '../src/jobs/keys.js';
import { redisPlatformStore, type PlatformStore } from '../src/jobs/platform-store.js';
import { DEFAULT_REDIS_URL } from '../src/jobs/redis.js';
import { createLogger } from '../src/log.js';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from './fakes/slack/index.js';
import { RecordingHandlers } from './helpers/recording-handlers.js';

const silent = createLogger('slack-test', { level: 'silent' });

let fake: FakeSlack | undefined;
const transports: SlackTransport[] = [];
let redis: Redis | undefined;

afterEach(async () => {
  for (const t of transports.splice(0)) await t.stop().catch(() => {});
  await fake?.close();
  fake = undefined;
  if (redis) {
    const left = await redis.keys('test-slack-platform-*');
    if (left.length > 0) await redis.del(...left);
    redis.disconnect();
    redis = undefined;
  }
});

async function open(options: FakeSlackOptions = {}, config: Partial<SlackConfigInput> = {}, deps: SlackDeps = {}) {
  fake ??= await startFakeSlack(options);
  const transport = new SlackTransport({ botToken: fake.botToken, appToken: fake.appToken, apiUrl: fake.apiUrl, apiRetries: 0, ...config }, silent, deps);
  transports.push(transport);
  const flow = new RecordingHandlers();
  await transport.start(flow);
  return { fake, transport, flow };
}

function redisStore(): PlatformStore {
  redis ??= new Redis(DEFAULT_REDIS_URL);
  return redisPlatformStore(redis, redisKeys(`test-slack-platform-${process.pid}-${Date.now()}`), 'slack');
}

const solidPng = (width: number, height: number, colour = { r: 30, g: 120, b: 220 }) => sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
const image = (name: string, data: Buffer, placement: ChatImage['placement'] = 'inline', alt = `${name} alt`): ChatImage => ({ name, data, contentType: 'image/png', alt, placement });
const message = (text: string, images: ChatImage[] = [], extra: Partial<ChatMessage> = {}): ChatMessage => ({ text, images, buttons: [{ action: 'cancel', jobId: 'job-1', label: 'Cancel', style: 'danger' }], final: false, ...extra });
const calls = (f: FakeSlack, method: string) => f.requests.filter((r) => r.method === method);

/** Alice mentions the bot with a photo; the flow posts `first` as the status: where it lives. */
async function statusOf(f: FakeSlack, flow: RecordingHandlers, first: ChatMessage = message('Queued')): Promise<{ ref: SlackStatusRef; ts: string }> {
  let ref: SlackStatusRef | undefined;
  flow.onEdit = async (request) => {
    if (!ref) ref = (await request.postStatus(first)) as SlackStatusRef;
  };
  const { ts } = f.postMessage({ user: f.users.alice, channel: f.channels.general, text: `<@${f.botUserId}> turn the dog into a tiger`, files: [{ name: 'photo.png', data: await solidPng(20, 20) }] });
  return { ref: await f.waitFor(() => ref, { describe: 'the first status' }), ts };
}

describe('Slack: conversations (issue 14, defect 7)', () => {
  it("takes a DM without a photo as the DM's conversation, so the flow continues its latest result; statuses go in the message's thread", async () => {
    const { fake, flow } = await open();
    const dm = fake.channels.dm;
    const { ts } = fake.postMessage({ user: fake.users.alice, channel: dm, text: 'now make the sky pink' });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the DM request' });
    expect(edit.request).toMatchObject({ channel: dm, thread: dm, message: ts, text: 'now make the sky pink' });
    expect(edit.request.image).toBeUndefined();
    const ref = (await edit.request.postStatus(message('Queued'))) as SlackStatusRef;
    expect(ref).toMatchObject({ channel: dm, thread: dm, threadTs: ts });
    expect(fake.message(dm, ref.message)?.thread_ts).toBe(ts);
    await edit.request.replyPrivately('Not now.');
    expect(fake.ephemerals.at(-1)).toMatchObject({ channel: dm, user: fake.users.alice, thread_ts: ts });
  });

  it('takes steps=N and seed=N at the end of a request as its options', async () => {
    const { fake, flow } = await open();
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: `<@${fake.botUserId}> turn the dog into a tiger steps=120 seed=7`, files: [{ name: 'p.png', data: await solidPng(8, 8) }] });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the request' });
    expect([edit.request.text, edit.request.options]).toEqual(['turn the dog into a tiger', { steps: 120, seed: 7 }]);
  });

  it('takes check=yes / check=no at the end of a request as its check option, as Discord\'s /edit check', async () => {
    const { fake, flow } = await open();
    const photo = await solidPng(8, 8);
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: `<@${fake.botUserId}> turn the dog into a tiger check=yes`, files: [{ name: 'p.png', data: photo }] });
    fake.postMessage({ user: fake.users.bob, channel: fake.channels.general, text: `<@${fake.botUserId}> make the sky pink seed=3 check=off`, files: [{ name: 'q.png', data: photo }] });
    // A mention comes as app_mention and as message: the recorded requests may repeat one; wait for both texts.
    const edits = await fake.waitFor(() => new Set(flow.edits.map((edit) => edit.request.text)).size > 1 && flow.edits, { describe: 'both requests' });
    const byText = Object.fromEntries(edits.map((edit) => [edit.request.text, edit.request.options]));
    expect(byText).toEqual({ 'turn the dog into a tiger': { check: true }, 'make the sky pink': { seed: 3, check: false } });
  });
});

describe('Slack: files (issue 16)', () => {
  it('reads a Slack Connect file, shown by its id only, with files.info before downloading it', async () => {
    const { fake, flow } = await open();
    const photo = await solidPng(24, 24, { r: 200, g: 10, b: 10 });
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.shared, text: `<@${fake.botUserId}> make it blue`, files: [{ name: 'partner.png', data: photo }] });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the request from the shared channel' });
    expect(edit.bytes?.equals(photo), String(edit.downloadError)).toBe(true);
    expect(calls(fake, 'files.info').length).toBeGreaterThan(0);
    expect(fake.violations).toEqual([]);
  });

  it('words a download refused with a redirect to the sign-in page as the missing files:read scope, as the page itself', async () => {
    const { fake, flow } = await open();
    fake.setFilesRead(false, 'redirect');
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: `<@${fake.botUserId}> make it blue`, files: [{ name: 'p.png', data: await solidPng(8, 8) }] });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the request' });
    expect(String((edit.downloadError as Error).message)).toBe('Slack sent a web page instead of the image: the bot needs the files:read scope (reinstall the app after adding it).');
    // Once per event of the mention (message and app_mention): each answered with the redirect, never followed.
    expect(new Set(calls(fake, 'download').map((r) => r.status))).toEqual(new Set([302]));
  });

  it('refuses an SVG with the formats that work, not as a missing files:read scope', async () => {
    const { fake, flow } = await open();
    const svg = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: `<@${fake.botUserId}> make it blue`, files: [{ name: 'logo.svg', data: svg, mimetype: 'application/octet-stream' }] });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the request' });
    expect(String((edit.downloadError as Error).message)).toBe(`logo.svg is an SVG image, which cannot be edited. Send a ${PHOTO_FORMATS} photo.`);
  });

  it("uploads images with their description as alt_txt, the method's own argument, and the fake refuses one over 1000 characters", async () => {
    const { fake, transport, flow } = await open();
    const { ref } = await statusOf(fake, flow);
    await transport.editStatus(ref, message('Editing', [image('masks.png', await solidPng(16, 16), 'inline', 'The regions, numbered')]));
    await new Promise((r) => setTimeout(r, 1_100)); // chat.update of one message: about one a second
    await transport.editStatus(ref, message('Done', [image('edit.png', await solidPng(20, 20, { r: 1, g: 2, b: 3 }), 'result', 'The edited image')], { buttons: [], final: true }));
    const uploads = calls(fake, 'files.getUploadURLExternal');
    expect(uploads.map((r) => [r.params.filename, r.params.alt_txt, r.params.alt_text])).toEqual([
      ['masks.png', 'The regions, numbered', undefined],
      ['edit.png', 'The edited image', undefined],
    ]);
    const result = await fake.waitFor(() => fake.messages(fake.channels.general).find((m) => m.subtype === 'file_share' && m.thread_ts === ref.thread), { describe: 'the result in the thread' });
    expect(fake.file(result.files![0])?.altText).toBe('The edited image');
    expect(fake.violations).toEqual([]);

    const long = await fetch(`${fake.apiUrl}files.getUploadURLExternal`, { method: 'POST', headers: { authorization: `Bearer ${fake.botToken}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ filename: 'a.png', length: '10', alt_txt: 'x'.repeat(1001) }) });
    expect(await long.json()).toEqual({ ok: false, error: 'alt_txt_too_large' });
  });

  it('shows an image it uploaded before by its file id, also after a restart with the same store', async () => {
    const store = redisStore();
    const { fake, transport, flow } = await open({}, {}, { store });
    const { ref } = await statusOf(fake, flow);
    const masks = await solidPng(16, 16, { r: 9, g: 9, b: 200 });
    await transport.editStatus(ref, message('Editing 1', [image('masks.png', masks)]));
    await new Promise((r) => setTimeout(r, 1_100)); // chat.update of one message: about one a second
    await transport.editStatus(ref, message('Editing 2', [image('masks.png', masks)]));
    await transport.stop();
    const again = await open({}, {}, { store });
    await new Promise((r) => setTimeout(r, 1_100));
    await again.transport.editStatus(ref, message('Editing 3', [image('masks.png', masks)]));
    expect(calls(fake, 'files.getUploadURLExternal')).toHaveLength(1);
    const shown = calls(fake, 'chat.update').map((r) => (r.params.blocks as any[]).find((b) => b.type === 'image')?.slack_file.id);
    expect(new Set(shown).size).toBe(1);
    expect(fake.violations).toEqual([]);
  });
});

describe('Slack: rate limits (issue 16)', () => {
  it("answers chat.update past the workspace's Tier 3 limit with 429 and Retry-After, which the transport hands on at once as PlatformRateLimited", async () => {
    const { fake, transport, flow } = await open({ workspaceUpdateLimit: { limit: 3, windowMs: 60_000 }, updateRateLimit: { limit: 10, windowMs: 1_000 } }, { apiRetries: 3 });
    expect(transport.editBudget()).toEqual({ scope: `slack:${fake.teamId}`, limit: 50 });
    const first = await statusOf(fake, flow);
    await transport.editStatus(first.ref, message('one'));
    await transport.editStatus(first.ref, message('two'));
    await transport.editStatus(first.ref, message('three'));
    const startedAt = Date.now();
    let refused: unknown;
    await transport.editStatus(first.ref, message('four')).catch((error: unknown) => (refused = error));
    expect(refused).toBeInstanceOf(PlatformRateLimited);
    expect((refused as PlatformRateLimited).retryAfterMs).toBeGreaterThanOrEqual(50_000);
    expect((refused as PlatformRateLimited).scope).toBe(`slack:${fake.teamId}`);
    // Not waited out nor retried by the Web API client.
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(calls(fake, 'chat.update').map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(fake.violations.map((v) => v.detail)).toEqual([`chat.update in workspace ${fake.teamId}: more than 3 per 60000 ms`]);
  });
});

describe('Slack: interactions (issues 14 and 16)', () => {
  it("opens a modal from the message shortcut Edit image and starts the edit in that message's thread on its submission", async () => {
    const { fake, flow } = await open();
    const photo = await solidPng(24, 24, { r: 10, g: 200, b: 10 });
    const { ts } = fake.postMessage({ user: fake.users.bob, channel: fake.channels.general, text: 'my garden', files: [{ name: 'garden.png', data: photo }] });
    const shortcut = await fake.messageShortcut({ user: fake.users.alice, channel: fake.channels.general, ts, callbackId: 'gas_edit_image' });
    expect(shortcut.ackedAt! - shortcut.sentAt).toBeLessThan(3_000);
    const view = await fake.waitFor(() => fake.views[0], { describe: 'the modal' });
    expect(view.view).toMatchObject({ type: 'modal', callback_id: 'gas_edit_image_modal', title: { text: 'Edit image' } });
    await fake.submitView({ user: fake.users.alice, viewId: view.id, values: { request: { request: 'turn the grass into snow seed=3' } } });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the request from the modal' });
    expect(edit.request).toMatchObject({ user: fake.users.alice, channel: fake.channels.general, thread: ts, message: ts, text: 'turn the grass into snow', options: { seed: 3 } });
    expect(edit.request.messageIsRequest).toBeUndefined();
    expect(edit.bytes?.equals(photo), String(edit.downloadError)).toBe(true);
    const ref = await edit.request.postStatus(message('Queued'));
    expect(fake.message(fake.channels.general, ref.message)?.thread_ts).toBe(ts);
    expect(fake.violations).toEqual([]);
  });

  it('refuses the shortcut privately on a message without an image, opening no modal', async () => {
    const { fake, flow } = await open();
    const { ts } = fake.postMessage({ user: fake.users.bob, channel: fake.channels.general, text: 'no picture' });
    await fake.messageShortcut({ user: fake.users.alice, channel: fake.channels.general, ts, callbackId: 'gas_edit_image' });
    const [answer] = await fake.waitFor(() => fake.ephemerals.length > 0 && fake.ephemerals, { describe: 'the refusal' });
    expect(answer).toMatchObject({ user: fake.users.alice, thread_ts: ts, text: `That message has no image to edit. Use Edit image on a message with a ${PHOTO_FORMATS} photo, or mention me with one.` });
    expect([fake.views, flow.edits]).toEqual([[], []]);
  });

  it('shows a footer in small grey type, a context block after the buttons', async () => {
    const { fake, transport, flow } = await open();
    const { ref } = await statusOf(fake, flow);
    await transport.editStatus(ref, message('The edit failed.', [], { footer: 'ref 0b6f', final: true }));
    const blocks = fake.message(fake.channels.general, ref.message)!.blocks!;
    expect(blocks.map((b) => b.type)).toEqual(['section', 'actions', 'context']);
    expect(blocks.at(-1)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'ref 0b6f' }] });
  });

  it('hands the flow the option chosen in a static select as the press value', async () => {
    const { fake, transport, flow } = await open();
    const { ref } = await statusOf(fake, flow);
    const menus = [{ action: 'adjust' as const, jobId: 'job-1', placeholder: 'Adjust a part', options: [{ label: '1 · the dog', value: '0' }, { label: '2 · the grass', value: '1' }] }];
    await transport.editStatus(ref, message('Done', [], { menus, final: true }));
    const choice = await fake.chooseOption({ user: fake.users.alice, channel: fake.channels.general, ts: ref.message, actionId: 'gas:adjust:job-1', value: '1' });
    expect(choice.ackedAt).toBeDefined();
    const [{ press }] = await fake.waitFor(() => flow.buttons.length > 0 && flow.buttons, { describe: 'the choice' });
    expect(press).toMatchObject({ action: 'adjust', jobId: 'job-1', value: '1' });
  });

  it('acknowledges crafted action ids (not ours, an unknown action, a newline, 2 KB) within 3 s and answers them briefly; the flow hears nothing', async () => {
    const { fake, flow } = await open();
    const { ref } = await statusOf(fake, flow);
    for (const actionId of ['someone-else', 'gas:explode:job-1', 'gas:cancel:job\n1', `gas:cancel:${'x'.repeat(2048)}`]) {
      const delivery = await fake.craftedAction({ user: fake.users.bob, channel: fake.channels.general, ts: ref.message, actionId });
      expect(delivery.ackedAt, actionId.slice(0, 20)).toBeDefined();
      expect(delivery.ackedAt! - delivery.sentAt).toBeLessThan(3_000);
    }
    await fake.waitFor(() => fake.ephemerals.length === 4, { describe: 'four short answers' });
    expect(new Set(fake.ephemerals.map((e) => e.text))).toEqual(new Set(['That control is not one this bot knows; it did nothing.']));
    expect(flow.buttons).toEqual([]);
    expect(fake.violations).toEqual([]);
  });
});

describe('Slack: pings and the connection (issues 12 and 14)', () => {
  it("pings the requester with a thread reply that mentions them, and nobody with a status, an update, or a request's @channel", async () => {
    const { fake, transport, flow } = await open();
    const { ref } = await statusOf(fake, flow, message('*Edit 1*: make &lt;!channel&gt; and &lt;@U0BOB00001&gt; happy'));
    await transport.postInThread(ref, { text: 'Reply here and what to change next; Undo steps back one edit.', images: [], buttons: [], final: true });
    await transport.editStatus(ref, message(`Cancelled by <@${fake.users.alice}>.`, [], { buttons: [], final: true }));
    const ping = await transport.postInThread(ref, { text: `<@${fake.users.alice}> edit 1 is done: the result is in its status message.`, images: [], buttons: [], final: true, mentions: [fake.users.alice], replyTo: ref });
    expect(fake.message(fake.channels.general, ping.message)?.thread_ts).toBe(ref.thread);
    expect(fake.notifications).toEqual([{ channel: fake.channels.general, ts: ping.message, users: [fake.users.alice], groups: [] }]);
  });

  it('reads a dropped Socket Mode connection as disconnected within 30 s, and connected again once Slack is back', { timeout: 90_000 }, async () => {
    const { fake, transport } = await open();
    expect(transport.connected()).toBe(true);
    const droppedAt = Date.now();
    fake.setSocketsAvailable(false);
    fake.dropSockets();
    await fake.waitFor(() => !transport.connected(), { describe: 'connected() reading false', timeoutMs: 30_000 });
    expect(Date.now() - droppedAt).toBeLessThan(30_000);
    fake.setSocketsAvailable(true);
    await fake.waitFor(() => transport.connected(), { describe: 'connected() reading true again', timeoutMs: 60_000 });
  });
});
