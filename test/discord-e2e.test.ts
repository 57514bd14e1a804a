/**
 * The Discord bot end to end, as a person sees it: the real discord.js (DiscordTransport) and the
 * chat flow, run by the bot process's code, against the fake Discord, with a colour-world worker
 * on real Redis. Assertions read what the fake recorded: the deferral, every edit of a status
 * message, the files it carried, its buttons and the private replies. Failure wording belongs to
 * the renderer, so failures are matched loosely.
 */
import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { discordSection } from '../adapters/discord/config.js';
import { readSection } from '../src/config/section.js';
import { GasError } from '../src/errors.js';
import { decodeImage, encodePng } from '../src/image/decode.js';
import type { FakeDiscord } from './fakes/discord/index.js';
import { PALETTE, fractionOfWay, maxDifference, meanColour, sceneImage } from './helpers/colour-world.js';
import {
  EDIT_INTERVAL_MS,
  attachedImage,
  buttonsOf,
  discordBotHarness,
  isDone,
  isFinalWrite,
  iterationOf,
  jobIdOf,
  privateReplies,
  spawnDiscordBot,
  stateLine,
  statusWrites,
  type DiscordBotHarness,
} from './helpers/discord-bot.js';
import { opsPortIn } from './helpers/gas-process.js';
import { REQUEST, eventually } from './helpers/queue.js';
import { hugePngHeader } from './helpers/refused-images.js';

const STEPS = 80;
/** The first test wants a preview on screen: enough steps to outlast one edit interval on a fast machine. */
const PREVIEW_STEPS = 300;
const scenePng = async () => encodePng(await sceneImage());
const photo = async () => ({ name: 'scene.png', data: await scenePng(), contentType: 'image/png' });
const callbacks = (f: FakeDiscord) => f.requests.filter((r) => r.path.endsWith('/callback'));

/** `node dist/src/cli.js …args`, its exit status and output. */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, ['dist/src/cli.js', ...args], { env, timeout: 60_000 }, (_error, stdout, stderr) => done({ status: child.exitCode, stdout, stderr }));
  });
}

// Several edits per test on a shared 2-core machine: each wait has its own generous deadline.
describe('the Discord bot end to end', { timeout: 240_000 }, () => {
  let bot: DiscordBotHarness | undefined;
  afterEach(async () => {
    await bot?.close();
    bot = undefined;
  });

  /** Waits until message `id` (a status) satisfies `predicate`, failing with what the fake recorded. */
  async function until(id: string, predicate: (content: string) => boolean, what: string, timeoutMs = 90_000) {
    const b = bot!;
    await b.fake.waitFor(() => predicate(b.fake.message(id)?.content ?? ''), { describe: `${what} (message ${id}); bot log:\n${b.logs.join('')}`, timeoutMs });
    return b.fake.message(id)!;
  }

  /** The newest status message (a bot message with buttons) in a channel or thread. */
  function newestStatus(channelId: string) {
    const b = bot!;
    return b.fake.messages(channelId).filter((m) => m.author.id === b.fake.users.bot.id && jobIdOf(m)).at(-1);
  }

  /** Sends /edit as alice and waits for its status message: the deferred reply, in the channel. */
  async function slashEdit(request: string, options: Record<string, number> = {}) {
    const b = bot!;
    const before = b.fake.messages(b.fake.channelId).length;
    const sentAt = Date.now();
    b.fake.slashCommand({ user: b.fake.users.alice, options: { image: await photo(), request, ...options } });
    const status = await b.fake.waitFor(() => b.fake.messages(b.fake.channelId).slice(before).find((m) => jobIdOf(m)), { describe: 'the status message', timeoutMs: 30_000 });
    return { status, jobId: jobIdOf(status)!, sentAt };
  }

  /** A reply in an edit thread that mentions the bot, and the new status message it starts. */
  async function reply(thread: string, text: string) {
    const b = bot!;
    const before = newestStatus(thread)?.id;
    const mention = b.fake.users.bot;
    b.fake.postMessage({ user: b.fake.users.alice, channelId: thread, content: `<@${mention.id}> ${text}`, mentions: [mention] });
    const status = await b.fake.waitFor(() => {
      const newest = newestStatus(thread);
      return newest && newest.id !== before && newest;
    }, { describe: `the status of "${text}"`, timeoutMs: 30_000 });
    return { status, jobId: jobIdOf(status)! };
  }

  it('edits the demo scene from /edit: defers at once, shows the masks and a preview, and delivers the result with its buttons at the cadence', async () => {
    bot = await discordBotHarness();
    const { status, jobId, sentAt } = await slashEdit(REQUEST, { steps: PREVIEW_STEPS, seed: 7 });
    const [defer] = callbacks(bot.fake);
    expect(defer.json.type, bot.report()).toBe(5); // deferred: "thinking…"
    expect(defer.at - sentAt).toBeLessThan(3_000);

    const final = await until(status.id, isDone, 'the result');
    const writes = statusWrites(bot.fake, status.id);
    const report = `${writes.map((w) => `  +${w.at - writes[0].at}ms [${w.files.join(', ')}] ${w.content.replace(/\n/g, ' | ')}`).join('\n')}${bot.report()}`;
    expect(writes.some((w) => w.files.includes('masks.png')), report).toBe(true);
    expect(writes.some((w) => w.files.includes('preview.png') && new RegExp(`^Editing · \\d+/${PREVIEW_STEPS}`).test(stateLine(w.content))), report).toBe(true);
    const gaps = writes.slice(1).map((w, i) => w.at - writes[i].at);
    // Measured where the fake receives them, so a little network jitter is allowed.
    expect(Math.min(...gaps), report).toBeGreaterThanOrEqual(EDIT_INTERVAL_MS - 50);
    expect(writes.filter(isFinalWrite), report).toHaveLength(1);
    expect(writes.at(-1)!.content).toBe(final.content);

    // Issue 14 (defect 10): edits are numbered in their thread.
    expect(final.content.split('\n')[0]).toBe(`**Edit 1**: ${REQUEST}`);
    expect(stateLine(final.content)).toMatch(/seed 7$/);
    expect(buttonsOf(final)).toEqual(['Retry', 'Undo', 'Masks', 'Adjust a part']);
    expect(final.attachments.map((a) => a.filename)).toEqual(['edit.png']);
    const edit = await attachedImage(bot.fake, final, 'edit.png');
    const scene = await sceneImage();
    expect([edit.width, edit.height]).toEqual([scene.width, scene.height]);
    expect(fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(edit, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifference(scene, edit, 'sky')).toBeLessThanOrEqual(2);
    // The edit thread starts from the status message.
    expect(bot.fake.channel(status.id)?.parent_id).toBe(bot.fake.channelId);
    expect(bot.fake.violations, bot.report()).toEqual([]);

    // Retry: someone else is refused privately; the requester gets a new run with a new seed, in the thread.
    bot.fake.pressButton({ user: bot.fake.users.bob, messageId: status.id, customId: `gas:retry:${jobId}` });
    await bot.fake.waitFor(() => privateReplies(bot!.fake).find((text) => text.includes(`<@${bot!.fake.users.alice.id}>`)), { describe: 'the refusal to bob' });
    bot.fake.pressButton({ user: bot.fake.users.alice, messageId: status.id, customId: `gas:retry:${jobId}` });
    const retry = await bot.fake.waitFor(() => newestStatus(status.id), { describe: 'the retry status in the thread' });
    expect(jobIdOf(retry)).not.toBe(jobId);
    const retried = await until(retry.id, isDone, 'the retry result');
    const seed = Number(/seed (\d+)$/.exec(stateLine(retried.content))?.[1]);
    expect(Number.isInteger(seed), retried.content).toBe(true);
    expect(seed).not.toBe(7);
    expect(bot.fake.violations, bot.report()).toEqual([]);
  });

  it('edits the last result on a reply in the thread, and after Undo a reply starts from the edit before', async () => {
    bot = await discordBotHarness();
    const first = await slashEdit('turn the dog into a tiger', { steps: STEPS });
    const tigerMessage = await until(first.status.id, isDone, 'the first result');
    const tiger = await attachedImage(bot.fake, tigerMessage, 'edit.png');
    const thread = await bot.fake.waitFor(() => bot!.fake.channel(first.status.id)?.id as string | undefined, { describe: 'the edit thread' });

    const second = await reply(thread, 'now turn the grass into snow');
    const both = await attachedImage(bot.fake, await until(second.status.id, isDone, 'the second result'), 'edit.png');
    expect(fractionOfWay(meanColour(both, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(both, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);

    const beforeUndo = bot.fake.messages(thread).length;
    bot.fake.pressButton({ user: bot.fake.users.alice, messageId: second.status.id, customId: `gas:undo:${second.jobId}` });
    const undone = await bot.fake.waitFor(() => bot!.fake.messages(thread).slice(beforeUndo).find((m) => m.author.id === bot!.fake.users.bot.id), { describe: 'the undo message' });
    expect(undone.attachments).toHaveLength(1);
    const shown = await decodeImage(bot.fake.fileBytes(undone.attachments[0]));
    expect(maxDifference(tiger, shown, 'grass')).toBe(0);

    const third = await reply(thread, 'make the sky pink');
    const fromTiger = await attachedImage(bot.fake, await until(third.status.id, isDone, 'the third result'), 'edit.png');
    expect(fractionOfWay(meanColour(fromTiger, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifference(tiger, fromTiger, 'grass')).toBeLessThanOrEqual(2); // green again: the snow was undone
    expect(fractionOfWay(meanColour(fromTiger, 'sky'), PALETTE.blue, PALETTE.pink)).toBeGreaterThanOrEqual(0.3);
    expect(bot.fake.violations, bot.report()).toEqual([]);
  });

  it('cancels a running edit for its requester and refuses anyone else privately', async () => {
    bot = await discordBotHarness();
    const { status, jobId } = await slashEdit(REQUEST, { steps: 10_000 });
    await until(status.id, (c) => /^Editing · /.test(stateLine(c)), 'progress');

    bot.fake.pressButton({ user: bot.fake.users.bob, messageId: status.id, customId: `gas:cancel:${jobId}` });
    const refusal = await bot.fake.waitFor(() => privateReplies(bot!.fake)[0], { describe: 'the refusal to bob' });
    expect(refusal).toContain(`<@${bot.fake.users.alice.id}>`);
    expect(await bot.queue.queue.events.ended(jobId)).toBe(false);

    bot.fake.pressButton({ user: bot.fake.users.alice, messageId: status.id, customId: `gas:cancel:${jobId}` });
    const final = await until(status.id, (c) => /cancel/i.test(stateLine(c)), 'the cancellation', 30_000);
    expect(stateLine(final.content)).toContain(`<@${bot.fake.users.alice.id}>`);
    expect(buttonsOf(final)).toEqual(['Retry']);
    await eventually(() => bot!.queue.queue.events.ended(jobId), 20_000, 'the job to end');
    expect(bot.fake.violations, bot.report()).toEqual([]);
  });

  it('answers bad input with a clear private message, queues nothing, and keeps serving', async () => {
    bot = await discordBotHarness();
    const { fake } = bot;
    const scene = await photo();
    const nineEdits = ['dog', 'grass', 'sky', 'cat', 'car', 'tree', 'house', 'boat', 'road'].map((w) => `turn the ${w} into snow`).join(', ');
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['no image', { request: REQUEST }, /attach/i],
      ['a text file', { image: { name: 'notes.txt', data: Buffer.from('hello'), contentType: 'text/plain' }, request: REQUEST }, /not an image/i],
      // Issue 16: an image of another format is refused with the formats that work, not edited.
      ['an SVG', { image: { name: 'logo.svg', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), contentType: 'image/svg+xml' }, request: REQUEST }, /^logo\.svg is an SVG image, which cannot be edited\. Send a JPEG, PNG, WebP, GIF, AVIF\/HEIF or TIFF photo\.$/],
      ['a 20000×20000 PNG', { image: { name: 'huge.png', data: hugePngHeader(), contentType: 'image/png' }, request: REQUEST }, /too large/i],
      ['an empty request', { image: scene, request: '   ' }, /what to change/i],
      ['a 1,001-character request', { image: scene, request: `turn the dog into a tiger ${'x'.repeat(975)}` }, /1001 characters/],
      ['nine edits', { image: scene, request: nineEdits }, /9 edits/],
    ];
    for (const [name, options, expected] of cases) {
      const before = privateReplies(fake).length;
      fake.slashCommand({ user: fake.users.alice, options: options as never });
      const replies = await fake.waitFor(() => privateReplies(fake).length > before && privateReplies(fake).slice(before), { describe: `the reply to ${name}` });
      expect(replies, name).toHaveLength(1);
      expect(replies[0], name).toMatch(expected);
    }
    // Each loading message was removed: nothing public came of bad input.
    expect(fake.messages(fake.channelId).filter((m) => !(m.flags & 64)), bot.report()).toEqual([]);
    expect(await bot.queue.queue.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, held: 0, checking: 0 });
    expect(await bot.queue.redis.keys(`${bot.prefix}:seq:*`)).toEqual([]);

    // A phrase found nowhere: the masks and the reason, on the status message.
    const unknown = await slashEdit('turn the cat into a fox', { steps: 10 });
    const failed = await until(unknown.status.id, (c) => /"?cat"?/.test(stateLine(c)), 'the failure naming the phrase');
    expect(failed.attachments.map((a) => a.filename)).toEqual(['masks.png']);
    expect(buttonsOf(failed)).not.toContain('Cancel');

    // And the bot still edits.
    const good = await slashEdit('turn the dog into a tiger', { steps: 20 });
    await until(good.status.id, isDone, 'a good edit after the bad ones');
    expect(fake.violations, bot.report()).toEqual([]);
  });

  it('resumes the status message after the bot process is killed mid-job and restarted, rendering each event once', async () => {
    bot = await discordBotHarness({ worker: {} });
    await bot.stopBot(); // this test runs the bot as a process
    const { fake, prefix } = bot;
    const running = [spawnDiscordBot(fake, prefix)];
    const output = () => running.map((r, i) => `--- bot process ${i + 1} ---\n${r.output()}`).join('\n');
    try {
      await fake.waitFor(() => running[0].output().includes('serving edits'), { describe: `the bot process to connect\n${output()}`, timeoutMs: 60_000 });
      fake.slashCommand({ user: fake.users.alice, options: { image: await photo(), request: REQUEST, steps: 800 } });
      const status = await fake.waitFor(() => fake.messages(fake.channelId).find((m) => jobIdOf(m)), { describe: `the status message\n${output()}`, timeoutMs: 30_000 });
      await fake.waitFor(() => statusWrites(fake, status.id).some((w) => /^Editing · /.test(stateLine(w.content))), { describe: `progress\n${output()}`, timeoutMs: 60_000 });
      // Between two edits (half a cadence after one), as a crash usually lands.
      await new Promise((r) => setTimeout(r, EDIT_INTERVAL_MS / 2));
      const jobId = jobIdOf(status)!;
      running[0].child.kill('SIGKILL');
      await running[0].exited;
      expect(await bot.queue.queue.events.ended(jobId), 'the job ended before the bot was killed; give it more steps').toBe(false);
      const writesBefore = statusWrites(fake, status.id).length;

      running.push(spawnDiscordBot(fake, prefix, ['discord', '--ops-port', '0']));
      const port = await fake.waitFor(() => opsPortIn(running[1].output()), { describe: `the ops port\n${output()}`, timeoutMs: 60_000 });
      await fake.waitFor(() => running[1].output().includes('serving edits'), { describe: `the restarted bot to connect\n${output()}`, timeoutMs: 60_000 });
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect([health.status, await health.json()], output()).toEqual([200, { redis: 'up', discord: 'connected', status: 'ok' }]);
      const final = await fake.waitFor(() => isDone(fake.message(status.id)?.content ?? '') && fake.message(status.id), { describe: `the result after the restart\n${output()}`, timeoutMs: 120_000 });
      const writes = statusWrites(fake, status.id);
      const transcript = `${writes.map((w, i) => `  ${i === writesBefore ? '(restart) ' : ''}${w.content.replace(/\n/g, ' | ')}`).join('\n')}\n${output()}`;
      if (process.env.DEBUG_E2E) console.log(transcript);
      expect(writes.length, transcript).toBeGreaterThan(writesBefore);
      expect(writes.filter(isFinalWrite), transcript).toHaveLength(1);
      expect(isFinalWrite(writes.at(-1)!), transcript).toBe(true);
      // No content twice, and the progress never goes back.
      expect(new Set(writes.map((w) => w.content)).size, transcript).toBe(writes.length);
      const iterations = writes.map((w) => iterationOf(w.content)).filter(Number.isFinite);
      expect(iterations.every((n, i) => i === 0 || n > iterations[i - 1]), transcript).toBe(true);
      expect(final.attachments.map((a) => a.filename)).toEqual(['edit.png']);
      expect(fake.violations, fake.describe()).toEqual([]);

      running[1].child.kill('SIGTERM');
      expect(await running[1].exited, output()).toBe(0);
      expect(output()).not.toContain(fake.token);
    } finally {
      for (const r of running) r.child.kill('SIGTERM');
      await Promise.all(running.map((r) => r.exited));
    }
  });

  it('runs the bot and a worker in one process with gas serve --discord, and hands the running edit back on SIGTERM', async () => {
    bot = await discordBotHarness({ worker: false });
    await bot.stopBot();
    const { fake, prefix } = bot;
    const serve = spawnDiscordBot(fake, prefix, ['serve', '--discord']);
    try {
      await fake.waitFor(() => serve.output().includes('serving edits'), { describe: `gas serve to connect\n${serve.output()}`, timeoutMs: 60_000 });
      const quick = await slashEdit('turn the dog into a tiger', { steps: 20 });
      await until(quick.status.id, isDone, `the edit by the in-process worker\n${serve.output()}`);

      const long = await slashEdit(REQUEST, { steps: 10_000 });
      await until(long.status.id, (c) => /^Editing · /.test(stateLine(c)), `progress\n${serve.output()}`);
      serve.child.kill('SIGTERM');
      expect(await serve.exited, serve.output()).toBe(0);
      expect(serve.output()).toContain('job handed back on shutdown');
      expect(serve.output()).not.toContain(fake.token);
      expect(['wait', 'prioritized']).toContain(await bot.queue.queue.queue.getJob(long.jobId).then((j) => j?.getState()));
      expect(isFinalWrite(statusWrites(fake, long.status.id).at(-1)!), serve.output()).toBe(false);
    } finally {
      serve.child.kill('SIGKILL');
      await serve.exited;
    }
  });

  it('registers its commands with gas discord register, and refuses to start without DISCORD_TOKEN, naming it (exit 2)', async () => {
    bot = await discordBotHarness({ worker: false });
    await bot.stopBot();
    const { fake } = bot;
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(GAS_|DISCORD_)/.test(k))), DISCORD_API_URL: fake.apiUrl, DISCORD_APP_ID: fake.applicationId };
    // Run asynchronously: the fake answers from this process.
    const registered = await run(['discord', 'register', '--guild', fake.guildId], { ...env, DISCORD_TOKEN: fake.token });
    expect(registered.status, registered.stderr).toBe(0);
    expect(registered.stdout).toContain(fake.guildId);
    expect(fake.commands.get(fake.guildId)?.map((c) => c.name)).toEqual(['edit', 'Edit image']);

    // A server name instead of its id is refused before Discord is asked.
    const named = await run(['discord', 'register', '--guild', 'my server'], { ...env, DISCORD_TOKEN: fake.token });
    expect(named.status, named.stderr).toBe(2);
    expect(named.stderr).toContain('--guild must be a server id');

    const missing = await run(['discord'], env);
    expect(missing.status, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('DISCORD_TOKEN');
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('still delivers the result through a 429 on an edit, a 413 on the final upload and an expired interaction token', async () => {
    // The fake ends interaction tokens after 2 s; the bot believes they live 15 minutes.
    bot = await discordBotHarness({ fake: { tokenLifetimeMs: 2_000 } });
    const { fake } = bot;
    fake.failNext((method, path, request) => method === 'PATCH' && /\/messages\/\d+$/.test(path) && request.files.some((f) => f.name === 'edit.png'), { status: 413, code: 40005, message: 'Request entity too large' });
    const { status } = await slashEdit(REQUEST, { steps: 600 });
    await until(status.id, (c) => /^Editing · /.test(stateLine(c)), 'progress');
    fake.failNext((method, path) => method === 'PATCH' && path.endsWith(`/messages/${status.id}`), { status: 429, retryAfter: 1 });

    const final = await until(status.id, isDone, 'the result', 120_000);
    const patches = fake.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/messages/${status.id}`));
    const summary = patches.map((r) => `${r.path.split('/')[1]} ${r.status}${r.code ? ` ${r.code}` : ''} [${r.files.map((f) => f.name).join(', ')}]`).join('\n');
    expect(patches.some((r) => r.status === 429), summary).toBe(true);
    expect(patches.some((r) => r.status === 413), summary).toBe(true);
    expect(patches.some((r) => r.path.startsWith('/webhooks/') && r.code === 50027), summary).toBe(true);
    expect(patches.at(-1)!.path.startsWith('/channels/'), summary).toBe(true);
    // The 413 made it send a smaller image; what arrived is still the edit.
    expect(final.attachments).toHaveLength(1);
    const shown = await decodeImage(fake.fileBytes(final.attachments[0]));
    expect(fractionOfWay(meanColour(shown, 'dog'), PALETTE.brown, PALETTE.orange), summary).toBeGreaterThanOrEqual(0.7);
    // Using the expired token is the one broken rule: it is how the bot learns the token ended.
    expect([...new Set(fake.violations.map((v) => v.rule))], fake.describe()).toEqual(['expired-token']);
  });
});

describe('the Discord settings', () => {
  it('reads the application id from DISCORD_APP_ID, and from DISCORD_APPLICATION_ID as its older name', () => {
    expect(readSection(discordSection, { DISCORD_TOKEN: 't', DISCORD_APP_ID: '42' }).applicationId).toBe('42');
    expect(readSection(discordSection, { DISCORD_TOKEN: 't', DISCORD_APPLICATION_ID: '43' }).applicationId).toBe('43');
    expect(readSection(discordSection, { DISCORD_TOKEN: 't', DISCORD_APP_ID: '42', DISCORD_APPLICATION_ID: '43' }).applicationId).toBe('42');
  });

  it('refuses a bad setting as bad input naming its variable', () => {
    const missing = thrown(() => readSection(discordSection, { DISCORD_TOKEN: 't' }));
    expect([missing.code, missing.message]).toEqual(['bad_input', 'Discord settings: DISCORD_APP_ID must be a Discord id (digits)']);
    expect(thrown(() => readSection(discordSection, { DISCORD_TOKEN: 't', DISCORD_APP_ID: '1', DISCORD_CHANNELS: '5, general' })).message).toBe(
      'Discord settings: DISCORD_CHANNELS (item 2) must be a Discord id (digits)',
    );
    expect(thrown(() => readSection(discordSection, { DISCORD_TOKEN: 't', DISCORD_APP_ID: '1', DISCORD_EDIT_INTERVAL_MS: '200' })).message).toMatch(/^Discord settings: DISCORD_EDIT_INTERVAL_MS /);
  });
});

function thrown(run: () => unknown): GasError {
  try {
    run();
  } catch (error) {
    if (error instanceof GasError) return error;
    throw error;
  }
  throw new Error('expected a GasError, but nothing was thrown');
}
