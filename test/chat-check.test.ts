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
import { imageFile } from './helpers/chat-transport.js';
import { PALETTE, fractionOfWay, sceneImage } from './helpers/colour-world.js';
import { eventually } from './helpers/queue.js';
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
});
