/**
 * The Slack transport (adapters/slack) with the real Bolt against the fake Slack, and a recording
 * ChatFlowHandlers in place of the flow (or, for de-duplication, the real flow on Redis): what
 * reaches the flow, and what the flow's messages become on the wire.
 */
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { slackMessage } from '../adapters/slack/blocks.js';
import { slackSection, type SlackConfigInput } from '../adapters/slack/config.js';
import { readSection } from '../src/config/section.js';
import { downloadSlackFile, fileHosts, sharedFile, slackFileSource } from '../adapters/slack/download.js';
import { slackFormat } from '../adapters/slack/format.js';
import { BOT_EVENTS, BOT_SCOPES, slackManifest } from '../adapters/slack/manifest.js';
import { SlackTransport, type SlackStatusRef } from '../adapters/slack/transport.js';
import { ChatFlow } from '../src/chat/flow.js';
import type { ChatFlowHandlers, ChatImage, ChatMessage, StatusRef } from '../src/chat/transport.js';
import { encodePng } from '../src/image/decode.js';
import { ThreadHistory } from '../src/jobs/thread-history.js';
import { createLogger } from '../src/log.js';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from './fakes/slack/index.js';
import { sceneImage } from './helpers/colour-world.js';
import { rejection } from './helpers/errors.js';
import { RecordingHandlers } from './helpers/recording-handlers.js';
import { queueHarness, REQUEST, type QueueHarness } from './helpers/queue.js';
import { freePort } from './helpers/private-redis.js';

const MIB = 1024 * 1024;
const silent = createLogger('slack-test', { level: 'silent' });
/** The real flow pings a requester whose edit took long, which a busy machine makes of any edit: not here, where messages are counted. */
const NO_PINGS = { notifyAfterMs: 3_600_000 };

let fake: FakeSlack | undefined;
let transport: SlackTransport | undefined;
let harness: QueueHarness | undefined;
let flow: ChatFlow | undefined;

afterEach(async () => {
  await flow?.stop();
  await transport?.stop();
  await fake?.close();
  await harness?.close();
  flow = undefined;
  transport = undefined;
  fake = undefined;
  harness = undefined;
});


/** Settings for the transport against a fake; Socket Mode unless the fake delivers over HTTP. */
async function transportConfig(f: FakeSlack, mode: 'socket' | 'http', extra: Partial<SlackConfigInput> = {}): Promise<SlackConfigInput> {
  const base = { botToken: f.botToken, apiUrl: f.apiUrl, apiRetries: 0, ...extra };
  if (mode === 'socket') return { ...base, appToken: f.appToken };
  const port = await freePort();
  f.setEventsUrl(`http://127.0.0.1:${port}/slack/events`);
  return { ...base, signingSecret: f.signingSecret, port };
}

async function setup(
  fakeOptions: FakeSlackOptions = {},
  extra: Partial<SlackConfigInput> = {},
  handlers: ChatFlowHandlers = new RecordingHandlers(),
): Promise<{ fake: FakeSlack; transport: SlackTransport; flow: RecordingHandlers }> {
  fake = await startFakeSlack(fakeOptions);
  transport = new SlackTransport(await transportConfig(fake, fakeOptions.delivery ?? 'socket', extra), silent);
  await transport.start(handlers);
  return { fake, transport, flow: handlers as RecordingHandlers };
}

async function solidPng(width: number, height: number, colour = { r: 30, g: 120, b: 220 }): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
}

const image = (name: string, data: Buffer, placement: ChatImage['placement']): ChatImage => ({ name, data, contentType: 'image/png', alt: `${name} alt`, placement });

async function runningStatus(jobId = 'job-1'): Promise<ChatMessage> {
  return {
    text: `${slackFormat.bold('Editing')}: 2 changes`,
    images: [image('masks.png', await solidPng(32, 32), 'inline')],
    buttons: [{ action: 'cancel', jobId, label: 'Cancel', style: 'danger' }],
    final: false,
  };
}

const queuedStatus = (jobId = 'job-1'): ChatMessage => ({
  text: `${slackFormat.bold('Queued')}: position 1`,
  images: [],
  buttons: [{ action: 'cancel', jobId, label: 'Cancel', style: 'danger' }],
  final: false,
});

const rules = (f: FakeSlack) => f.violations.map((v) => v.rule);
const calls = (f: FakeSlack, method: string) => f.requests.filter((r) => r.method === method);
const mention = (f: FakeSlack, text: string) => `<@${f.botUserId}> ${text}`;

/** A mention with a photo whose first editRequest posts the queued status; resolves with its ref. */
async function editWithStatus(f: FakeSlack, flow: RecordingHandlers, photo: Buffer): Promise<{ ref: SlackStatusRef; ts: string }> {
  let ref: SlackStatusRef | undefined;
  flow.onEdit = async (request) => {
    if (!ref) ref = (await request.postStatus(queuedStatus())) as SlackStatusRef;
  };
  const { ts } = f.postMessage({ user: f.users.alice, channel: f.channels.general, text: mention(f, REQUEST), files: [{ name: 'photo.png', data: photo }] });
  return { ref: await f.waitFor(() => ref, { describe: 'postStatus from the mention' }), ts };
}

describe('SlackTransport', { timeout: 60_000 }, () => {
  it('hands the flow a mention with a photo: downloaded bytes, mention stripped, in the message thread, acknowledged within 3 s', async () => {
    const { fake, flow } = await setup();
    const photo = await solidPng(40, 30);
    const { ts, eventIds } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: mention(fake, REQUEST), files: [{ name: 'photo.png', data: photo }] });
    expect(eventIds).toHaveLength(2); // message (file_share) and app_mention
    await fake.waitFor(() => flow.edits.length === 2, { describe: 'editRequest from both events' });
    for (const { request, bytes } of flow.edits) {
      expect(request).toMatchObject({ platform: 'slack', user: fake.users.alice, isAdmin: false, channel: fake.channels.general, text: REQUEST, thread: ts, message: ts, messageIsRequest: true, options: {} });
      expect(request.image).toMatchObject({ name: 'photo.png', contentType: 'image/png', size: photo.length });
      expect(bytes?.equals(photo)).toBe(true);
    }
    const delivered = fake.deliveries.filter((d) => d.kind === 'events_api');
    expect(delivered.map((d) => d.eventType).sort()).toEqual(['app_mention', 'message']);
    for (const d of delivered) expect(d.ackedAt! - d.sentAt).toBeLessThan(3_000);
    const download = calls(fake, 'download')[0];
    expect(download.authorization).toBe(`Bearer ${fake.botToken}`);
    // SLACK_API_URL reached the Socket Mode client: it opened its connection at the fake with the app token.
    expect(calls(fake, 'apps.connections.open')[0].authorization).toBe(`Bearer ${fake.appToken}`);
    expect(rules(fake)).toEqual([]);
  });

  it('takes a DM with a photo as a request without any mention', async () => {
    const { fake, flow } = await setup();
    const photo = await solidPng(20, 20);
    const { ts } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.dm, text: 'make the sky cloudy', files: [{ name: 'sky.png', data: photo }] });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'editRequest from the DM' });
    // Issue 14 (defect 7): in a DM the conversation is the DM itself, so a later message there continues it.
    expect(edit.request).toMatchObject({ channel: fake.channels.dm, text: 'make the sky cloudy', thread: fake.channels.dm, message: ts });
    expect(edit.bytes?.equals(photo)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(flow.edits).toHaveLength(1);
    expect(rules(fake)).toEqual([]);
  });

  it('posts the status in the thread and updates it with image blocks only once the upload is processed, then uploads the result into the thread', async () => {
    const { fake, flow, transport } = await setup({ fileProcessingMs: 400 });
    const { ref, ts } = await editWithStatus(fake, flow, await solidPng(40, 30));
    expect(ref).toMatchObject({ platform: 'slack', channel: fake.channels.general, thread: ts });
    const status = fake.message(fake.channels.general, ref.message)!;
    expect(status).toMatchObject({ thread_ts: ts, user: fake.botUserId, text: '*Queued*: position 1' });
    expect(status.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: '*Queued*: position 1' } },
      { type: 'actions', elements: [{ type: 'button', action_id: 'gas:cancel:job-1', value: 'gas:cancel:job-1', text: { type: 'plain_text', text: 'Cancel' }, style: 'danger' }] },
    ]);

    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the fake allows about one update a second per message
    await transport.editStatus(ref, await runningStatus());
    const [update] = calls(fake, 'chat.update');
    const [completed] = calls(fake, 'files.completeUploadExternal');
    expect(completed.params.channel_id).toBeUndefined(); // inline images are not shared into the thread
    const fileId = completed.params.files[0].id as string;
    expect(update.params.blocks[1]).toEqual({ type: 'image', slack_file: { id: fileId }, alt_text: 'masks.png alt' });
    const infos = calls(fake, 'files.info');
    expect(infos.at(-1)!.at).toBeLessThanOrEqual(update.at);
    expect(fake.file(fileId)?.state).toBe('processed');
    expect(fake.messages(fake.channels.general).filter((m) => m.subtype === 'file_share' && m.user === fake!.botUserId)).toEqual([]);

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const result = await solidPng(96, 64, { r: 250, g: 140, b: 20 });
    await transport.editStatus(ref, {
      text: 'Done.',
      images: [image('result.png', result, 'result')],
      buttons: [
        { action: 'retry', jobId: 'job-1', label: 'Retry', style: 'primary' },
        { action: 'undo', jobId: 'job-1', label: 'Undo', style: 'secondary' },
      ],
      final: true,
    });
    const edited = fake.message(fake.channels.general, ref.message)!;
    expect(edited.text).toBe('Done.');
    expect(edited.blocks!.map((b) => b.type)).toEqual(['section', 'actions']);
    const share = calls(fake, 'files.completeUploadExternal').at(-1)!;
    expect(share.params).toMatchObject({ channel_id: fake.channels.general, thread_ts: ts });
    const echo = await fake.waitFor(() => fake.messages(fake.channels.general).find((m) => m.subtype === 'file_share' && m.user === fake.botUserId), { describe: 'the result shared into the thread' });
    expect(echo.thread_ts).toBe(ts);
    const shown = await sharp(fake.fileBytes(echo.files![0])).metadata();
    expect([shown.width, shown.height]).toEqual([96, 64]);
    // The bot's own file echo comes back as a message event in the thread; it reaches nobody.
    await fake.waitFor(() => fake.deliveries.find((d) => d.eventType === 'message' && d.ackedAt !== undefined && d.sentAt >= share.at), { describe: 'the echo event, acknowledged' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(flow.messages).toEqual([]);
    expect(rules(fake)).toEqual([]);
  });

  it('passes a thread reply (no mention) with its image to threadMessage, and ignores the bot’s own messages', async () => {
    const { fake, flow } = await setup();
    const { ts } = await editWithStatus(fake, flow, await solidPng(40, 30));
    const photo = await solidPng(24, 24, { r: 200, g: 10, b: 10 });
    const reply = fake.postMessage({ user: fake.users.bob, channel: fake.channels.general, thread_ts: ts, text: 'now make it red', files: [{ name: 'red.png', data: photo }] });
    const [{ message, bytes }] = await fake.waitFor(() => flow.messages.length > 0 && flow.messages, { describe: 'threadMessage from the reply' });
    expect(message).toMatchObject({ platform: 'slack', user: fake.users.bob, channel: fake.channels.general, thread: ts, message: reply.ts, text: 'now make it red' });
    expect(bytes?.equals(photo)).toBe(true);
    // A message outside any thread, without a mention, is nobody's business.
    fake.postMessage({ user: fake.users.bob, channel: fake.channels.general, text: 'lunch?' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(flow.messages).toHaveLength(1);
    expect(flow.edits).toHaveLength(2); // the mention's two events, nothing more
  });

  it('acknowledges a button within 3 s and passes it to buttonPressed with its status message; private replies are ephemeral', async () => {
    const { fake, flow } = await setup();
    const { ref, ts } = await editWithStatus(fake, flow, await solidPng(40, 30));
    flow.onButton = async (press) => press.replyPrivately('Only <@U0ALICE001> can cancel this edit.');
    const delivery = await fake.pressButton({ user: fake.users.bob, channel: fake.channels.general, ts: ref.message, actionId: 'gas:cancel:job-1' });
    expect(delivery.ackedAt! - delivery.sentAt).toBeLessThan(3_000);
    const [{ press }] = await fake.waitFor(() => flow.buttons.length > 0 && flow.buttons, { describe: 'buttonPressed' });
    expect(press).toMatchObject({ platform: 'slack', user: fake.users.bob, action: 'cancel', jobId: 'job-1', channel: fake.channels.general });
    expect(press.status).toEqual({ platform: 'slack', channel: fake.channels.general, message: ref.message, thread: ts });
    const [ephemeral] = await fake.waitFor(() => fake.ephemerals.length > 0 && fake.ephemerals, { describe: 'the private reply' });
    expect(ephemeral).toMatchObject({ channel: fake.channels.general, user: fake.users.bob, thread_ts: ts, text: 'Only <@U0ALICE001> can cancel this edit.' });
    expect(rules(fake)).toEqual([]);
  });

  it('in HTTP mode takes signed events and refuses a bad signature or a 6-minute-old timestamp', async () => {
    const { fake, flow } = await setup({ delivery: 'http' });
    const photo = await solidPng(16, 16);
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: mention(fake, 'make it snow'), files: [{ name: 'p.png', data: photo }] });
    await fake.waitFor(() => flow.edits.length === 2, { describe: 'editRequest over HTTP' });
    expect(flow.edits[0].request.text).toBe('make it snow');
    expect(fake.deliveries.every((d) => d.status === 200 && d.ackedAt! - d.sentAt < 3_000)).toBe(true);
    expect(await fake.sendSignedEvent({ tamper: 'signature' })).toBe(401);
    expect(await fake.sendSignedEvent({ tamper: 'stale' })).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(flow.edits).toHaveLength(2);
    expect(await fake.sendSignedEvent({})).toBe(200); // the same request, signed and fresh, is taken
  });

  it('loses no event across a Socket Mode refresh (disconnect, reconnect)', async () => {
    const { fake, flow } = await setup();
    expect(fake.connectionCount()).toBe(1);
    fake.refreshSockets();
    const photo = await solidPng(16, 16);
    const { ts } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.dm, text: 'turn the dog into a tiger', files: [{ name: 'p.png', data: photo }] });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the event sent during the refresh' });
    expect(edit.request.message).toBe(ts);
    expect(fake.connectionCount()).toBe(2);
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.dm, text: 'and the grass into snow', files: [{ name: 'q.png', data: photo }] });
    await fake.waitFor(() => flow.edits.length === 2, { describe: 'an event on the new connection' });
    expect(rules(fake)).toEqual([]);
  });

  it('loses no event when the connection drops: what happens meanwhile arrives once it has reconnected', async () => {
    const { fake, flow } = await setup();
    fake.dropSockets();
    const { ts } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.dm, text: 'turn the dog into a tiger', files: [{ name: 'p.png', data: await solidPng(16, 16) }] });
    const [edit] = await fake.waitFor(() => flow.edits.length > 0 && flow.edits, { describe: 'the event after the drop', timeoutMs: 30_000 });
    expect(edit.request.message).toBe(ts);
    expect(fake.connectionCount()).toBe(2);
    await fake.waitFor(() => fake.deliveries.every((d) => d.ackedAt !== undefined), { describe: 'the acknowledgement on the new connection' });
    expect(rules(fake)).toEqual([]);
  });

  it('refuses a mention outside the allowed channels privately, once, and stays silent for thread replies there', async () => {
    const { fake, flow } = await setup({}, { allowedChannels: ['C0OTHER001'] });
    const { ts } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: mention(fake, REQUEST), files: [{ name: 'p.png', data: await solidPng(8, 8) }] });
    const [refusal] = await fake.waitFor(() => fake.ephemerals.length > 0 && fake.ephemerals, { describe: 'the refusal' });
    expect(refusal).toMatchObject({ user: fake.users.alice, thread_ts: ts, text: 'Edits are not enabled in this channel; use <#C0OTHER001>.' });
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, thread_ts: ts, text: 'please?' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(fake.ephemerals).toHaveLength(1);
    expect([flow.edits.length, flow.messages.length]).toEqual([0, 0]);
  });

  it('says to add files:read when Slack answers the download with its sign-in page, and refuses hosts that are not Slack’s', async () => {
    fake = await startFakeSlack();
    const { ts } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.dm, text: 'x', files: [{ name: 'p.png', data: await solidPng(8, 8) }] });
    const file = fake.file(fake.message(fake.channels.dm, ts)!.files![0])!;
    const hosts = fileHosts(fake.apiUrl);
    const page = await rejection(downloadSlackFile(file.url_private_download, 'xoxb-no-files-read', MIB, hosts));
    expect([page.code, page.message]).toEqual(['bad_image', 'Slack sent a web page instead of the image: the bot needs the files:read scope (reinstall the app after adding it).']);
    expect((await downloadSlackFile(file.url_private_download, fake.botToken, MIB, hosts)).equals(fake.fileBytes(file.id)!)).toBe(true);

    const elsewhere = await rejection(sharedFile({ id: 'F1', name: 'p.png', url_private_download: 'https://evil.example/p.png' }, slackFileSource(fake.botToken, hosts)).download(MIB));
    expect([elsewhere.code, elsewhere.message]).toEqual(['bad_input', 'That file is not hosted by Slack; share the image in your message.']);
    const plain = await rejection(downloadSlackFile('http://files.slack.com/files-pri/T-F/p.png', fake.botToken, MIB, fileHosts('https://slack.com/api/')));
    expect(plain.code).toBe('bad_input');
    const big = await rejection(downloadSlackFile(file.url_private_download, fake.botToken, 10, hosts));
    expect(big.message).toMatch(/^The image is larger than/);
    expect(fileHosts('https://slack.com/api/')).toEqual(['files.slack.com']);
  });

  it('fails to start with a short message when Slack refuses the bot token, and never logs a token', async () => {
    fake = await startFakeSlack();
    const lines: string[] = [];
    const log = createLogger('slack-test', { level: 'debug', secrets: [], destination: new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }) as never });
    const refused = new SlackTransport({ botToken: 'xoxb-wrong', appToken: fake.appToken, apiUrl: fake.apiUrl, apiRetries: 0 }, log);
    const error = await rejection(refused.start(new RecordingHandlers()));
    expect([error.code, error.message]).toEqual(['service_unavailable', 'Slack refused the bot token; check SLACK_BOT_TOKEN.']);
    const noSocket = new SlackTransport({ botToken: fake.botToken, appToken: 'xapp-1-wrong', apiUrl: fake.apiUrl, apiRetries: 0 }, log);
    const socketError = await rejection(noSocket.start(new RecordingHandlers()));
    expect(socketError.message).toBe('Slack refused the Socket Mode connection; check SLACK_APP_TOKEN (an xapp- token with connections:write).');
    transport = new SlackTransport({ botToken: fake.botToken, appToken: fake.appToken, apiUrl: fake.apiUrl, apiRetries: 0 }, log);
    await transport.start(new RecordingHandlers());
    const outside = await rejection(transport.editStatus({ platform: 'slack', channel: fake.channels.outside, message: '1.000001', thread: '1.000001' }, queuedStatus()));
    expect(outside.message).toBe('Slack refused to update the status message. Invite the bot to this channel (/invite @bot) and try again.');
    const logged = lines.join('');
    // No redaction list here: the adapter itself must not log a token, right or wrong.
    for (const token of [fake.botToken, fake.appToken, 'xoxb-wrong', 'xapp-1-wrong']) expect(logged).not.toContain(token);
  });

  it('makes one job from one message however it arrives: app_mention + message, and Socket Mode redeliveries', async () => {
    harness = await queueHarness();
    fake = await startFakeSlack();
    transport = new SlackTransport(await transportConfig(fake, 'socket'), silent);
    flow = new ChatFlow({ redis: harness.redis, keys: harness.keys, queue: harness.queue, blobs: harness.blobs, threads: new ThreadHistory(harness.redis, harness.keys), transport, logger: silent, config: NO_PINGS });
    await flow.start();
    const photo = await solidPng(64, 64);
    const { ts, eventIds } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: mention(fake, REQUEST), files: [{ name: 'p.png', data: photo }] });
    for (const eventId of eventIds) fake.redeliver(eventId, 'timeout');
    await fake.waitFor(() => fake!.deliveries.length === 4 && fake!.deliveries.every((d) => d.ackedAt !== undefined), { describe: 'four deliveries, all acknowledged' });
    // The bot's messages in the thread but the line that opens it, which the flow posts after the first status.
    const statuses = () => fake!.messages(fake!.channels.general).filter((m) => m.user === fake!.botUserId && m.thread_ts === ts && !m.text.startsWith('Reply in this thread'));
    await fake.waitFor(() => statuses().length > 0, { describe: 'the status message' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(statuses()).toHaveLength(1);
    expect(flow.followedJobs()).toHaveLength(1);
    const depth = await harness.queue.depth();
    expect(depth.waiting + depth.active + depth.held).toBe(1);
    expect(fake.ephemerals).toEqual([]);
  });

  it('runs an edit end to end with the real flow and a colour-world worker: one status message in the thread, images shown once processed, the result in the thread', { timeout: 120_000 }, async () => {
    harness = await queueHarness();
    // Enough steps that the run outlasts one edit interval, so the masks or a preview are shown before the result.
    await harness.startWorker({ defaultSteps: 600 });
    fake = await startFakeSlack();
    transport = new SlackTransport(await transportConfig(fake, 'socket'), silent);
    flow = new ChatFlow({ redis: harness.redis, keys: harness.keys, queue: harness.queue, blobs: harness.blobs, threads: new ThreadHistory(harness.redis, harness.keys), transport, logger: silent, config: NO_PINGS });
    await flow.start();
    const { ts } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, text: mention(fake, REQUEST), files: [{ name: 'scene.png', data: await encodePng(await sceneImage()) }] });
    const f = fake;
    const statuses = () => f.messages(f.channels.general).filter((m) => m.user === f.botUserId && m.thread_ts === ts && m.subtype === undefined && !m.text.startsWith('Reply in this thread'));
    const buttonsOf = (m: { blocks?: any[] }) => (m.blocks ?? []).flatMap((b) => (b.type === 'actions' ? b.elements.map((e: { action_id: string }) => e.action_id.split(':')[1]) : []));
    const done = await f.waitFor(() => statuses().find((m) => buttonsOf(m).includes('retry')), { describe: 'the final status', timeoutMs: 90_000 });
    const shared = await f.waitFor(() => f.messages(f.channels.general).find((m) => m.subtype === 'file_share' && m.user === f.botUserId), { describe: 'the result in the thread' });
    expect(statuses()).toHaveLength(1);
    expect(done.edits).toBeGreaterThanOrEqual(2);
    expect(shared.thread_ts).toBe(ts);
    expect((await sharp(f.fileBytes(shared.files![0])).metadata()).format).toBe('png');
    // Masks or previews were shown as image blocks of processed files, inside the status message.
    const shownIds = calls(f, 'chat.update').flatMap((r) => (r.params.blocks as any[]).filter((b) => b.type === 'image').map((b) => b.slack_file.id as string));
    expect(shownIds.length).toBeGreaterThan(0);
    for (const fileId of shownIds) expect(f.file(fileId)?.state).toBe('processed');
    const updates = calls(f, 'chat.update').map((r) => r.at);
    for (let i = 1; i < updates.length; i++) expect(updates[i] - updates[i - 1], f.describe()).toBeGreaterThanOrEqual(1_000);
    expect(rules(f), f.describe()).toEqual([]);
  });

  it('makes one job from an HTTP-mode event that Slack retried with X-Slack-Retry-Num', async () => {
    harness = await queueHarness();
    fake = await startFakeSlack({ delivery: 'http' });
    transport = new SlackTransport(await transportConfig(fake, 'http'), silent);
    flow = new ChatFlow({ redis: harness.redis, keys: harness.keys, queue: harness.queue, blobs: harness.blobs, threads: new ThreadHistory(harness.redis, harness.keys), transport, logger: silent, config: NO_PINGS });
    await flow.start();
    const { ts, eventIds } = fake.postMessage({ user: fake.users.alice, channel: fake.channels.dm, text: REQUEST, files: [{ name: 'p.png', data: await solidPng(64, 64) }] });
    fake.redeliver(eventIds[0]);
    fake.redeliver(eventIds[0]);
    await fake.waitFor(() => fake!.deliveries.length === 3 && fake!.deliveries.every((d) => d.status === 200), { describe: 'three deliveries, all answered 200' });
    expect(fake.deliveries.map((d) => d.retry)).toEqual([0, 1, 2]);
    await fake.waitFor(() => fake!.messages(fake!.channels.dm).some((m) => m.user === fake!.botUserId), { describe: 'the status message' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(fake.messages(fake.channels.dm).filter((m) => m.user === fake!.botUserId && m.thread_ts === ts && !m.text.startsWith('Reply in this thread'))).toHaveLength(1);
    const depth = await harness.queue.depth();
    expect(depth.waiting + depth.active + depth.held).toBe(1);
  });
});

describe('Slack settings, payloads and manifest', () => {
  it('reads SLACK_* variables: Socket Mode with an app token, HTTP mode with a signing secret, and names what is missing', () => {
    const socket = readSection(slackSection, { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SLACK_CHANNELS: 'C1, C2', SLACK_EDIT_INTERVAL_MS: '2000' });
    expect(socket).toMatchObject({ mode: 'socket', apiUrl: 'https://slack.com/api/', allowedChannels: ['C1', 'C2'], allowedUsers: [], editIntervalMs: 2000, port: 3000 });
    const http = readSection(slackSection, { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', SLACK_PORT: '8080', SLACK_API_URL: 'http://proxy:9/api/' });
    expect(http).toMatchObject({ mode: 'http', port: 8080, apiUrl: 'http://proxy:9/api/', editIntervalMs: 1500 });
    expect(readSection(slackSection, { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SLACK_SIGNING_SECRET: 's', SLACK_MODE: 'http' }).mode).toBe('http');
    expect(() => readSection(slackSection, {})).toThrow('Slack settings: SLACK_BOT_TOKEN is required (a bot token, xoxb-…)');
    expect(() => readSection(slackSection, { SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow('SLACK_SIGNING_SECRET is required in HTTP mode');
    expect(() => readSection(slackSection, { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_MODE: 'socket', SLACK_SIGNING_SECRET: 's' })).toThrow('SLACK_APP_TOKEN is required for Socket Mode');
    expect(() => readSection(slackSection, { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SLACK_EDIT_INTERVAL_MS: '100' })).toThrow(/^Slack settings: SLACK_EDIT_INTERVAL_MS /);
    expect(() => readSection(slackSection, { SLACK_BOT_TOKEN: 'xoxb-secret-value', SLACK_APP_TOKEN: 'nope' })).toThrow(/^Slack settings: SLACK_APP_TOKEN must be an app-level token \(xapp-…\)$/);
  });

  it('escapes what people wrote so it cannot mention, link or format, and keeps long text within Block Kit limits', () => {
    expect(slackFormat.escape('<!here> <@U1> *bold* & <http://x|y>')).toBe('&lt;!here&gt; &lt;@U1&gt; *\u200bbold*\u200b &amp; &lt;http://x|y&gt;');
    expect(slackFormat.relativeTime(Date.UTC(2030, 0, 1))).toBe('<!date^1893456000^at {time}|at 2030-01-01 00:00:00 UTC>');
    const long = `${slackFormat.bold('Plan')}\n${'x'.repeat(2_990)}\n${'y'.repeat(3_500)}`;
    const body = slackMessage({ text: long, images: [], buttons: [], final: false }, []);
    const texts = body.blocks.map((b) => (b as { text: { text: string } }).text.text);
    expect(texts[0]).toBe(`*Plan*\n${'x'.repeat(2_990)}`);
    expect([texts[1].length, texts[1].endsWith('y…')]).toEqual([2_999, true]);
    expect(body.text.length).toBeLessThanOrEqual(3_000);
    const many = slackMessage({ text: Array.from({ length: 60 }, () => 'z'.repeat(2_000)).join('\n'), images: [], buttons: [{ action: 'cancel', jobId: 'j', label: 'Cancel', style: 'secondary' }], final: false }, [{ fileId: 'F0000000001', alt: 'masks' }]);
    expect(many.blocks).toHaveLength(50);
    expect(many.blocks.at(-1)).toEqual({ type: 'actions', elements: [{ type: 'button', action_id: 'gas:cancel:j', value: 'gas:cancel:j', text: { type: 'plain_text', text: 'Cancel' } }] });
    expect(many.blocks.at(-2)).toEqual({ type: 'image', slack_file: { id: 'F0000000001' }, alt_text: 'masks' });
  });

  it('writes a manifest with exactly the scopes and events the bot uses, Socket Mode on by default', () => {
    const manifest = slackManifest();
    const listed = (section: string) => {
      const lines = manifest.split('\n');
      const start = lines.findIndex((l) => l.trim() === `${section}:`);
      const items: string[] = [];
      for (const line of lines.slice(start + 1)) {
        const m = /^\s+- (.+)$/.exec(line);
        if (!m) break;
        items.push(m[1]);
      }
      return items;
    };
    // Issue 16: `commands`, for the "Edit image" message shortcut, and nothing else.
    expect(listed('bot')).toEqual(['app_mentions:read', 'chat:write', 'commands', 'files:read', 'files:write', 'channels:history', 'groups:history', 'im:history', 'mpim:history']);
    expect(listed('bot_events')).toEqual(['app_mention', 'message.channels', 'message.groups', 'message.im', 'message.mpim']);
    expect([...BOT_SCOPES, ...BOT_EVENTS]).toHaveLength(14);
    expect(manifest).toContain('  shortcuts:\n    - name: "Edit image"\n      type: message\n      callback_id: gas_edit_image\n');
    expect(manifest).toContain('  socket_mode_enabled: true\n');
    expect(manifest).toContain('  interactivity:\n    is_enabled: true\n');
    expect(manifest).toContain('connections:write');
    const http = slackManifest({ requestUrl: 'https://bot.example/slack/events' });
    expect(http).toContain('  socket_mode_enabled: false\n');
    expect(http.match(/request_url: "https:\/\/bot\.example\/slack\/events"/g)).toHaveLength(2);
  });
});

// Keep the status ref type honest: a Slack ref is a StatusRef the flow can store as JSON.
const _ref: StatusRef = { platform: 'slack', channel: 'C', message: '1.1', thread: '1.1' } satisfies SlackStatusRef;
void _ref;
