/**
 * The chat flow end to end, once for every platform: a RecordingTransport plays the people, real
 * Redis (a prefix per test) holds the queue and the flow's state, a colour-world worker edits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../src/chat/transport.js';
import { decodeImage, encodePng } from '../src/image/decode.js';
import type { EditJob, JobEvent } from '../src/jobs/contracts.js';
import { chatHarness, type ChatHarness } from './helpers/chat-flow.js';
import { imageFile, RecordingTransport } from './helpers/chat-transport.js';
import { PALETTE, fractionOfWay, maxDifference, meanColour, sceneImage } from './helpers/colour-world.js';
import { REQUEST, eventually } from './helpers/queue.js';
import { hugePngHeader } from './helpers/refused-images.js';

const lines = (m: ChatMessage | undefined) => m?.text.split('\n') ?? [];
const isFinal = (m: ChatMessage) => m.final;
const actions = (m: ChatMessage | undefined) => m?.buttons.map((b) => b.action) ?? [];
const scenePng = async () => encodePng(await sceneImage());

/** The result image of a final status message, decoded. */
async function resultOf(message: ChatMessage) {
  const result = message.images.find((i) => i.placement === 'result');
  expect(result, message.text).toBeDefined();
  return decodeImage(result!.data);
}

// Several edits per test on a shared 2-core machine: each wait has its own deadline and transcript.
describe('the chat flow', { timeout: 180_000 }, () => {
  let chat: ChatHarness | undefined;
  afterEach(async () => {
    await chat?.close();
    chat = undefined;
  });

  it('keeps a new status its own while the line that opens its thread is posted: no process adopts it, so its first edit keeps the cadence', async () => {
    // The lease tick (every 2 s) comes round while the thread's first line takes 2.5 s to post.
    chat = await chatHarness({ transport: { editIntervalMs: 10_000, threadPostLatencyMs: 2_500 } });
    await chat.transport.edit({ user: 'u1', text: REQUEST, image: imageFile(await scenePng()) });
    const { ref } = chat.lastPost();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(chat.transport.inThreads().map((w) => w.content.text)).toEqual([expect.stringMatching(/^Reply in this thread with @bot and what to change next/)]);
    // Nothing changed since the post (no worker), and the interval has not passed: no edit at all.
    expect(chat.transport.writesOf(ref.message).map((w) => w.kind), chat.transport.transcript()).toEqual(['post']);
  });

  it('shows queued, the plan, the masks, a preview and the result in one message, never edited faster than the cadence', async () => {
    chat = await chatHarness({ transport: { editIntervalMs: 100 } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'u1', text: REQUEST, image: imageFile(await scenePng()), options: { steps: 200, seed: 7 } });
    const { ref, jobId } = chat.lastPost();
    const final = await chat.until(ref.message, isFinal, 'the final state');
    const writes = chat.transport.writesOf(ref.message);
    const transcript = chat.transport.transcript();

    expect(writes[0].kind).toBe('post');
    expect(lines(writes[0].content), transcript).toEqual([`**Edit 1**: ${REQUEST}`, expect.stringMatching(/^Queued · next in line · starts <t:\d+:R>$/)]);
    expect(actions(writes[0].content)).toEqual(['cancel']);
    expect(writes.slice(1).every((w) => w.kind === 'edit'), transcript).toBe(true);
    // One message for the whole job, edited in place.
    expect(chat.transport.posts()).toHaveLength(1);

    const firstIndex = (test: (m: ChatMessage) => boolean) => writes.findIndex((w) => test(w.content));
    const planShown = firstIndex((m) => lines(m).includes('1 · the dog → a tiger'));
    const masksShown = firstIndex((m) => m.images.some((i) => i.name === 'masks.png'));
    const previewShown = firstIndex((m) => m.images.some((i) => i.name === 'preview.png') && /^Editing · \d+\/200 · done <t:\d+:R>$/.test(lines(m)[1]));
    expect([planShown, masksShown, previewShown].every((i) => i > 0), transcript).toBe(true);
    expect(planShown <= masksShown && masksShown <= previewShown && previewShown < writes.length - 1, transcript).toBe(true);

    // The grass box of the demo scene holds the dog: said with the result, not a silent Done.
    expect(lines(final), transcript).toEqual([
      `**Edit 1**: ${REQUEST}`,
      expect.stringMatching(/^Done in \d+(\.\d)? s · seed 7$/),
      '1 · the dog → a tiger',
      '2 · the grass → the snow',
      'Check the masks: the region of "grass" covers most of "dog".',
    ]);
    expect(final.buttons.map((b) => `${b.action}:${b.jobId}`)).toEqual([`retry:${jobId}`, `undo:${jobId}`, `masks:${jobId}`]);
    expect(final.images.map((i) => [i.name, i.placement, i.contentType])).toEqual([['edit.png', 'result', 'image/png']]);
    const edit = await resultOf(final);
    const scene = await sceneImage();
    expect(fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(edit, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifference(scene, edit, 'sky')).toBeLessThanOrEqual(2);

    // The cadence holds for every write of the message, the post included; one edit in flight at a time.
    const gaps = writes.slice(1).map((w, i) => w.at - writes[i].at);
    expect(Math.min(...gaps), transcript).toBeGreaterThanOrEqual(99);
    expect(chat.transport.maxConcurrentEdits).toBe(1);
    expect(writes.filter((w) => w.content.final)).toHaveLength(1);

    // Finished: no longer on the list a restarted bot resumes.
    const unfinished = chat.queue.keys.unfinishedJobs('discord');
    await eventually(async () => (await chat!.queue.redis.scard(unfinished)) === 0, 10_000, 'the job to leave the unfinished list');

    // Masks shows the overlay again, in a new message in the thread: for the requester or an admin only.
    await chat.transport.press({ user: 'u2' }, 'masks', jobId, ref);
    expect(chat.transport.privateReplies.map((r) => `${r.user}: ${r.text}`)).toEqual(['u2: Only <@u1> can show the masks of this edit.']);
    expect(chat.transport.posts()).toHaveLength(1);
    await chat.transport.press({ user: 'mod', isAdmin: true }, 'masks', jobId, ref);
    const masks = chat.transport.posts().at(-1)!;
    expect(masks.thread).toBe(ref.thread);
    expect(lines(masks.content)).toEqual(['**Masks** of edit 1', '1 · the dog → a tiger', '2 · the grass → the snow']);
    const done = (await chat.queue.queue.events.history(jobId)).at(-1) as Extract<JobEvent, { type: 'done' }>;
    expect(masks.content.images[0].data.equals(await chat.queue.blobs.get(done.overlay))).toBe(true);
  });

  it("shows a waiting job's place in line and start time, and Cancel there ends it at once", async () => {
    chat = await chatHarness();
    await chat.transport.edit({ user: 'a', text: REQUEST, image: imageFile(await scenePng()) });
    await chat.transport.edit({ user: 'b', text: REQUEST, image: imageFile(await scenePng()) });
    const { ref, jobId } = chat.lastPost();
    const post = chat.transport.writesOf(ref.message)[0].content;
    expect(lines(post)[1]).toMatch(/^Queued · 2nd in line · starts <t:\d+:R>$/);
    expect(actions(post)).toEqual(['cancel']);

    await chat.transport.press({ user: 'b' }, 'cancel', jobId, ref);
    const final = await chat.until(ref.message, isFinal, 'the cancellation', 10_000);
    expect(lines(final)[1]).toBe('Cancelled by <@b>. Press Retry to run it again.');
    expect(actions(final)).toEqual(['retry']);
  });

  it('says a job with two jobs ahead starts after both of them, not when it would finish', async () => {
    chat = await chatHarness();
    for (const user of ['a', 'b']) await chat.transport.edit({ user, text: REQUEST, image: imageFile(await scenePng()) });
    const before = Date.now();
    await chat.transport.edit({ user: 'c', text: REQUEST, image: imageFile(await scenePng()) });
    const after = Date.now();
    const { ref } = chat.lastPost();
    const line = lines(chat.transport.writesOf(ref.message)[0].content)[1];
    const startsAt = Number(/^Queued · 3rd in line · starts <t:(\d+):R>$/.exec(line)?.[1]) * 1000;
    // No edit has finished yet: each counts as the queue's default 30 s, so this one starts after two of them.
    expect(startsAt, line).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 60_000 - 1000);
    expect(startsAt, line).toBeLessThanOrEqual(after + 60_000 + 1000);
  });

  it("lets a platform admin cancel someone else's edit", async () => {
    chat = await chatHarness();
    await chat.transport.edit({ user: 'a', text: REQUEST, image: imageFile(await scenePng()) });
    const { ref, jobId } = chat.lastPost();
    await chat.transport.press({ user: 'mod', isAdmin: true }, 'cancel', jobId, ref);
    const final = await chat.until(ref.message, isFinal, 'the cancellation', 10_000);
    expect(chat.transport.privateReplies, chat.transport.transcript()).toEqual([]);
    expect(lines(final)[1]).toBe('Cancelled by <@mod>. Press Retry to run it again.');
  });

  it('cancels a running job for its requester and refuses anyone else privately', async () => {
    // A long edit, so it is still running when the buttons are pressed: the deployment allows it.
    chat = await chatHarness({ flow: { maxSteps: 10_000 } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'owner', text: REQUEST, image: imageFile(await scenePng()), options: { steps: 10_000 } });
    const { ref, jobId } = chat.lastPost();
    await chat.until(ref.message, (m) => lines(m)[1]?.startsWith('Editing · ') ?? false, 'progress');

    await chat.transport.press({ user: 'intruder' }, 'cancel', jobId, ref);
    expect(chat.transport.privateReplies).toEqual([{ user: 'intruder', text: 'Only <@owner> can cancel this edit.', at: expect.any(Number) }]);
    expect(await chat.queue.queue.events.ended(jobId)).toBe(false);

    await chat.transport.press({ user: 'owner' }, 'cancel', jobId, ref);
    const final = await chat.until(ref.message, isFinal, 'the cancellation', 20_000);
    expect(lines(final)[1]).toBe('Cancelled by <@owner>. Press Retry to run it again.');
    expect(final.images).toEqual([]);
  });

  it('edits the thread\'s last result on a reply, and after Undo a reply starts from the edit before', async () => {
    chat = await chatHarness();
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'u1', text: 'turn the dog into a tiger', image: imageFile(await scenePng()), options: { steps: 150 } });
    const first = chat.lastPost();
    await chat.until(first.ref.message, isFinal, 'the first edit');
    const thread = { platform: 'discord' as const, channel: 'c1', thread: first.ref.thread };

    // A reply without an image: the next edit, from the tiger.
    await chat.transport.reply({ user: 'u1', text: 'now turn the grass into snow', thread: first.ref.thread });
    const second = chat.lastPost();
    expect(second.ref.thread).toBe(first.ref.thread);
    // The conversation keeps the steps its person chose.
    expect(((await chat.queue.queue.getJob(second.jobId))!.data as EditJob).options).toEqual({ steps: 150 });
    const secondFinal = await chat.until(second.ref.message, isFinal, 'the second edit');
    expect(lines(secondFinal)[1], chat.transport.transcript()).toMatch(/^Done in/);
    const both = await resultOf(secondFinal);
    expect(fractionOfWay(meanColour(both, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(both, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);

    // Undo, double-clicked: the thread goes back one edit only, to the tiger on green grass, and says so with that image.
    const postsBefore = chat.transport.posts().length;
    await Promise.all([chat.transport.press({ user: 'u1' }, 'undo', second.jobId, second.ref), chat.transport.press({ user: 'u1' }, 'undo', second.jobId, second.ref)]);
    expect(chat.transport.posts()).toHaveLength(postsBefore + 1);
    const undone = chat.transport.posts().at(-1)!;
    expect(undone.content.text).toBe('Went back one edit. A reply in this thread now edits this image.');
    const tiger = (await chat.threads.chain(thread))[0];
    expect(undone.content.images[0].data.equals(await chat.queue.blobs.get(tiger.result))).toBe(true);

    await chat.transport.reply({ user: 'u1', text: 'make the sky pink', thread: first.ref.thread });
    const third = chat.lastPost();
    const thirdFinal = await chat.until(third.ref.message, isFinal, 'the third edit');
    expect(lines(thirdFinal)[1], chat.transport.transcript()).toMatch(/^Done in/);
    const fromTiger = await resultOf(thirdFinal);
    expect(fractionOfWay(meanColour(fromTiger, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifference(await decodeImage(await chat.queue.blobs.get(tiger.result)), fromTiger, 'grass')).toBeLessThanOrEqual(2);
    expect(fractionOfWay(meanColour(fromTiger, 'sky'), PALETTE.blue, PALETTE.pink)).toBeGreaterThanOrEqual(0.3);
    expect((await chat.threads.chain(thread)).map((e) => e.jobId)).toEqual([first.jobId, third.jobId]);

    // Someone else may add an edit to the thread and take their own latest edit back; a third person may not.
    await chat.transport.reply({ user: 'u2', text: 'turn the grass into sand', thread: first.ref.thread });
    const fourth = chat.lastPost();
    await chat.until(fourth.ref.message, isFinal, 'the edit of another person');
    await chat.transport.press({ user: 'u3' }, 'undo', fourth.jobId, fourth.ref);
    expect(chat.transport.privateReplies.map((r) => `${r.user}: ${r.text}`)).toEqual([
      'u3: Only <@u1> (who started this thread), <@u2> (who made the latest edit) or an admin can undo it.',
    ]);
    expect((await chat.threads.chain(thread)).map((e) => e.jobId)).toEqual([first.jobId, third.jobId, fourth.jobId]);
    await chat.transport.press({ user: 'u2' }, 'undo', fourth.jobId, fourth.ref);
    expect((await chat.threads.chain(thread)).map((e) => e.jobId)).toEqual([first.jobId, third.jobId]);
    expect(chat.transport.posts().at(-1)!.content.text).toBe('Went back one edit. A reply in this thread now edits this image.');
  });

  it('starts over from an image attached to a reply, and fits a result over the upload limit', async () => {
    chat = await chatHarness({ transport: { maxUploadBytes: 2000 } });
    await chat.queue.startWorker();
    const scene = await scenePng();
    await chat.transport.edit({ user: 'u1', text: 'turn the dog into a tiger', image: imageFile(scene), options: { steps: 100 } });
    const first = chat.lastPost();
    const firstFinal = await chat.until(first.ref.message, isFinal, 'the first edit');
    const shown = firstFinal.images.find((i) => i.placement === 'result')!;
    expect([shown.name, shown.contentType], chat.transport.transcript()).toEqual(['edit.jpg', 'image/jpeg']);
    expect(shown.data.length).toBeLessThanOrEqual(2000);
    expect(lines(firstFinal).at(-1)).toMatch(/^The PNG is over the upload limit here, so this is a JPEG( at \d+×\d+)?( of it)?\.$/);

    await chat.transport.reply({ user: 'u1', text: 'turn the grass into snow', thread: first.ref.thread, image: imageFile(scene) });
    const second = chat.lastPost();
    await chat.until(second.ref.message, isFinal, 'the edit of the attached photo');
    const thread = { platform: 'discord' as const, channel: 'c1', thread: first.ref.thread };
    // The thread started over: only the new edit, made from the photo (the dog is brown again).
    expect((await chat.threads.chain(thread)).map((e) => e.jobId)).toEqual([second.jobId]);
    const job = (await chat.queue.queue.getJob(second.jobId))!.data as EditJob;
    expect(job.fromThread).toBeUndefined();
    expect(await chat.queue.blobs.get(job.source)).toEqual(await encodePng(await decodeImage(scene)));
    expect(await chat.threads.origin(thread)).toBe(job.source);
  });

  it('retries with a new seed in the same thread from the image that job edited, for the requester only', async () => {
    chat = await chatHarness();
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'u1', text: 'turn the dog into a tiger', image: imageFile(await scenePng()), options: { steps: 150, seed: 7 } });
    const first = chat.lastPost();
    await chat.until(first.ref.message, isFinal, 'the first edit');

    await chat.transport.press({ user: 'u2' }, 'retry', first.jobId, first.ref);
    expect(chat.transport.privateReplies.map((r) => `${r.user}: ${r.text}`)).toEqual(['u2: Only <@u1> can retry this edit.']);
    expect(chat.transport.posts()).toHaveLength(1);

    await chat.transport.press({ user: 'u1' }, 'retry', first.jobId, first.ref);
    const retry = chat.lastPost();
    expect(retry.jobId).not.toBe(first.jobId);
    expect(retry.ref.thread).toBe(first.ref.thread);
    const final = await chat.until(retry.ref.message, isFinal, 'the retry');
    const seed = /seed (\d+)$/.exec(lines(final)[1])?.[1];
    expect(seed, chat.transport.transcript()).toBeDefined();
    expect(Number(seed)).not.toBe(7);
    expect(lines(final)[0]).toBe('**Edit 2**: turn the dog into a tiger');
    // It replaced the first edit: it edited the photo, not the tiger.
    const thread = { platform: 'discord' as const, channel: 'c1', thread: first.ref.thread };
    expect((await chat.threads.chain(thread)).map((e) => e.jobId)).toEqual([retry.jobId]);
    const edit = await resultOf(final);
    expect(fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange)).toBeLessThanOrEqual(1.2);
  });

  it('answers bad input with a clear private message and queues nothing', async () => {
    chat = await chatHarness({ flow: { maxImageBytes: 1024 * 1024 } });
    const scene = await scenePng();
    const nineEdits = ['dog', 'grass', 'sky', 'cat', 'car', 'tree', 'house', 'boat', 'road'].map((w) => `turn the ${w} into snow`).join(', ');
    const cases: [string, Parameters<RecordingTransport['edit']>[0], string][] = [
      ['no image', { user: 'u1', text: REQUEST }, 'Attach the image to edit: a request needs a photo to work on.'],
      ['a text file', { user: 'u1', text: REQUEST, image: imageFile(Buffer.from('hello'), 'notes.txt', 'text/plain') }, 'notes.txt is not an image. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF photo.'],
      ['a text file that claims nothing', { user: 'u1', text: REQUEST, image: imageFile(Buffer.from('hello'), 'notes', undefined) }, 'The image could not be read. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF file.'],
      ['a 20000×20000 PNG', { user: 'u1', text: REQUEST, image: imageFile(hugePngHeader()) }, 'The image is too large: the limit is 40 megapixels. Send a smaller image.'],
      ['too many bytes', { user: 'u1', text: REQUEST, image: imageFile(Buffer.alloc(2 * 1024 * 1024)) }, 'The image is over the 1 MB limit; send a smaller one.'],
      ['an empty request', { user: 'u1', text: '   ', image: imageFile(scene) }, 'Say what to change, e.g. "turn the dog into a tiger and the grass into snow".'],
      ['a request of emoji only', { user: 'u1', text: '🐶 ➡️ 🐯 !!', image: imageFile(scene) }, 'Say what to change, e.g. "turn the dog into a tiger and the grass into snow".'],
      ['a request of zero-width characters only', { user: 'u1', text: '\u200b\u200c\u200d\ufeff', image: imageFile(scene) }, 'Say what to change, e.g. "turn the dog into a tiger and the grass into snow".'],
      ['a 1,001-character request', { user: 'u1', text: `turn the dog into a tiger ${'x'.repeat(975)}`, image: imageFile(scene) }, 'The request is 1001 characters long; keep it under 1000.'],
      ['too many steps', { user: 'u1', text: REQUEST, image: imageFile(scene), options: { steps: 20_000 } }, 'steps must be a whole number from 1 to 1000 (got 20000).'],
      ['nine edits', { user: 'u1', text: nineEdits, image: imageFile(scene) }, 'The request asks for 9 edits; one edit handles at most 8. Split it into several requests.'],
    ];
    for (const [name, person, expected] of cases) {
      const before = chat.transport.privateReplies.length;
      await chat.transport.edit(person);
      expect(chat.transport.privateReplies.slice(before).map((r) => r.text), name).toEqual([expected]);
    }
    expect(chat.transport.writes).toEqual([]);
    expect(await chat.queue.queue.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, held: 0, checking: 0 });
    expect(await chat.queue.redis.keys(`${chat.queue.keys.prefix}:seq:*`)).toEqual([]);
  });

  it('passes on per-user caps and a full queue as clear messages, with nothing queued for them', async () => {
    chat = await chatHarness({ queue: { perUserLimit: 1, overLimit: 'refuse', maxQueueLength: 2 } });
    const photo = imageFile(await scenePng());
    await chat.transport.edit({ user: 'a', text: REQUEST, image: photo });
    await chat.transport.edit({ user: 'a', text: REQUEST, image: photo });
    await chat.transport.edit({ user: 'b', text: REQUEST, image: photo });
    await chat.transport.edit({ user: 'c', text: REQUEST, image: photo });
    expect(chat.transport.privateReplies.map((r) => `${r.user}: ${r.text}`)).toEqual([
      'a: You already have 1 edits in progress; wait for one to finish, or cancel one.',
      'c: The queue is full (2 edits waiting). Please try again in a few minutes.',
    ]);
    expect(chat.transport.posts()).toHaveLength(2);
    expect((await chat.queue.queue.depth()).waiting).toBe(2);
  });

  it('shows the masks and names a phrase found nowhere, with what was found and what to do, and offers no Retry that would fail again', async () => {
    chat = await chatHarness();
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'u1', text: 'turn the cat into a fox and the dog into a tiger', image: imageFile(await scenePng()), options: { steps: 10 } });
    const { ref } = chat.lastPost();
    const final = await chat.until(ref.message, isFinal, 'the failure');
    expect(lines(final)[1]).toBe('I could not find "cat" in the image. I did find "dog". The masks show what I found; name it as it appears in the photo, or leave it out, and try again.');
    expect(final.images.map((i) => i.name)).toEqual(['masks.png']);
    expect(actions(final)).toEqual(['masks']);
    expect(final.text).not.toContain(chat.lastPost().jobId);
  });

  it('ignores messages outside its edit threads', async () => {
    chat = await chatHarness();
    await chat.transport.reply({ user: 'u1', text: 'turn the dog into a tiger', thread: 'someone-elses-thread' });
    await chat.transport.reply({ user: 'u1', text: 'turn the dog into a tiger' });
    expect(chat.transport.writes).toEqual([]);
    expect(chat.transport.privateReplies).toEqual([]);
    expect(await chat.queue.queue.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, held: 0, checking: 0 });
  });

  it('resumes a job a stopped bot was showing, on the same message, rendering each event once', async () => {
    chat = await chatHarness({ transport: { editIntervalMs: 100 } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'u1', text: REQUEST, image: imageFile(await scenePng()), options: { steps: 600 } });
    const { ref, jobId } = chat.lastPost();
    await chat.until(ref.message, (m) => /^Editing · \d+\/600/.test(lines(m)[1] ?? ''), 'progress');
    await chat.flow.stop();
    const before = chat.transport.writesOf(ref.message);
    expect(before.some((w) => w.content.final)).toBe(false);

    // The job runs on while no bot follows it; a new bot on the same Redis picks the message up.
    await new Promise((r) => setTimeout(r, 300));
    const restarted = new RecordingTransport({ editIntervalMs: 100 });
    const flow = chat.newFlow(restarted);
    await flow.start();
    expect(flow.followedJobs()).toEqual([jobId]);
    const final = await chat.until(ref.message, isFinal, 'the final state after the restart', 45_000, restarted);
    expect(lines(final)[1], restarted.transcript()).toMatch(/^Done in .* s · seed \d+$/);

    const after = restarted.writesOf(ref.message);
    expect(after.every((w) => w.kind === 'edit')).toBe(true);
    const texts = [...before, ...after].map((w) => w.content.text);
    expect(new Set(texts).size, `${chat.transport.transcript()}\n---\n${restarted.transcript()}`).toBe(texts.length);
    const iteration = (text: string) => Number(/Editing · (\d+)\//.exec(text)?.[1] ?? Infinity);
    const lastBefore = Math.max(...before.map((w) => iteration(w.content.text)).filter(Number.isFinite));
    expect(iteration(after[0].content.text)).toBeGreaterThan(lastBefore);
    expect(after.filter((w) => w.content.final)).toHaveLength(1);

    const events = await chat.queue.queue.events.history(jobId);
    await eventually(async () => (await chat!.queue.redis.scard(chat!.queue.keys.unfinishedJobs('discord'))) === 0, 10_000, 'the job to leave the unfinished list');
    const record = JSON.parse((await chat.queue.redis.get(chat.queue.keys.chatJob(jobId)))!) as { lastSeq: number };
    expect(record.lastSeq).toBe(events.at(-1)!.seq);
  });

  it('shows a job that ended while no bot ran, in one edit straight to its final state', async () => {
    chat = await chatHarness();
    await chat.transport.edit({ user: 'u1', text: REQUEST, image: imageFile(await scenePng()), options: { steps: 30 } });
    const { ref, jobId } = chat.lastPost();
    await chat.flow.stop();
    await chat.queue.startWorker();
    await eventually(() => chat!.queue.queue.events.ended(jobId), 45_000, 'the job to end');

    const restarted = new RecordingTransport();
    const restartedFlow = chat.newFlow(restarted);
    await restartedFlow.start();
    const final = await chat.until(ref.message, isFinal, 'the final state after the restart', 20_000, restarted);
    expect(lines(final)[1]).toMatch(/^Done in .* s · seed \d+$/);
    expect(restarted.writes.map((w) => [w.kind, w.message]), restarted.transcript()).toEqual([['edit', ref.message]]);
    // And it lets go of the job: no reader left waiting on a stream that has ended.
    await eventually(() => restartedFlow.followedJobs().length === 0, 10_000, 'the restarted flow to stop following the ended job');
  });

  it('delivers the final state although the platform refused edits for a while', async () => {
    chat = await chatHarness({ transport: { editIntervalMs: 50 } });
    await chat.transport.edit({ user: 'u1', text: REQUEST, image: imageFile(await scenePng()), options: { steps: 20 } });
    const { ref } = chat.lastPost();
    chat.transport.refuseEdits = 2;
    await chat.queue.startWorker();
    const final = await chat.until(ref.message, isFinal, 'the final state');
    expect(lines(final)[1]).toMatch(/^Done in/);
    expect(chat.transport.refused).toHaveLength(2);
    expect(chat.logs.filter((l) => l.includes('could not edit a status message'))).toHaveLength(2);
  });
});
