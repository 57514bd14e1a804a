/**
 * The check step through the chat flow (docs/architecture.md, "The check step"): a job pauses
 * after grounding with its numbered masks, a lettered grid and Go, holding no worker; a reply in
 * the thread fixes a region (an instance by position, a grid box, a new phrase, a part dropped or
 * added); Go edits the plan as checked. Real Redis, a RecordingTransport for the people, an
 * in-process colour-world worker with concurrency 1 on the two-dogs scene.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../src/chat/transport.js';
import { decodeImage, encodePng } from '../src/image/decode.js';
import type { JobEvent } from '../src/jobs/contracts.js';
import { chatHarness, type ChatHarness } from './helpers/chat-flow.js';
import { imageFile, RecordingTransport } from './helpers/chat-transport.js';
import { PALETTE, fractionOfWay, sceneImage } from './helpers/colour-world.js';
import { colourWorldModels, eventually } from './helpers/queue.js';
import { chatCompletion, startFakeOpenAI } from './helpers/fake-openai.js';
import { openAIPlanner } from '../src/plan/openai.js';
import { GpuWorker } from '../gpu-worker/worker.js';
import { pino } from 'pino';
import { TWO_DOGS_REGIONS, maxDifferenceIn, meanColourIn, twoDogsImage, twoDogsScenePng } from './helpers/two-dogs.js';

const lines = (m: ChatMessage | undefined) => m?.text.split('\n') ?? [];
const actions = (m: ChatMessage | undefined) => m?.buttons.map((b) => b.action) ?? [];
const isChecking = (m: ChatMessage) => actions(m).includes('go');
const isFinal = (m: ChatMessage) => m.final;
const STEPS = 200;

async function resultOf(message: ChatMessage) {
  const result = message.images.find((i) => i.placement === 'result');
  expect(result, message.text).toBeDefined();
  return decodeImage(result!.data);
}

/** The job's `checking` events, in order. */
async function checkingEvents(chat: ChatHarness, jobId: string) {
  return (await chat.queue.queue.events.history(jobId)).filter((e): e is Extract<JobEvent, { type: 'checking' }> => e.type === 'checking');
}

describe('the check step in chat', { timeout: 240_000 }, () => {
  let chat: ChatHarness | undefined;
  afterEach(async () => {
    await chat?.close();
    chat = undefined;
  });

  it('pauses with numbered masks and Go before any GPU time, lets another edit run meanwhile, takes "1 is the dog on the left", and edits only that dog on Go', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'always' } });
    await chat.queue.startWorker({ concurrency: 1 });
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger', image: imageFile(await twoDogsScenePng()), options: { steps: STEPS, seed: 3 } });
    const { ref, jobId } = chat.lastPost();
    const checking = await chat.until(ref.message, isChecking, 'the check');
    const transcript = () => chat!.transport.transcript();

    // The masks, numbered and with what was found, Go and Cancel, and how to fix; nothing edited yet.
    expect(lines(checking).slice(0, 3), transcript()).toEqual([
      '**Edit 1**: turn the dog into a tiger',
      expect.stringMatching(/^Check the masks: press Go to edit, or reply to fix a region · expires <t:\d+:R>$/),
      '1 · the dog → a tiger (found in 2 places)',
    ]);
    expect(checking.text).toContain('Why I ask: "dog" was found in 2 places, and all of them would be edited.');
    expect(checking.text).toContain('reply with @bot: "1 is the dog on the left"');
    expect(actions(checking)).toEqual(['go', 'cancel']);
    expect(checking.buttons[0]).toMatchObject({ action: 'go', jobId, label: 'Go' });
    expect(checking.images.map((i) => i.name)).toEqual(['masks.png']);
    const history = await chat.queue.queue.events.history(jobId);
    expect(history.map((e) => e.type), transcript()).toEqual(['queued', 'planned', 'checking']);
    const writes = chat.transport.writesOf(ref.message);
    expect(writes.some((w) => /^Editing/.test(lines(w.content)[1] ?? '') || w.content.images.some((i) => i.name !== 'masks.png')), transcript()).toBe(false);
    // The masks carry the grid: the grid's lines are drawn over the sky, which no region covers.
    const masks = await decodeImage(checking.images[0].data);
    const scene = await twoDogsImage();
    expect(maxDifferenceIn(scene, masks, TWO_DOGS_REGIONS.sky)).toBeGreaterThan(30);

    // While alice looks, bob's edit runs to done on the one worker.
    await chat.transport.edit({ user: 'bob', text: 'turn the dog into a tiger', image: imageFile(await encodePng(await sceneImage())), options: { steps: 20, check: false } });
    const bob = chat.lastPost();
    const bobDone = await chat.until(bob.ref.message, isFinal, "bob's result");
    expect(lines(bobDone)[1], transcript()).toMatch(/^Done in /);
    expect(lines(chat.transport.latest(ref.message))[1]).toMatch(/^Check the masks/);

    // "1 is the dog on the left": the masks show the left dog only.
    await chat.transport.reply({ user: 'alice', thread: ref.thread, text: '1 is the dog on the left' });
    const fixed = await chat.until(ref.message, (m) => lines(m)[2] === '1 · the dog → a tiger (1 of the 2 found)', 'the left dog chosen');
    expect(actions(fixed)).toEqual(['go', 'cancel']);
    const rounds = await checkingEvents(chat, jobId);
    expect(rounds.map((e) => e.round)).toEqual([1, 2]);
    expect(rounds[1].regions[0].boxes).toEqual([[...TWO_DOGS_REGIONS.leftDog]]);
    expect(rounds[1].regions[0].found).toBe(2);
    // No new job was started by the reply.
    expect(chat.transport.posts().map((p) => p.content.buttons[0]?.jobId)).toEqual([jobId, bob.jobId]);

    // Go: the left dog turns orange, the right one stays as it was.
    await chat.transport.press({ user: 'alice' }, 'go', jobId, ref);
    const final = await chat.until(ref.message, isFinal, 'the result');
    expect(lines(final)[1], transcript()).toMatch(/^Done in .* · seed 3$/);
    const edit = await resultOf(final);
    expect(fractionOfWay(meanColourIn(edit, TWO_DOGS_REGIONS.leftDog), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifferenceIn(scene, edit, TWO_DOGS_REGIONS.rightDog)).toBeLessThanOrEqual(2);
    const types = (await chat.queue.queue.events.history(jobId)).map((e) => e.type);
    // One terminal event, after the checks, the queued of its edit stage and its progress.
    expect(types.filter((t) => t === 'done' || t === 'failed' || t === 'cancelled')).toEqual(['done']);
    expect(types.indexOf('progress')).toBeGreaterThan(types.lastIndexOf('checking'));
    expect(types.lastIndexOf('queued')).toBeGreaterThan(types.lastIndexOf('checking'));
    // Its slot was freed once it ended.
    await eventually(async () => (await chat!.queue.redis.scard(chat!.queue.keys.userActive('alice'))) === 0, 10_000, "alice's slot to be freed");
  });

  it('takes a grid box, an added part and a dropped part, each on the same status with new masks; refuses a stranger\'s fix and Go privately; edits the plan as fixed', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'always' } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger and the grass into snow', image: imageFile(await twoDogsScenePng()), options: { steps: STEPS, seed: 4 } });
    const { ref, jobId } = chat.lastPost();
    await chat.until(ref.message, isChecking, 'the check');
    const transcript = () => chat!.transport.transcript();

    // Bob may not fix or start alice's edit: told privately, nothing changes, no job of his starts.
    await chat.transport.reply({ user: 'bob', thread: ref.thread, text: '1 is the dog on the left' });
    await chat.transport.press({ user: 'bob' }, 'go', jobId, ref);
    expect(chat.transport.privateReplies.map((r) => `${r.user}: ${r.text}`)).toEqual([
      'bob: Only <@alice> can fix the regions of this edit or start it.',
      'bob: Only <@alice> can start this edit or fix its regions.',
    ]);
    expect(chat.transport.posts()).toHaveLength(1);
    expect((await checkingEvents(chat, jobId)).map((e) => e.round)).toEqual([1]);

    // A box on the grid for the grass: only its bottom row.
    await chat.transport.reply({ user: 'alice', thread: ref.thread, text: '2 is A8 to H8' });
    await eventually(async () => (await checkingEvents(chat!, jobId)).length === 2, 30_000, 'round 2');
    expect((await checkingEvents(chat, jobId))[1].regions[1]).toMatchObject({ boxes: [[0, 0.875, 1, 1]], source: 'user' });
    // A part added, found by the detector.
    await chat.transport.reply({ user: 'alice', thread: ref.thread, text: 'also turn the sky into snow' });
    await chat.until(ref.message, (m) => lines(m).includes('3 · the sky → the snow'), 'the added part');
    // The dogs left out.
    await chat.transport.reply({ user: 'alice', thread: ref.thread, text: 'drop 1' });
    const fixed = await chat.until(ref.message, (m) => lines(m)[2] === '1 · the grass → the snow' && lines(m)[3] === '2 · the sky → the snow', 'the dogs dropped');
    expect(fixed.images.map((i) => i.name)).toEqual(['masks.png']);
    expect(chat.transport.posts(), transcript()).toHaveLength(1);
    // A mistake is answered privately at once.
    await chat.transport.reply({ user: 'alice', thread: ref.thread, text: 'drop 5' });
    expect(chat.transport.privateReplies.at(-1)?.text).toBe('There is no part 5: this edit has 2 parts, 1 · the grass → the snow, 2 · the sky → the snow.');

    await chat.transport.reply({ user: 'alice', thread: ref.thread, text: 'looks good' });
    const final = await chat.until(ref.message, isFinal, 'the result');
    expect(lines(final).slice(1, 4), transcript()).toEqual([expect.stringMatching(/^Done in .* · seed 4$/), '1 · the grass → the snow', '2 · the sky → the snow']);
    const [edit, scene] = [await resultOf(final), await twoDogsImage()];
    expect(fractionOfWay(meanColourIn(edit, [0, 0.875, 1, 1]), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColourIn(edit, TWO_DOGS_REGIONS.sky), PALETTE.blue, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    for (const dog of [TWO_DOGS_REGIONS.leftDog, TWO_DOGS_REGIONS.rightDog]) expect(maxDifferenceIn(scene, edit, dog)).toBeLessThanOrEqual(2);
    expect(maxDifferenceIn(scene, edit, [0.4, 0.4, 0.6, 0.75])).toBeLessThanOrEqual(2);
  });

  it('applies "drop 1" sent twice in a row once: the second was written for the old numbers, and is answered on the status instead', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'always' } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger and the grass into snow', image: imageFile(await twoDogsScenePng()), options: { steps: STEPS } });
    const { ref, jobId } = chat.lastPost();
    await chat.until(ref.message, isChecking, 'the check');
    // Both read against the plan of 2 parts, before the lane applies either.
    await Promise.all([
      chat.transport.reply({ user: 'alice', thread: ref.thread, text: 'drop 1' }),
      chat.transport.reply({ user: 'alice', thread: ref.thread, text: 'drop 1' }),
    ]);
    await eventually(async () => (await checkingEvents(chat!, jobId)).length === 3, 30_000, 'two rounds after the first');
    const rounds = await checkingEvents(chat, jobId);
    expect(rounds.map((r) => r.plan.subtasks.length), chat.transport.transcript()).toEqual([2, 1, 1]);
    expect(rounds[2].plan.subtasks[0].source).toBe(rounds[0].plan.subtasks[1].source);
    expect(rounds[2].unread).toMatchObject({ text: 'drop 1', reason: 'An earlier fix took a part out, so the parts are numbered anew: look at the new masks and say it again.' });
  });

  it('asks about a phrase found nowhere instead of failing, and edits the rest after "drop 1" and Go', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'unsure' } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'alice', text: 'turn the unicorn into a horse and the dog into a tiger', image: imageFile(await twoDogsScenePng()), options: { steps: STEPS, seed: 5 } });
    const { ref, jobId } = chat.lastPost();
    const asked = await chat.until(ref.message, isChecking, 'the question');
    expect(lines(asked).slice(2), chat.transport.transcript()).toEqual([
      '1 · the unicorn → a horse (not found)',
      '2 · the dog → a tiger (found in 2 places)',
      'Why I ask: "dog" was found in 2 places, and all of them would be edited.',
      'I could not find "unicorn". I did find: the dog.',
      'Reply "1 is …" with what to edit instead, "drop 1", or press Go to edit the rest.',
      'To fix a region, reply with @bot: "1 is the dog on the left", "1 is the fence", "drop 1", "also turn the car into a tank", or a box on the grid: "1 is B3 to D5".',
    ]);
    expect((await chat.queue.queue.events.history(jobId)).some((e) => e.type === 'failed')).toBe(false);

    await chat.transport.reply({ user: 'alice', thread: ref.thread, text: 'drop 1' });
    await chat.until(ref.message, (m) => lines(m)[2] === '1 · the dog → a tiger (found in 2 places)' && !m.text.includes('could not find'), 'the unicorn dropped');
    await chat.transport.press({ user: 'alice' }, 'go', jobId, ref);
    const final = await chat.until(ref.message, isFinal, 'the result');
    expect(lines(final)[1], chat.transport.transcript()).toMatch(/^Done in /);
    const edit = await resultOf(final);
    for (const dog of [TWO_DOGS_REGIONS.leftDog, TWO_DOGS_REGIONS.rightDog]) {
      expect(fractionOfWay(meanColourIn(edit, dog), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    }
  });

  it('does not ask when nothing is doubtful under unsure, and a request can skip the check or ask for it', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'unsure' } });
    await chat.queue.startWorker();
    // One dog found once, no other part: nothing doubtful, so no pause.
    const oneDog = imageFile(await encodePng(await sceneImage()));
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger', image: oneDog, options: { steps: 20 } });
    const plain = chat.lastPost();
    await chat.until(plain.ref.message, isFinal, 'the plain result');
    expect((await chat.queue.queue.events.history(plain.jobId)).map((e) => e.type)).not.toContain('checking');
    // check: true asks all the same; check: false skips a doubtful one.
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger', image: imageFile(await encodePng(await sceneImage())), options: { steps: 20, check: true } });
    const asked = chat.lastPost();
    const checking = await chat.until(asked.ref.message, isChecking, 'the check asked for');
    expect(checking.text).not.toContain('Why I ask');
    await chat.transport.edit({ user: 'bob', text: 'turn the dog into a tiger', image: imageFile(await twoDogsScenePng()), options: { steps: 20, check: false } });
    const skipped = chat.lastPost();
    await chat.until(skipped.ref.message, isFinal, 'the unchecked result');
    expect((await chat.queue.queue.events.history(skipped.jobId)).map((e) => e.type)).not.toContain('checking');
  });

  it('ends a check nobody answers as expired, frees the slot, and offers Retry, which asks again', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'always', checkTimeoutMs: 1500 } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger', image: imageFile(await twoDogsScenePng()), options: { steps: 20 } });
    const { ref, jobId } = chat.lastPost();
    await chat.until(ref.message, isChecking, 'the check');
    const expired = await chat.until(ref.message, isFinal, 'the expiry', 30_000);
    expect(lines(expired)[1]).toBe('Nobody pressed Go within 1.5 s, so this edit was not started. Press Retry to start it again.');
    expect(actions(expired)).toEqual(['retry', 'masks']);
    const types = (await chat.queue.queue.events.history(jobId)).map((e) => e.type);
    expect(types).toEqual(['queued', 'planned', 'checking', 'failed']);
    expect((await chat.queue.queue.events.history(jobId)).at(-1)).toMatchObject({ type: 'failed', code: 'expired', details: { limitMs: 1500 } });
    await eventually(async () => (await chat!.queue.redis.scard(chat!.queue.keys.userActive('alice'))) === 0, 10_000, "alice's slot to be freed");
    // A late Go is told why, privately.
    await chat.transport.press({ user: 'alice' }, 'go', jobId, ref);
    expect(chat.transport.privateReplies.at(-1)?.text).toBe('This check has expired; press Retry to start over.');
    await chat.transport.press({ user: 'alice' }, 'retry', jobId, ref);
    const retry = chat.lastPost();
    expect(retry.jobId).not.toBe(jobId);
    await chat.until(retry.ref.message, isChecking, 'the check of the retry');
  });

  it('cancels a job at its check at once, with no GPU time spent and the slot freed for the next held job', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'always' }, queue: { perUserLimit: 1 } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger', image: imageFile(await twoDogsScenePng()), options: { steps: 20 } });
    const first = chat.lastPost();
    await chat.until(first.ref.message, isChecking, 'the check');
    // The paused job still counts as alice's: her next one is held back.
    await chat.transport.edit({ user: 'alice', text: 'turn the grass into snow', image: imageFile(await twoDogsScenePng()), options: { steps: 20, check: false } });
    const second = chat.lastPost();
    expect(await chat.queue.redis.sismember(chat.queue.keys.heldJobs, second.jobId)).toBe(1);
    await chat.transport.press({ user: 'alice' }, 'cancel', first.jobId, first.ref);
    const cancelled = await chat.until(first.ref.message, isFinal, 'the cancellation', 10_000);
    expect(lines(cancelled)[1]).toBe('Cancelled by <@alice>. Press Retry to run it again.');
    const types = (await chat.queue.queue.events.history(first.jobId)).map((e) => e.type);
    expect(types).toEqual(['queued', 'planned', 'checking', 'cancelled']);
    // The held job was let in and runs.
    const done = await chat.until(second.ref.message, isFinal, 'the held job');
    expect(lines(done)[1]).toMatch(/^Done in /);
  });

  it('keeps a check across a bot restart (the status resumes, a fix and Go work on the new bot) and a worker restart (a fix waits for the next worker)', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'always' } });
    const worker = await chat.queue.startWorker();
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger', image: imageFile(await twoDogsScenePng()), options: { steps: STEPS, seed: 6 } });
    const { ref, jobId } = chat.lastPost();
    await chat.until(ref.message, isChecking, 'the check');

    // The bot goes away and another starts on the same Redis: it shows the check again, with Go.
    await chat.flow.stop();
    const transport = new RecordingTransport({ editIntervalMs: 100 });
    const bot = chat.newFlow(transport);
    await bot.start();
    // The worker goes too: a fix sent meanwhile waits in the check lane.
    await worker.close('handoff');
    await transport.reply({ user: 'alice', thread: ref.thread, text: 'only the right one' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await checkingEvents(chat, jobId)).map((e) => e.round)).toEqual([1]);
    await chat.queue.startWorker();
    const fixed = await chat.until(ref.message, (m) => lines(m)[2] === '1 · the dog → a tiger (1 of the 2 found)', 'the fix after the restarts', 45_000, transport);
    expect(actions(fixed)).toEqual(['go', 'cancel']);
    await transport.press({ user: 'alice' }, 'go', jobId, ref);
    const final = await chat.until(ref.message, isFinal, 'the result', 60_000, transport);
    const [edit, scene] = [await resultOf(final), await twoDogsImage()];
    expect(fractionOfWay(meanColourIn(edit, TWO_DOGS_REGIONS.rightDog), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifferenceIn(scene, edit, TWO_DOGS_REGIONS.leftDog)).toBeLessThanOrEqual(2);
    expect((await chat.queue.queue.events.history(jobId)).filter((e) => e.type === 'done' || e.type === 'failed' || e.type === 'cancelled')).toHaveLength(1);
  });

  it('offers "Adjust a part" on a finished edit: one part weaker reruns from the same image with the same seed as a new step; only the requester may', async () => {
    chat = await chatHarness();
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger and the grass into snow', image: imageFile(await encodePng(await sceneImage())), options: { steps: 5, seed: 8 } });
    const first = chat.lastPost();
    const done = await chat.until(first.ref.message, isFinal, 'the first result');
    const menu = done.menus?.[0];
    expect(menu).toMatchObject({ action: 'adjust', jobId: first.jobId, placeholder: 'Adjust a part' });
    expect(menu!.options.map((o) => o.value)).toEqual(['1:stronger', '1:weaker', '1:remove', '2:stronger', '2:weaker', '2:remove']);
    expect(menu!.options[1].label).toBe('1 · weaker · the dog → a tiger');

    await chat.transport.press({ user: 'bob' }, 'adjust', first.jobId, first.ref, '1:weaker');
    expect(chat.transport.privateReplies.map((r) => r.text)).toEqual(['Only <@alice> can adjust this edit.']);
    await chat.transport.press({ user: 'alice' }, 'adjust', first.jobId, first.ref, '1:weaker');
    const second = chat.lastPost();
    expect(second.jobId).not.toBe(first.jobId);
    expect(second.ref.thread).toBe(first.ref.thread);
    const adjusted = await chat.until(second.ref.message, isFinal, 'the adjusted result');
    expect(lines(adjusted).slice(0, 2)).toEqual(['**Edit 2**: turn the dog into a tiger and the grass into snow (1 weaker)', expect.stringMatching(/^Done in .* · seed 8$/)]);
    const job = (await chat.queue.queue.getJob(second.jobId))!.data as import('../src/jobs/contracts.js').EditJob;
    expect(job.options).toMatchObject({ seed: 8, intensity: [0.5, 1] });
    expect(job.plan?.subtasks.map((s) => s.boxes)).toEqual([[[0.25, 0.4375, 0.625, 0.8125]], [[0, 0.375, 1, 1]]]);
    expect(job.fromThread).toBeUndefined();
    expect(job.check).toBeUndefined();
    // From the same image as the first edit (the photo), not from its result.
    expect(job.source).toBe((await chat.queue.queue.getJob(first.jobId))!.data.source);
    const [before, after] = [await resultOf(done), await resultOf(adjusted)];
    const dog = (image: Awaited<ReturnType<typeof resultOf>>) => fractionOfWay(meanColourIn(image, [0.25, 0.4375, 0.625, 0.8125]), PALETTE.brown, PALETTE.orange);
    const grass = (image: Awaited<ReturnType<typeof resultOf>>) => fractionOfWay(meanColourIn(image, [0, 0.875, 1, 1]), PALETTE.green, PALETTE.white);
    // Few steps, so the colour world has not converged: a weaker part has moved less far (0.70 against 0.82).
    expect(dog(after)).toBeLessThan(dog(before) - 0.05);
    expect(Math.abs(grass(after) - grass(before))).toBeLessThan(0.05);
    // The next adjustment starts from the weaker one: "1 · stronger" brings it back to 1.
    expect(adjusted.menus?.[0].options.find((o) => o.value === '1:stronger')).toBeDefined();
    // The first edit is no longer the latest step: it cannot be adjusted alone.
    await chat.transport.press({ user: 'alice' }, 'adjust', first.jobId, first.ref, '2:remove');
    expect(chat.transport.privateReplies.at(-1)?.text).toBe('One edit in this thread builds on this one, so it cannot be adjusted alone. Undo it first.');
  });

  it('retries an adjusted edit with its plan: a part removed stays removed, from the same image, with a new seed', async () => {
    chat = await chatHarness();
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger and the grass into snow', image: imageFile(await encodePng(await sceneImage())), options: { steps: 5, seed: 8 } });
    const first = chat.lastPost();
    await chat.until(first.ref.message, isFinal, 'the first result');
    await chat.transport.press({ user: 'alice' }, 'adjust', first.jobId, first.ref, '2:remove');
    const adjusted = chat.lastPost();
    await chat.until(adjusted.ref.message, isFinal, 'the adjusted result');
    await chat.transport.press({ user: 'alice' }, 'retry', adjusted.jobId, adjusted.ref);
    const retried = chat.lastPost();
    expect(retried.jobId).not.toBe(adjusted.jobId);
    const final = await chat.until(retried.ref.message, isFinal, 'the retried adjustment');
    expect(lines(final)[1], chat.transport.transcript()).toMatch(/^Done in /);
    expect(lines(final).slice(2)).toEqual(['1 · the dog → a tiger']);
    const [adjustedJob, retriedJob] = await Promise.all([adjusted.jobId, retried.jobId].map(async (id) => (await chat!.queue.queue.getJob(id))!.data as import('../src/jobs/contracts.js').EditJob));
    expect(retriedJob.plan).toEqual(adjustedJob.plan);
    expect(retriedJob.options.seed).not.toBe(8);
  });

  it('hands a reply the rules cannot read to the worker\'s planner model with the plan, or, with none, answers it privately at once', async () => {
    chat = await chatHarness({ flow: { checkMasks: 'always' } });
    const fake = await startFakeOpenAI();
    try {
      const { bundle, detector } = await colourWorldModels();
      const planner = openAIPlanner({ apiKey: 'sk-test-0123456789', baseURL: fake.baseURL, maxRetries: 0 });
      const worker = await GpuWorker.start({ redis: chat.queue.redis, keys: chat.queue.keys, bundle, detector, planner, logger: pino({ level: 'silent' }) }, { previewIntervalMs: 200, progressIntervalMs: 50 });
      const nulls = { part: null, position: null, ordinal: null, from: null, phrase: null, cells: null, source: null, target: null };
      fake.reply(
        { body: chatCompletion(JSON.stringify({ subtasks: [{ source: 'the dog', target: 'a tiger', grounding: 'dog', box: null }], full: { source: 'two dogs on grass', target: 'a tiger and a dog on grass' } })) },
        { body: chatCompletion(JSON.stringify({ fixes: [{ ...nulls, kind: 'pick', part: 1, position: 'right' }] })) },
      );
      try {
        await chat.transport.edit({ user: 'alice', text: 'turn the dog into a tiger', image: imageFile(await twoDogsScenePng()), options: { steps: 20 } });
        const { ref, jobId } = chat.lastPost();
        await chat.until(ref.message, isChecking, 'the check');
        await chat.transport.reply({ user: 'alice', thread: ref.thread, text: 'the pup that is not on the left' });
        await chat.until(ref.message, (m) => lines(m)[2] === '1 · the dog → a tiger (1 of the 2 found)', 'the fix read by the model');
        expect((await checkingEvents(chat, jobId))[1].regions[0].boxes).toEqual([[...TWO_DOGS_REGIONS.rightDog]]);
        expect(fake.requests[1].body.messages.at(-1).content).toContain('The reply:\nthe pup that is not on the left');
        expect(chat.transport.privateReplies).toEqual([]);
      } finally {
        await worker.close('drain');
      }
      // An offline worker: nobody can read it, so the bot says so at once, privately.
      await chat.queue.startWorker();
      await chat.transport.edit({ user: 'bob', text: 'turn the dog into a tiger', image: imageFile(await twoDogsScenePng()), options: { steps: 20 } });
      const second = chat.lastPost();
      await chat.until(second.ref.message, isChecking, 'the second check');
      await chat.transport.reply({ user: 'bob', thread: second.ref.thread, text: 'the pup that is not on the left' });
      expect(chat.transport.privateReplies.map((r) => `${r.user}: ${r.text}`)).toEqual([
        'bob: I could not read "the pup that is not on the left" as a fix. Reply e.g. "1 is the dog on the left", "1 is the fence", "drop 1", "also turn the car into a tank", "1 is B3 to D5" or "go".',
      ]);
    } finally {
      await fake.close();
    }
  });
});
