/**
 * The fake Slack itself, driven by the real Web API client and a plain WebSocket: each rule it
 * enforces is answered as Slack answers it, so the adapter tests that pass against it mean something.
 */
import { createServer, type Server } from 'node:http';
import { verifySlackRequest, webApi } from '@slack/bolt';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from './fakes/slack/index.js';

let fake: FakeSlack | undefined;
let sockets: WebSocket[] = [];
let receiver: Server | undefined;

afterEach(async () => {
  for (const socket of sockets) socket.terminate();
  sockets = [];
  if (receiver) await new Promise<void>((resolve) => receiver!.close(() => resolve()));
  receiver = undefined;
  await fake?.close();
  fake = undefined;
});

async function start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  fake = await startFakeSlack(options);
  return fake;
}

const botClient = (f: FakeSlack, extra: webApi.WebClientOptions = {}) => new webApi.WebClient(f.botToken, { slackApiUrl: f.apiUrl, retryConfig: { retries: 0 }, ...extra });

/** The Web API error code of a rejected call. */
async function slackError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error;
    if (code) return code;
    throw error;
  }
  throw new Error('expected the call to fail');
}

const png = (size = 8) => sharp({ create: { width: size, height: size, channels: 3, background: { r: 9, g: 99, b: 199 } } }).png().toBuffer();

/** A Socket Mode connection by hand: what arrives, and whether to acknowledge it. */
async function openSocket(f: FakeSlack, ack = true): Promise<{ received: any[]; socket: WebSocket }> {
  const opened = await new webApi.WebClient(f.appToken, { slackApiUrl: f.apiUrl, retryConfig: { retries: 0 } }).apps.connections.open({});
  const socket = new WebSocket(opened.url!);
  sockets.push(socket);
  const received: any[] = [];
  socket.on('message', (raw) => {
    const message = JSON.parse(raw.toString());
    received.push(message);
    if (ack && message.envelope_id) socket.send(JSON.stringify({ envelope_id: message.envelope_id, payload: {} }));
  });
  await f.waitFor(() => received.some((m) => m.type === 'hello'), { describe: 'hello' });
  return { received, socket };
}

/** Uploads bytes by the external flow, as the adapter does; returns the file id. */
async function uploadExternal(f: FakeSlack, client: webApi.WebClient, data: Buffer, complete: Record<string, unknown> = {}): Promise<string> {
  const { upload_url: url, file_id: fileId } = await client.files.getUploadURLExternal({ filename: 'masks.png', length: data.length });
  const response = await fetch(url!, { method: 'POST', body: new Uint8Array(data) });
  expect(response.status).toBe(200);
  await client.files.completeUploadExternal({ files: [{ id: fileId!, title: 'masks.png' }], ...complete });
  return fileId!;
}

describe('the fake Slack', { timeout: 30_000 }, () => {
  it('answers tokens as Slack does: not_authed without one, invalid_auth for a wrong one, the app token only for apps.connections.open', async () => {
    const f = await start();
    expect((await botClient(f).auth.test()).user_id).toBe(f.botUserId);
    expect(await slackError(new webApi.WebClient(undefined, { slackApiUrl: f.apiUrl, retryConfig: { retries: 0 } }).auth.test())).toBe('not_authed');
    expect(await slackError(new webApi.WebClient('xoxb-wrong', { slackApiUrl: f.apiUrl, retryConfig: { retries: 0 } }).auth.test())).toBe('invalid_auth');
    expect(await slackError(botClient(f).apps.connections.open({}))).toBe('invalid_auth');
    expect(f.violations.map((v) => v.rule)).toEqual(['invalid-auth', 'invalid-auth']);
  });

  it('refuses writing where the bot is not a member with not_in_channel, and an unknown channel with channel_not_found', async () => {
    const f = await start();
    expect(await slackError(botClient(f).chat.postMessage({ channel: f.channels.outside, text: 'hi' }))).toBe('not_in_channel');
    expect(await slackError(botClient(f).chat.postMessage({ channel: 'C0NOPE0001', text: 'hi' }))).toBe('channel_not_found');
    expect(f.violations.map((v) => v.rule)).toEqual(['not-in-channel']);
  });

  it('refuses more than 50 blocks, a section over 3000 characters and an image of an unprocessed file with invalid_blocks, and shows the file once processed', async () => {
    const f = await start({ fileProcessingMs: 500 });
    const client = botClient(f);
    const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
    const tooMany = Array.from({ length: 51 }, () => section('x'));
    expect(await slackError(client.chat.postMessage({ channel: f.channels.general, text: 't', blocks: tooMany }))).toBe('invalid_blocks');
    expect(await slackError(client.chat.postMessage({ channel: f.channels.general, text: 't', blocks: [section('y'.repeat(3001))] }))).toBe('invalid_blocks');
    expect((await client.chat.postMessage({ channel: f.channels.general, text: 't', blocks: [section('y'.repeat(3000))] })).ok).toBe(true);

    const fileId = await uploadExternal(f, client, await png());
    const imageBlock = { type: 'image', slack_file: { id: fileId }, alt_text: 'masks' };
    const unprocessed = await client.files.info({ file: fileId });
    expect(unprocessed.file?.mimetype).toBe('');
    let refusal: unknown;
    await client.chat.postMessage({ channel: f.channels.general, text: 't', blocks: [imageBlock] }).catch((error: unknown) => (refusal = error));
    expect((refusal as { data: { error: string; errors: string[] } }).data).toMatchObject({ error: 'invalid_blocks', errors: ['invalid slack file [json-pointer:/blocks/0/slack_file]'] });
    await f.waitFor(() => f.file(fileId)?.state === 'processed', { describe: 'processing' });
    expect((await client.files.info({ file: fileId })).file?.mimetype).toBe('image/png');
    expect((await client.chat.postMessage({ channel: f.channels.general, text: 't', blocks: [imageBlock] })).ok).toBe(true);
    expect(f.violations.map((v) => v.rule)).toEqual(['invalid-blocks', 'invalid-blocks', 'invalid-blocks']);
  });

  it('refuses an upload whose length differs from the one announced, and completing an upload that never arrived', async () => {
    const f = await start();
    const client = botClient(f);
    const { upload_url: url, file_id: fileId } = await client.files.getUploadURLExternal({ filename: 'a.png', length: 10 });
    expect((await fetch(url!, { method: 'POST', body: new Uint8Array(5) })).status).toBe(400);
    expect(await slackError(client.files.completeUploadExternal({ files: [{ id: fileId! }] }))).toBe('file_upload_incomplete');
    expect(f.violations.map((v) => v.rule)).toEqual(['upload-length', 'upload-incomplete']);
  });

  it('rate-limits chat.update of one message (here one per 2 s): 429 ratelimited with Retry-After', async () => {
    const f = await start({ updateRateLimit: { limit: 1, windowMs: 2_000 }, retryAfterSeconds: 2 });
    const client = botClient(f, { rejectRateLimitedCalls: true });
    const { ts } = await client.chat.postMessage({ channel: f.channels.general, text: 'v1' });
    await client.chat.update({ channel: f.channels.general, ts: ts!, text: 'v2' });
    let limited: unknown;
    await client.chat.update({ channel: f.channels.general, ts: ts!, text: 'v3' }).catch((error: unknown) => (limited = error));
    expect(limited).toMatchObject({ code: 'slack_webapi_rate_limited_error', retryAfter: 2 });
    expect(f.message(f.channels.general, ts!)).toMatchObject({ text: 'v2', edits: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2_050));
    await client.chat.update({ channel: f.channels.general, ts: ts!, text: 'v4' });
    expect(f.message(f.channels.general, ts!)?.text).toBe('v4');
    expect(f.violations.map((v) => v.rule)).toEqual(['rate-limited']);
  });

  it('shares files.uploadV2 into a thread once processed, and echoes it to the bot as its own file_share message event', async () => {
    const f = await start({ fileProcessingMs: 200 });
    const { received } = await openSocket(f);
    const client = botClient(f);
    const { ts } = await client.chat.postMessage({ channel: f.channels.general, text: 'status' });
    const data = await png(16);
    await client.filesUploadV2({ channel_id: f.channels.general, thread_ts: ts!, file: data, filename: 'result.png', title: 'result.png' });
    const shared = await f.waitFor(() => f.messages(f.channels.general).find((m) => m.subtype === 'file_share'), { describe: 'the shared file' });
    expect(shared).toMatchObject({ thread_ts: ts, user: f.botUserId, bot_id: f.botId });
    expect(f.fileBytes(shared.files![0])!.equals(data)).toBe(true);
    const echo = await f.waitFor(() => received.find((m) => m.type === 'events_api'), { describe: 'the echo event' });
    expect(echo.payload.event).toMatchObject({ type: 'message', subtype: 'file_share', user: f.botUserId, bot_id: f.botId, thread_ts: ts, channel: f.channels.general });
    expect(echo.payload.event.files[0]).toMatchObject({ id: shared.files![0], mimetype: 'image/png' });
  });

  it('serves a private file only with the bot token; without it, Slack’s HTML sign-in page with status 200', async () => {
    const f = await start();
    const data = await png();
    const { ts } = f.postMessage({ user: f.users.alice, channel: f.channels.dm, text: '', files: [{ name: 'p.png', data }] });
    const file = f.file(f.message(f.channels.dm, ts)!.files![0])!;
    const anonymous = await fetch(file.url_private_download);
    expect([anonymous.status, anonymous.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await anonymous.text()).toMatch(/^<!DOCTYPE html>/);
    const authorised = await fetch(file.url_private_download, { headers: { authorization: `Bearer ${f.botToken}` } });
    expect(Buffer.from(await authorised.arrayBuffer()).equals(data)).toBe(true);
  });

  it('Socket Mode: says hello first, then sends message and app_mention with different event ids for one mention', async () => {
    const f = await start();
    const { received } = await openSocket(f);
    expect(received[0]).toMatchObject({ type: 'hello', num_connections: 1 });
    const { eventIds } = f.postMessage({ user: f.users.alice, channel: f.channels.general, text: `<@${f.botUserId}> hi`, files: [{ name: 'p.png', data: await png() }] });
    const envelopes = await f.waitFor(() => received.filter((m) => m.type === 'events_api').length === 2 && received.filter((m) => m.type === 'events_api'), { describe: 'two envelopes' });
    expect(envelopes.map((e) => [e.payload.event.type, e.payload.event.subtype, e.payload.event_id])).toEqual([
      ['message', 'file_share', eventIds[0]],
      ['app_mention', undefined, eventIds[1]],
    ]);
    expect(eventIds[0]).not.toBe(eventIds[1]);
    await f.waitFor(() => f.deliveries.every((d) => d.ackedAt !== undefined), { describe: 'acks' });
    expect(f.violations).toEqual([]);
  });

  it('Socket Mode: an envelope not acknowledged within the deadline is a violation and comes again with the same event_id', async () => {
    const f = await start({ ackDeadlineMs: 300, maxRetries: 1 });
    const { received } = await openSocket(f, false);
    const { eventIds } = f.postMessage({ user: f.users.alice, channel: f.channels.dm, text: 'hi' });
    const envelopes = await f.waitFor(() => received.filter((m) => m.type === 'events_api').length === 2 && received.filter((m) => m.type === 'events_api'), { describe: 'the redelivery' });
    expect(envelopes.map((e) => [e.payload.event_id, e.retry_attempt, e.retry_reason])).toEqual([
      [eventIds[0], 0, ''],
      [eventIds[0], 1, 'timeout'],
    ]);
    expect(envelopes[0].envelope_id).not.toBe(envelopes[1].envelope_id);
    await f.waitFor(() => f.violations.length === 2, { describe: 'both deadlines passed' });
    expect(f.violations.map((v) => v.rule)).toEqual(['ack-deadline', 'ack-deadline']);
  });

  it('Socket Mode: a refresh sends disconnect; what happens meanwhile arrives on the next connection', async () => {
    const f = await start();
    const first = await openSocket(f);
    f.refreshSockets();
    await f.waitFor(() => first.received.some((m) => m.type === 'disconnect'), { describe: 'disconnect' });
    expect(first.received.at(-1)).toMatchObject({ type: 'disconnect', reason: 'refresh_requested' });
    const { eventIds } = f.postMessage({ user: f.users.alice, channel: f.channels.dm, text: 'during the refresh' });
    first.socket.close();
    const second = await openSocket(f);
    const envelope = await f.waitFor(() => second.received.find((m) => m.type === 'events_api'), { describe: 'the event on the new connection' });
    expect(envelope.payload.event_id).toBe(eventIds[0]);
    expect(first.received.some((m) => m.type === 'events_api')).toBe(false);
    expect(f.connectionCount()).toBe(2);
  });

  it('Socket Mode: an envelope unacknowledged when its connection drops is sent again on the next one', async () => {
    const f = await start();
    const first = await openSocket(f, false);
    const { eventIds } = f.postMessage({ user: f.users.alice, channel: f.channels.dm, text: 'hi' });
    const lost = await f.waitFor(() => first.received.find((m) => m.type === 'events_api'), { describe: 'the first sending' });
    f.dropSockets();
    const second = await openSocket(f);
    const again = await f.waitFor(() => second.received.find((m) => m.type === 'events_api'), { describe: 'the sending on the new connection' });
    expect([again.envelope_id, again.payload.event_id]).toEqual([lost.envelope_id, eventIds[0]]);
    await f.waitFor(() => f.deliveries[0].ackedAt !== undefined, { describe: 'the acknowledgement' });
    expect(f.violations).toEqual([]);
  });

  it('HTTP mode: signs each delivery as Slack does (Bolt verifies it) and retries a late acknowledgement with X-Slack-Retry-Num', async () => {
    const f = await start({ delivery: 'http', ackDeadlineMs: 1_000, maxRetries: 1 });
    const seen: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        seen.push({ headers: request.headers, body });
        // The first delivery is answered too late; the retry at once.
        setTimeout(() => response.writeHead(200).end(), seen.length === 1 ? 2_000 : 0);
      });
    });
    await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve));
    f.setEventsUrl(`http://127.0.0.1:${(receiver.address() as { port: number }).port}/slack/events`);
    const { eventIds } = f.postMessage({ user: f.users.alice, channel: f.channels.dm, text: 'hi' });
    await f.waitFor(() => seen.length === 2 && f.deliveries.every((d) => d.status === 200), { describe: 'the delivery and its retry' });
    for (const { headers, body } of seen) {
      expect(() =>
        verifySlackRequest({ signingSecret: f.signingSecret, body, headers: { 'x-slack-signature': String(headers['x-slack-signature']), 'x-slack-request-timestamp': Number(headers['x-slack-request-timestamp']) } }),
      ).not.toThrow();
      expect(JSON.parse(body).event_id).toBe(eventIds[0]);
    }
    expect(seen[0].headers['x-slack-retry-num']).toBeUndefined();
    expect([seen[1].headers['x-slack-retry-num'], seen[1].headers['x-slack-retry-reason']]).toEqual(['1', 'timeout']);
    expect(() => verifySlackRequest({ signingSecret: 'not-the-secret', body: seen[0].body, headers: { 'x-slack-signature': String(seen[0].headers['x-slack-signature']), 'x-slack-request-timestamp': Number(seen[0].headers['x-slack-request-timestamp']) } })).toThrow();
    expect(f.violations.map((v) => v.rule)).toEqual(['ack-deadline']);
  });
});

describe('the fake Slack, rules of issues 14 and 16', { timeout: 30_000 }, () => {
  it('opens a modal with a trigger_id once, within 3 s: exchanged_trigger_id, expired_trigger_id, invalid_trigger_id', async () => {
    const f = await start();
    const { received } = await openSocket(f);
    const { ts } = f.postMessage({ user: f.users.alice, channel: f.channels.general, text: 'hi' });
    void f.messageShortcut({ user: f.users.alice, channel: f.channels.general, ts, callbackId: 'gas_edit_image' });
    const shortcut = await f.waitFor(() => received.find((m) => m.type === 'interactive' && m.payload.type === 'message_action'), { describe: 'the shortcut' });
    const view = { type: 'modal', callback_id: 'v', title: { type: 'plain_text', text: 'Edit image' }, submit: { type: 'plain_text', text: 'Edit' }, blocks: [{ type: 'input', block_id: 'b', label: { type: 'plain_text', text: 'What?' }, element: { type: 'plain_text_input', action_id: 'a' } }] };
    const client = botClient(f);
    expect((await client.views.open({ trigger_id: shortcut.payload.trigger_id, view: view as never })).ok).toBe(true);
    expect(await slackError(client.views.open({ trigger_id: shortcut.payload.trigger_id, view: view as never }))).toBe('exchanged_trigger_id');
    expect(await slackError(client.views.open({ trigger_id: '1.2.nope', view: view as never }))).toBe('invalid_trigger_id');
    void f.messageShortcut({ user: f.users.alice, channel: f.channels.general, ts, callbackId: 'gas_edit_image' });
    const late = await f.waitFor(() => received.filter((m) => m.type === 'interactive' && m.payload.type === 'message_action')[1], { describe: 'a second shortcut' });
    await new Promise((r) => setTimeout(r, 3_100));
    expect(await slackError(client.views.open({ trigger_id: late.payload.trigger_id, view: view as never }))).toBe('expired_trigger_id');
    expect(f.violations.map((v) => v.rule)).toEqual(['trigger-reused', 'trigger-expired']);
  });

  it('refuses a static select without options and takes one with options', async () => {
    const f = await start();
    const client = botClient(f);
    const select = (options: unknown[]) => [{ type: 'actions', elements: [{ type: 'static_select', action_id: 'gas:adjust:j', placeholder: { type: 'plain_text', text: 'Adjust' }, options }] }];
    expect(await slackError(client.chat.postMessage({ channel: f.channels.general, text: 't', blocks: select([]) as never }))).toBe('invalid_blocks');
    expect((await client.chat.postMessage({ channel: f.channels.general, text: 't', blocks: select([{ text: { type: 'plain_text', text: '1 · the dog' }, value: '0' }]) as never })).ok).toBe(true);
  });

  it('records whom a posted message notifies: mentions and @here, not escaped text, not an update or an ephemeral message', async () => {
    const f = await start();
    const client = botClient(f);
    const { alice, bob } = f.users;
    const posted = await client.chat.postMessage({ channel: f.channels.general, text: `<@${alice}> and <!here>, not &lt;@${bob}&gt;` });
    await client.chat.update({ channel: f.channels.general, ts: posted.ts!, text: `<@${bob}>` });
    await client.chat.postEphemeral({ channel: f.channels.general, user: bob, text: `<@${bob}>` });
    expect(f.notifications).toEqual([{ channel: f.channels.general, ts: posted.ts, users: [alice], broadcast: 'here', groups: [] }]);
  });

  it("shows a Slack Connect channel's files by id only in events, and whole through files.info", async () => {
    const f = await start();
    const { received } = await openSocket(f);
    f.postMessage({ user: f.users.alice, channel: f.channels.shared, text: 'a photo', files: [{ name: 'p.png', data: await png() }] });
    const event = await f.waitFor(() => received.find((m) => m.type === 'events_api'), { describe: 'the message event' });
    const [file] = event.payload.event.files;
    expect(file).toEqual({ id: file.id, mode: 'file_access', file_access: 'check_file_info', created: 0, timestamp: 0, user: '' });
    const info = await botClient(f).files.info({ file: file.id });
    expect(info.file).toMatchObject({ id: file.id, name: 'p.png', mimetype: 'image/png' });
    expect(info.file?.url_private_download).toMatch(/\/files-pri\//);
  });
});
