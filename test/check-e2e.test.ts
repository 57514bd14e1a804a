/**
 * The check step end to end, as people meet it: the real discord.js and the real Bolt against the
 * fake Discord and the fake Slack, the bot process's code, a colour-world worker with concurrency
 * 1 on real Redis, the two-dogs scene and "turn the dog into a tiger" with GAS_CHECK_MASKS=always.
 * The status shows the numbered masks and `gas:go:` before any progress and no edited pixel;
 * another person's edit runs to done on the one worker while the check waits; "1 is the dog on
 * the left" (a reply in the thread: mentioning the bot on Discord, any reply on Slack) updates the
 * masks to the left dog alone; Go edits the left dog and leaves the right one as it was.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DiscordTransport } from '../adapters/discord/transport.js';
import { startBot, type RunningBot } from '../src/chat/bot-process.js';
import type { JobEvent } from '../src/jobs/contracts.js';
import { DEFAULT_REDIS_URL } from '../src/jobs/redis.js';
import { createLogger } from '../src/log.js';
import { startFakeDiscord, type FakeDiscord } from './fakes/discord/index.js';
import { PALETTE, fractionOfWay, pngToRgb } from './helpers/colour-world.js';
import { attachedImage, EDIT_INTERVAL_MS, jobIdOf, privateReplies, statusWrites } from './helpers/discord-bot.js';
import { collectEvents, queueHarness, REQUEST, uniquePrefix, type QueueHarness } from './helpers/queue.js';
import { botButtons, jobIdOf as slackJobIdOf, shownFileIds, startSlackBot, textLines, type SlackBot } from './helpers/slack-bot.js';
import { TWO_DOGS_REGIONS, maxDifferenceIn, meanColourIn, twoDogsImage, twoDogsScenePng } from './helpers/two-dogs.js';

const REQUEST_ONE_PART = 'turn the dog into a tiger';
const STEPS = 200;
const stateLine = (text: string) => text.split('\n')[1] ?? '';
const planLine = (text: string) => text.split('\n')[2] ?? '';

/** Another person's edit, straight onto the queue: it needs the one worker while the check waits. */
async function otherEdit(queue: QueueHarness): Promise<string> {
  const { jobId } = await queue.queue.submit({ requester: { platform: 'cli', user: 'carol', channel: 'shell' }, source: queue.scene, request: REQUEST, options: { steps: 20 } });
  return jobId;
}

const typesOf = (events: readonly JobEvent[]) => events.map((e) => e.type);

describe('the check step on Discord', { timeout: 240_000 }, () => {
  let fake: FakeDiscord | undefined;
  let queue: QueueHarness | undefined;
  let bot: RunningBot | undefined;
  const logs: string[] = [];
  afterEach(async () => {
    await bot?.stop().catch(() => {});
    await queue?.close();
    await fake?.close();
    [fake, queue, bot] = [undefined, undefined, undefined];
    logs.length = 0;
  });

  async function startDiscordBot(prefix: string): Promise<RunningBot> {
    const logger = createLogger('check-e2e', { level: 'info', destination: { write: (line: string) => void logs.push(line) } });
    const transport = new DiscordTransport({ token: fake!.token, applicationId: fake!.applicationId, apiUrl: fake!.apiUrl, editIntervalMs: EDIT_INTERVAL_MS }, logger);
    return startBot({ redisUrl: DEFAULT_REDIS_URL, prefix, transports: [transport], logger, shutdownTimeoutMs: 20_000, flow: { checkMasks: 'always' } });
  }
  const report = () => `\n${fake!.describe()}\n--- bot log ---\n${logs.join('')}`;
  const until = async (id: string, predicate: (content: string) => boolean, what: string) => {
    await fake!.waitFor(() => predicate(fake!.message(id)?.content ?? ''), { describe: `${what} (message ${id})${report()}`, timeoutMs: 90_000 });
    return fake!.message(id)!;
  };
  const reply = (thread: string, user: FakeDiscord['users']['alice'], text: string) =>
    fake!.postMessage({ user, channelId: thread, content: `<@${fake!.users.bot.id}> ${text}`, mentions: [fake!.users.bot] });

  it('shows the masks with Go before any GPU time, runs another edit meanwhile, takes "1 is the dog on the left" across a bot restart, refuses a stranger, and edits the left dog on Go', async () => {
    fake = await startFakeDiscord();
    const prefix = uniquePrefix();
    queue = await queueHarness({}, undefined, prefix);
    await queue.startWorker({ concurrency: 1 });
    bot = await startDiscordBot(prefix);

    fake.slashCommand({ user: fake.users.alice, options: { image: { name: 'dogs.png', data: await twoDogsScenePng(), contentType: 'image/png' }, request: REQUEST_ONE_PART, steps: STEPS, seed: 9 } });
    const status = await fake.waitFor(() => fake!.messages(fake!.channelId).find((m) => jobIdOf(m)), { describe: `the status message${report()}`, timeoutMs: 30_000 });
    const jobId = jobIdOf(status)!;
    const checking = await until(status.id, (c) => /^Check the masks/.test(stateLine(c)), 'the check');
    expect(planLine(checking.content), report()).toBe('1 · the dog → a tiger (found in 2 places)');
    const writes = statusWrites(fake, status.id);
    const withGo = writes.find((w) => w.buttons.includes(`gas:go:${jobId}`));
    expect(withGo?.files, report()).toEqual(['masks.png']);
    // Before Go: no progress, no preview, no result ever shown.
    expect(typesOf(await queue.queue.events.history(jobId))).toEqual(['queued', 'planned', 'checking']);
    expect(writes.flatMap((w) => w.files).every((f) => f === 'masks.png'), report()).toBe(true);
    expect(writes.some((w) => /^Editing/.test(stateLine(w.content)))).toBe(false);

    // Carol's edit takes the one worker and finishes while alice looks.
    const other = await otherEdit(queue);
    expect(typesOf(await collectEvents(queue.queue, other, undefined, 60_000)).at(-1)).toBe('done');

    // Bob may not press Go: told privately.
    fake.pressButton({ user: fake.users.bob, messageId: status.id, customId: `gas:go:${jobId}` });
    await fake.waitFor(() => privateReplies(fake!).find((t) => t.includes(`Only <@${fake!.users.alice.id}> can start this edit`)), { describe: `the refusal to bob${report()}` });

    // The bot restarts; the check goes on: a reply in the thread fixes the region.
    await bot.stop();
    bot = await startDiscordBot(prefix);
    reply(status.id, fake.users.alice, '1 is the dog on the left');
    const fixed = await until(status.id, (c) => planLine(c) === '1 · the dog → a tiger (1 of the 2 found)', 'the left dog chosen');
    const masks = await attachedImage(fake, fixed, 'masks.png');
    const scene = await twoDogsImage();
    // The left dog is tinted by its mask now; the right one is not (only the grid's lines cross it).
    expect(maxDifferenceIn(scene, masks, TWO_DOGS_REGIONS.leftDog, 10)).toBeGreaterThan(20);
    expect(maxDifferenceIn(scene, masks, [0.69, 0.57, 0.74, 0.61], 0)).toBe(0);

    fake.pressButton({ user: fake.users.alice, messageId: status.id, customId: `gas:go:${jobId}` });
    const done = await until(status.id, (c) => /^Done in /.test(stateLine(c)), 'the result');
    const edit = await attachedImage(fake, done, 'edit.png');
    expect(fractionOfWay(meanColourIn(edit, TWO_DOGS_REGIONS.leftDog), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifferenceIn(scene, edit, TWO_DOGS_REGIONS.rightDog)).toBeLessThanOrEqual(2);
    const types = typesOf(await queue.queue.events.history(jobId));
    expect(types.indexOf('progress')).toBeGreaterThan(types.lastIndexOf('checking'));
    expect(types.filter((t) => t === 'done' || t === 'failed' || t === 'cancelled')).toEqual(['done']);
    expect(fake.violations, report()).toEqual([]);
  });
});

describe('the check step on Slack', { timeout: 240_000 }, () => {
  let bot: SlackBot | undefined;
  afterEach(async () => {
    await bot?.close();
    bot = undefined;
  });

  it('shows the masks with Go before any GPU time, runs another edit meanwhile, takes "1 is the dog on the left" as a thread reply, and edits the left dog on Go', async () => {
    bot = await startSlackBot({ transport: { editIntervalMs: 1000 }, flow: { checkMasks: 'always' }, worker: { concurrency: 1, defaultSteps: STEPS } });
    const b = bot;
    const { ts } = b.mention(REQUEST_ONE_PART, [{ name: 'dogs.png', data: await twoDogsScenePng() }]);
    const checking = await b.untilStatus(ts, 0, (m) => /^Check the masks/.test(textLines(m)[1] ?? ''), 'the check');
    const jobId = slackJobIdOf(checking);
    expect(textLines(checking)[2], b.report()).toBe('1 · the dog → a tiger (found in 2 places)');
    expect(botButtons(checking)).toEqual(['go', 'cancel']);
    const writes = b.writesOf(ts, 0);
    expect(writes.flatMap(shownFileIds).map((id) => b.fake.file(id)!.name).every((n) => n === 'masks.png')).toBe(true);
    expect(typesOf(await b.queue.queue.events.history(jobId))).toEqual(['queued', 'planned', 'checking']);
    expect(b.sharedFiles(ts)).toEqual([]);

    const other = await otherEdit(b.queue);
    expect(typesOf(await collectEvents(b.queue.queue, other, undefined, 60_000)).at(-1)).toBe('done');

    // Bob is told privately that Go is not his.
    await b.fake.pressButton({ user: b.fake.users.bob, channel: b.fake.channels.general, ts: checking.ts, actionId: `gas:go:${jobId}` });
    await b.fake.waitFor(() => b.fake.ephemerals.find((e) => e.user === b.fake.users.bob && e.text.includes('can start this edit')), { describe: `the refusal to bob${b.report()}` });

    // Any reply in the thread reaches the bot on Slack; it starts no new status (job) there.
    const messagesBefore = b.statuses(ts).length;
    b.fake.postMessage({ user: b.fake.users.alice, channel: b.fake.channels.general, thread_ts: ts, text: '1 is the dog on the left' });
    const fixed = await b.untilStatus(ts, 0, (m) => textLines(m)[2] === '1 · the dog → a tiger (1 of the 2 found)', 'the left dog chosen');
    expect(b.statuses(ts)).toHaveLength(messagesBefore);
    const lastMasks = b.writesOf(ts, 0).flatMap(shownFileIds).at(-1)!;
    const masks = await pngToRgb(b.fake.fileBytes(lastMasks)!);
    const scene = await twoDogsImage();
    expect(maxDifferenceIn(scene, masks, TWO_DOGS_REGIONS.leftDog, 10)).toBeGreaterThan(20);
    expect(maxDifferenceIn(scene, masks, [0.69, 0.57, 0.74, 0.61], 0)).toBe(0);

    await b.fake.pressButton({ user: b.fake.users.alice, channel: b.fake.channels.general, ts: fixed.ts, actionId: `gas:go:${jobId}` });
    await b.untilStatus(ts, 0, (m) => /^Done in /.test(textLines(m)[1] ?? ''), 'the result', 90_000);
    const share = await b.fake.waitFor(() => b.sharedFiles(ts)[0], { describe: `the result shared into the thread${b.report()}`, timeoutMs: 20_000 });
    const edit = await pngToRgb(b.fake.fileBytes(share.files![0])!);
    expect(fractionOfWay(meanColourIn(edit, TWO_DOGS_REGIONS.leftDog), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifferenceIn(scene, edit, TWO_DOGS_REGIONS.rightDog)).toBeLessThanOrEqual(2);
    expect(b.fake.violations, b.report()).toEqual([]);
  });
});
