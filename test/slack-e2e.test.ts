/**
 * The Slack bot end to end (issue 9): the real Bolt through SlackTransport and the real ChatFlow
 * against the fake Slack, with a colour-world worker. Everything is asserted on what the fake
 * recorded: the bodies of chat.postMessage and chat.update, their blocks, ephemeral messages, and
 * the bytes of the files the bot uploaded, decoded with sharp.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodePng } from '../src/image/decode.js';
import type { WireMessage } from './fakes/slack/index.js';
import { PALETTE, fractionOfWay, maxDifference, meanColour, pngToRgb, sceneImage } from './helpers/colour-world.js';
import { REQUEST } from './helpers/queue.js';
import { botButtons, jobIdOf, shownFileIds, startSlackBot, textLines, type SlackBot, type SlackBotOptions } from './helpers/slack-bot.js';
import { hugePngHeader } from './helpers/refused-images.js';

/** Fastest cadence the transport accepts (SLACK_EDIT_INTERVAL_MS ≥ 1000), so a test sees several updates quickly. */
const EDIT_INTERVAL_MS = 1_000;
const isDone = (m: WireMessage) => /^Done in /.test(textLines(m)[1] ?? '');
const isEditing = (m: WireMessage) => (textLines(m)[1] ?? '').startsWith('Editing · ');
const scenePng = async () => encodePng(await sceneImage());
const sceneFile = async () => ({ name: 'scene.png', data: await scenePng() });

let bot: SlackBot | undefined;
afterEach(async () => {
  await bot?.close();
  bot = undefined;
});

async function start(options: SlackBotOptions): Promise<SlackBot> {
  bot = await startSlackBot({ ...options, transport: { editIntervalMs: EDIT_INTERVAL_MS, ...options.transport } });
  return bot;
}

/** The edited image a status message's job shared into the thread (the `index`-th file share), decoded. */
async function sharedResult(b: SlackBot, thread: string, index: number) {
  const share = await b.fake.waitFor(() => b.sharedFiles(thread)[index], { describe: `result ${index} shared into the thread`, timeoutMs: 20_000 });
  const file = b.fake.file(share.files![0])!;
  return { file, image: await pngToRgb(b.fake.fileBytes(file.id)!) };
}

const seedOf = (m: WireMessage) => Number(/ · seed (\d+)$/.exec(textLines(m)[1] ?? '')?.[1]);

// Every wait has its own generous deadline and prints what the fake recorded: this runs on a busy 2-core machine.
describe('the Slack bot end to end', { timeout: 150_000 }, () => {
  it('answers a mention in its thread within 3 s, shows the masks and a preview once processed, never updates faster than the cadence, and uploads the edit into the thread', async () => {
    // Enough steps (about 3.5 s here, idle) that the edit runs across at least one update slot of the status message.
    const b = await start({ worker: { defaultSteps: 300 } });
    const sentAt = Date.now();
    const { ts } = b.mention(REQUEST, [await sceneFile()]);
    const final = await b.untilStatus(ts, 0, isDone, 'the finished edit');

    const writes = b.writesOf(ts, 0);
    const report = b.report();
    expect(writes[0]?.method, report).toBe('chat.postMessage');
    expect(writes[0].at - sentAt, report).toBeLessThan(3_000);
    expect(b.statuses(ts), report).toHaveLength(1);
    // The one line that opens the conversation, after the status.
    expect(b.fake.messages(b.fake.channels.general).filter((m) => m.thread_ts === ts && m.user === b.fake.botUserId && /^Reply in this thread\b/.test(m.text)), report).toHaveLength(1);
    for (const d of b.fake.deliveries) expect(d.ackedAt! - d.sentAt, report).toBeLessThan(3_000);
    // The cadence holds from the post on, at the configured interval.
    for (let i = 1; i < writes.length; i++) expect(writes[i].at - writes[i - 1].at, report).toBeGreaterThanOrEqual(EDIT_INTERVAL_MS);

    // While it ran, the status showed the masks and a preview as slack_file image blocks of processed uploads.
    const shown = writes.flatMap(shownFileIds).map((id) => b.fake.file(id)!);
    expect(new Set(shown.map((f) => f.name)), report).toEqual(new Set(['masks.png', 'preview.png']));
    for (const file of shown) expect(file.state).toBe('processed');
    const running = writes.find((w) => shownFileIds(w).length === 2)!;
    expect(running.params.blocks.map((block: { type: string }) => block.type)).toEqual(['section', 'image', 'image', 'actions']);
    expect(running.params.text).toMatch(/^\*Edit 1\*: turn the dog into a tiger and the grass into snow\nEditing · \d+\/300 · done <!date\^\d+\^at \{time\}\|at [^>]+>\n1 · the dog → a tiger\n2 · the grass → the snow(\nCheck the masks: [^\n]+)*$/);
    // The inline uploads were never shared into a channel: only the result is a file in the thread.
    for (const complete of b.fake.requests.filter((r) => r.method === 'files.completeUploadExternal' && shown.some((f) => f.id === r.params.files[0].id))) {
      expect(complete.params.channel_id).toBeUndefined();
    }

    expect(textLines(final).slice(0, 4), report).toEqual([`*Edit 1*: ${REQUEST}`, expect.stringMatching(/^Done in \d+(\.\d)? s · seed \d+$/), '1 · the dog → a tiger', '2 · the grass → the snow']);
    // Issue 14: what is doubtful about the regions is said with them (the grass region covers the dog's).
    for (const line of textLines(final).slice(4)) expect(line, report).toMatch(/^Check the masks: /);
    expect(botButtons(final)).toEqual(['retry', 'undo', 'masks', 'adjust']);
    expect(final.thread_ts).toBe(ts);

    const { file, image } = await sharedResult(b, ts, 0);
    expect([file.name, file.mimetype]).toEqual(['edit.png', 'image/png']);
    expect(b.sharedFiles(ts)[0].thread_ts).toBe(ts);
    const scene = await sceneImage();
    expect(fractionOfWay(meanColour(image, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(image, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifference(scene, image, 'sky')).toBeLessThanOrEqual(2);
    expect(b.fake.violations, report).toEqual([]);
  });

  it('edits the latest result on a thread reply, goes back one edit on Undo so the next reply starts from the one before, and retries with a new seed', async () => {
    const b = await start({ worker: { defaultSteps: 100 } });
    const { fake } = b;
    const { ts } = b.mention('turn the dog into a tiger', [await sceneFile()]);
    await b.untilStatus(ts, 0, isDone, 'the first edit');
    const tiger = await sharedResult(b, ts, 0);

    // A reply in the thread, no mention, no image: the next edit, from the tiger.
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, thread_ts: ts, text: 'now turn the grass into snow' });
    const second = await b.untilStatus(ts, 1, isDone, 'the edit of the reply');
    const both = await sharedResult(b, ts, 1);
    expect(fractionOfWay(meanColour(both.image, 'dog'), PALETTE.brown, PALETTE.orange), b.report()).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(both.image, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);

    // Undo: a new message says so, showing (processed) the image the next reply edits: the tiger on green grass.
    await fake.pressButton({ user: fake.users.alice, channel: fake.channels.general, ts: second.ts, actionId: `gas:undo:${jobIdOf(second)}` });
    const undone = await b.untilStatus(ts, 2, () => true, 'the undo message');
    expect(undone.text).toBe('Went back one edit. A reply in this thread now edits this image.');
    const [current] = (undone.blocks ?? []).filter((block) => block.type === 'image').map((block) => fake.file(block.slack_file.id)!);
    expect(current.state).toBe('processed');
    expect(fake.fileBytes(current.id)!.equals(fake.fileBytes(tiger.file.id)!)).toBe(true);

    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, thread_ts: ts, text: 'make the sky pink' });
    const third = await b.untilStatus(ts, 3, isDone, 'the edit after the undo');
    const pink = await sharedResult(b, ts, 2);
    expect(fractionOfWay(meanColour(pink.image, 'dog'), PALETTE.brown, PALETTE.orange), b.report()).toBeGreaterThanOrEqual(0.8);
    expect(maxDifference(tiger.image, pink.image, 'grass')).toBeLessThanOrEqual(2);
    expect(fractionOfWay(meanColour(pink.image, 'sky'), PALETTE.blue, PALETTE.pink)).toBeGreaterThanOrEqual(0.3);

    // Retry: the same request on the same image (the tiger), with another seed, in a new status message.
    await fake.pressButton({ user: fake.users.alice, channel: fake.channels.general, ts: third.ts, actionId: `gas:retry:${jobIdOf(third)}` });
    const retried = await b.untilStatus(ts, 4, isDone, 'the retry');
    expect(textLines(retried)[0]).toBe('*Edit 4*: make the sky pink');
    expect(jobIdOf(retried)).not.toBe(jobIdOf(third));
    expect(seedOf(retried), b.report()).not.toBe(seedOf(third));
    const again = await sharedResult(b, ts, 3);
    expect(maxDifference(tiger.image, again.image, 'grass')).toBeLessThanOrEqual(2);
    expect(fractionOfWay(meanColour(again.image, 'sky'), PALETTE.blue, PALETTE.pink)).toBeGreaterThanOrEqual(0.3);
    expect(fake.violations, b.report()).toEqual([]);
  });

  it('refuses Cancel from someone else with an ephemeral message and ends the job when its requester presses it', async () => {
    const b = await start({ worker: { defaultSteps: 10_000 } });
    const { fake } = b;
    const { ts } = b.mention(REQUEST, [await sceneFile()]);
    const running = await b.untilStatus(ts, 0, isEditing, 'progress');
    const jobId = jobIdOf(running);

    const refused = await fake.pressButton({ user: fake.users.bob, channel: fake.channels.general, ts: running.ts, actionId: `gas:cancel:${jobId}` });
    expect(refused.ackedAt! - refused.sentAt).toBeLessThan(3_000);
    const [ephemeral] = await fake.waitFor(() => fake.ephemerals.length > 0 && fake.ephemerals, { describe: 'the refusal' });
    expect(ephemeral).toMatchObject({ channel: fake.channels.general, user: fake.users.bob, thread_ts: ts, text: `Only <@${fake.users.alice}> can cancel this edit.` });
    expect(await b.queue.queue.events.ended(jobId)).toBe(false);

    await fake.pressButton({ user: fake.users.alice, channel: fake.channels.general, ts: running.ts, actionId: `gas:cancel:${jobId}` });
    const cancelled = await b.untilStatus(ts, 0, (m) => m.text.includes('Cancelled'), 'the cancellation', 30_000);
    // Issue 14 (defect 10): job ids are no longer in what people read.
    expect(textLines(cancelled)[1]).toBe(`Cancelled by <@${fake.users.alice}>. Press Retry to run it again.`);
    expect(botButtons(cancelled)).toEqual(['retry']);
    expect(await b.queue.queue.events.ended(jobId)).toBe(true);
    expect(await b.queueDepth()).toBe(0);
    expect(b.sharedFiles(ts)).toEqual([]);
    expect(fake.ephemerals).toHaveLength(1);
    expect(fake.violations, b.report()).toEqual([]);
  });

  it('makes exactly one job of one message delivered as app_mention and message(file_share), each redelivered twice over Socket Mode', async () => {
    const b = await start({ worker: { defaultSteps: 60 } });
    const { fake } = b;
    const { ts, eventIds } = b.mention(REQUEST, [await sceneFile()]);
    expect(eventIds).toHaveLength(2);
    // Redeliveries, as Slack sends an envelope again when its acknowledgement came too late.
    for (const eventId of eventIds) for (let i = 0; i < 2; i++) fake.redeliver(eventId, 'timeout');
    const ofMessage = () => fake.deliveries.filter((d) => eventIds.includes(d.eventId!));
    await fake.waitFor(() => ofMessage().length === 6 && ofMessage().every((d) => d.ackedAt !== undefined), { describe: 'six deliveries of the message, all acknowledged' });
    await b.untilStatus(ts, 0, isDone, 'the edit');
    await sharedResult(b, ts, 0);
    await new Promise((r) => setTimeout(r, 1_000)); // room for a stray second job to show itself
    expect(ofMessage().map((d) => `${d.eventType}:${d.retry}`).sort()).toEqual(['app_mention:0', 'app_mention:1', 'app_mention:2', 'message:0', 'message:1', 'message:2']);
    expect(await b.jobCount(), b.report()).toBe(1);
    expect(b.statuses(ts)).toHaveLength(1);
    expect(b.sharedFiles(ts)).toHaveLength(1);
    expect(fake.ephemerals).toEqual([]);
    expect(fake.violations, b.report()).toEqual([]);
  });

  it('makes exactly one job of an HTTP-mode event that Slack retried with X-Slack-Retry-Num 1 and 2', async () => {
    const b = await start({ fake: { delivery: 'http' }, worker: { defaultSteps: 60 } });
    const { fake } = b;
    const { ts, eventIds } = b.mention(REQUEST, [await sceneFile()]);
    const [messageEvent] = eventIds;
    fake.redeliver(messageEvent);
    fake.redeliver(messageEvent);
    const retries = () => fake.deliveries.filter((d) => d.eventId === messageEvent);
    await fake.waitFor(() => retries().length === 3 && retries().every((d) => d.status === 200), { describe: 'three deliveries of the event, all answered 200' });
    expect(retries().map((d) => d.retry).sort()).toEqual([0, 1, 2]);
    await b.untilStatus(ts, 0, isDone, 'the edit');
    await sharedResult(b, ts, 0);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await b.jobCount(), b.report()).toBe(1);
    expect(b.statuses(ts)).toHaveLength(1);
    expect(b.sharedFiles(ts)).toHaveLength(1);
    expect(fake.violations, b.report()).toEqual([]);
  });

  it('finishes and shows a job across a Socket Mode refresh (disconnect, reconnect) in the middle of it', async () => {
    const b = await start({ worker: { defaultSteps: 300 } });
    const { fake } = b;
    const { ts } = b.mention(REQUEST, [await sceneFile()]);
    await b.untilStatus(ts, 0, isEditing, 'progress');
    expect(fake.connectionCount()).toBe(1);
    fake.refreshSockets();
    // The Web API does not need the socket: the edit finishes and is shown while Bolt waits to reconnect (5 s).
    const final = await b.untilStatus(ts, 0, isDone, 'the finished edit after the refresh');
    expect(botButtons(final)).toEqual(['retry', 'undo', 'masks', 'adjust']);
    const { image } = await sharedResult(b, ts, 0);
    expect(fractionOfWay(meanColour(image, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    await fake.waitFor(() => fake.connectionCount() === 2, { describe: 'the new connection', timeoutMs: 30_000 });
    // What Slack held back meanwhile (the echo of the bot's own upload) arrives on it, is acknowledged, and starts nothing.
    await fake.waitFor(() => fake.deliveries.length === 3 && fake.deliveries.every((d) => d.ackedAt !== undefined), { describe: 'the held-back echo, acknowledged' });
    expect(await b.jobCount()).toBe(1);
    // The new connection carries events: a reply in the thread starts the next edit.
    fake.postMessage({ user: fake.users.alice, channel: fake.channels.general, thread_ts: ts, text: 'make the sky pink' });
    await b.untilStatus(ts, 1, isDone, 'the edit of a reply after the refresh');
    expect(fake.deliveries.every((d) => d.ackedAt !== undefined), b.report()).toBe(true);
    expect(fake.violations, b.report()).toEqual([]);
  });

  it('answers bad input with one ephemeral message in the thread, queues nothing, and keeps serving', async () => {
    const b = await start({ worker: { defaultSteps: 40 } });
    const { fake } = b;
    const scene = await sceneFile();
    const cases: Array<{ name: string; text: string; files: Parameters<SlackBot['mention']>[1]; says: string; filesRead?: false; refusal?: 'page' | 'redirect' }> = [
      { name: 'no file', text: REQUEST, files: [], says: 'Attach the image to edit: a request needs a photo to work on.' },
      { name: 'a PDF', text: REQUEST, files: [{ name: 'report.pdf', data: Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n'), mimetype: 'application/pdf' }], says: 'report.pdf is not an image. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF photo.' },
      { name: 'a PNG declaring 20000×20000', text: REQUEST, files: [{ name: 'bomb.png', data: hugePngHeader() }], says: 'The image is too large: the limit is 40 megapixels. Send a smaller image.' },
      { name: 'the sign-in page instead of the file (no files:read)', text: REQUEST, files: [scene], says: 'Slack sent a web page instead of the image: the bot needs the files:read scope (reinstall the app after adding it).', filesRead: false },
      // Issue 16: Slack may also answer with a redirect to its sign-in page; and an SVG is an image of another format, not a missing scope.
      { name: 'a redirect to the sign-in page instead of the file (no files:read)', text: REQUEST, files: [scene], says: 'Slack sent a web page instead of the image: the bot needs the files:read scope (reinstall the app after adding it).', filesRead: false, refusal: 'redirect' },
      { name: 'an SVG', text: REQUEST, files: [{ name: 'logo.svg', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'), mimetype: 'image/svg+xml' }], says: 'logo.svg is an SVG image, which cannot be edited. Send a JPEG, PNG, WebP, GIF, AVIF/HEIF or TIFF photo.' },
      { name: 'an empty request', text: '', files: [scene], says: 'Say what to change, e.g. "turn the dog into a tiger and the grass into snow".' },
      { name: 'a 1,001-character request', text: `turn the dog into a tiger ${'x'.repeat(975)}`, files: [scene], says: 'The request is 1001 characters long; keep it under 1000.' },
    ];
    for (const [i, c] of cases.entries()) {
      fake.setFilesRead(c.filesRead ?? true, c.refusal);
      const { ts } = b.mention(c.text, c.files);
      const answer = await fake.waitFor(() => fake.ephemerals[i], { describe: `the answer to ${c.name}` });
      expect(answer, c.name).toMatchObject({ channel: fake.channels.general, user: fake.users.alice, thread_ts: ts, text: c.says });
    }
    fake.setFilesRead(true);
    // Each message arrived twice (app_mention and message): still one answer each, and nothing else.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(fake.ephemerals, b.report()).toHaveLength(cases.length);
    expect(fake.requests.filter((r) => r.method.startsWith('chat.') && r.method !== 'chat.postEphemeral'), b.report()).toEqual([]);
    expect(await b.queueDepth()).toBe(0);
    expect(await b.jobCount()).toBe(0);

    const { ts } = b.mention(REQUEST, [scene]);
    await b.untilStatus(ts, 0, isDone, 'a good request after the bad ones');
    const { image } = await sharedResult(b, ts, 0);
    expect(fractionOfWay(meanColour(image, 'dog'), PALETTE.brown, PALETTE.orange), b.report()).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(image, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    expect(fake.violations, b.report()).toEqual([]);
  });

  it('in HTTP mode refuses a bad signature and a 6-minute-old timestamp with 401, and queues nothing', async () => {
    const b = await start({ fake: { delivery: 'http' }, worker: false });
    const { fake } = b;
    expect(await fake.sendSignedEvent({ tamper: 'signature' })).toBe(401);
    expect(await fake.sendSignedEvent({ tamper: 'stale' })).toBe(401);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(fake.ephemerals).toEqual([]);
    expect(fake.requests.filter((r) => r.method.startsWith('chat.'))).toEqual([]);
    expect(await b.queueDepth()).toBe(0);
    expect(await b.jobCount()).toBe(0);
    // The same event, signed and fresh, is taken: the bot answers it (it has no photo).
    expect(await fake.sendSignedEvent({})).toBe(200);
    const [answer] = await fake.waitFor(() => fake.ephemerals.length > 0 && fake.ephemerals, { describe: 'the answer to the signed event' });
    expect(answer.text).toBe('Attach the image to edit: a request needs a photo to work on.');
  });
});
