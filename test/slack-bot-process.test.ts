/**
 * The Slack bot as people run it (issue 9): `gas slack` and `gas serve --slack` as processes,
 * Bolt in Socket Mode against the fake Slack in this process, on real Redis with a prefix per
 * test; and `gas slack manifest`. Assertions read what the fake recorded (every chat.postMessage
 * and chat.update of a status message) and what the process printed.
 */
import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EVENTS, BOT_SCOPES } from '../adapters/slack/manifest.js';
import { encodePng } from '../src/image/decode.js';
import { startFakeDiscord } from './fakes/discord/index.js';
import { startFakeSlack, type FakeSlack } from './fakes/slack/index.js';
import { isDone as discordIsDone, jobIdOf as discordJobIdOf } from './helpers/discord-bot.js';
import { sceneImage } from './helpers/colour-world.js';
import { REQUEST, queueHarness, type QueueHarness } from './helpers/queue.js';
import { EDIT_INTERVAL_MS, botMessages, isDone, isFinalWrite, iterationOf, spawnSlackBot, stateLine, statusWrites, type BotChild } from './helpers/slack-process.js';
import { opsPortIn } from './helpers/gas-process.js';

/** `node dist/src/cli.js …args`, its exit status and output (asynchronous: the fake answers from this process). */
function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, ['dist/src/cli.js', ...args], { env, timeout: 60_000 }, (_error, stdout, stderr) => done({ status: child.exitCode, stdout, stderr }));
  });
}

/** The lines of a YAML list under `key` (its items indented below it). */
function listUnder(yaml: string, key: string): string[] {
  const lines = yaml.split('\n');
  const start = lines.findIndex((line) => line.trim() === `${key}:`);
  if (start < 0) return [];
  const items: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const item = /^\s+- (.+)$/.exec(line);
    if (!item) break;
    items.push(item[1]);
  }
  return items;
}

const withoutSlackEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENAI_|GAS_|DISCORD_|SLACK_)/.test(k)));

describe('gas slack manifest', () => {
  it('prints a Socket Mode manifest with exactly the scopes and events the bot uses', async () => {
    const { status, stdout, stderr } = await run(['slack', 'manifest'], withoutSlackEnv());
    expect(status, stderr).toBe(0);
    expect(listUnder(stdout, 'bot')).toEqual([...BOT_SCOPES]);
    expect(listUnder(stdout, 'bot_events')).toEqual([...BOT_EVENTS]);
    expect(stdout).toContain('socket_mode_enabled: true');
    expect(stdout).toContain('connections:write');
    expect(stdout).not.toContain('request_url');
  });

  it('prints an HTTP-mode manifest with the request URL for events and buttons, and refuses a URL Slack cannot send to', async () => {
    const url = 'https://bot.example.com/slack/events';
    const http = await run(['slack', 'manifest', '--request-url', url, '--name', 'Photo Bot'], withoutSlackEnv());
    expect(http.status, http.stderr).toBe(0);
    expect(http.stdout.split('\n').filter((line) => line.includes('request_url'))).toEqual([`    request_url: "${url}"`, `    request_url: "${url}"`]);
    expect(http.stdout).toContain('socket_mode_enabled: false');
    expect(http.stdout).toContain('  name: "Photo Bot"');
    expect(listUnder(http.stdout, 'bot')).toEqual([...BOT_SCOPES]);

    const plain = await run(['slack', 'manifest', '--request-url', 'http://bot.example.com/slack/events'], withoutSlackEnv());
    expect([plain.status, plain.stdout]).toEqual([2, '']);
    expect(plain.stderr).toContain('--request-url must be an https URL');
    const bare = await run(['slack', 'manifest', '--request-url', 'https://bot.example.com'], withoutSlackEnv());
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('https://bot.example.com/slack/events');
  });
});

// Edits run on a shared 2-core machine: each wait has its own generous deadline, and each failure prints the fake's record and the process output.
describe('the Slack bot as a process', { timeout: 300_000 }, () => {
  let fake: FakeSlack | undefined;
  let queue: QueueHarness | undefined;
  const running: BotChild[] = [];
  const output = () => running.map((r, i) => `--- process ${i + 1} ---\n${r.output()}`).join('\n');

  afterEach(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await Promise.all(running.map((r) => r.exited));
    running.length = 0;
    await queue?.close();
    await fake?.close();
    queue = undefined;
    fake = undefined;
  });

  async function setUp(worker: { defaultSteps: number } | false) {
    fake = await startFakeSlack();
    queue = await queueHarness();
    if (worker) await queue.startWorker(worker);
    return { fake, queue };
  }

  function spawnBot(args?: string[], env?: Record<string, string>): BotChild {
    const bot = spawnSlackBot(fake!, queue!.keys.prefix, args, env);
    running.push(bot);
    return bot;
  }

  async function connected(bot: BotChild, what: string) {
    await fake!.waitFor(() => bot.output().includes('serving edits') || bot.child.exitCode !== null, { describe: `${what} to connect\n${output()}`, timeoutMs: 90_000 });
    expect(bot.child.exitCode, `${what} exited\n${output()}`).toBe(null);
  }

  const mention = async (text: string) => fake!.postMessage({ user: fake!.users.alice, channel: fake!.channels.general, text: `<@${fake!.botUserId}> ${text}`, files: [{ name: 'scene.png', data: await encodePng(await sceneImage()) }] });

  /** What the fake recorded of the thread's status message, and the processes' output, for assertion messages. */
  const transcript = (thread: string) => `${statusWrites(fake!, fake!.channels.general, thread).map((w) => `  ${w.method} ${w.text.replace(/\n/g, ' | ')} [${w.images.length} images; ${w.actions.join(', ')}]`).join('\n')}\n${fake!.describe()}\n${output()}`;

  it('answers a mention with the demo scene in its thread and, killed with SIGKILL mid-job and restarted, brings the status message to done with each event rendered once', async () => {
    const { fake, queue } = await setUp({ defaultSteps: 800 });
    const general = fake.channels.general;
    const first = spawnBot();
    await connected(first, 'gas slack');
    const { ts: thread } = await mention(REQUEST);
    const status = await fake.waitFor(() => botMessages(fake, general, thread)[0], { describe: `the status message\n${output()}`, timeoutMs: 30_000 });
    await fake.waitFor(() => statusWrites(fake, general, thread).some((w) => /^Editing · /.test(stateLine(w.text))), { describe: `progress\n${transcript(thread)}`, timeoutMs: 90_000 });
    // Between two updates (half a cadence after one), as a crash usually lands.
    await new Promise((r) => setTimeout(r, EDIT_INTERVAL_MS / 2));
    first.child.kill('SIGKILL');
    await first.exited;
    const jobs = await queue.redis.keys(`${queue.keys.prefix}:seq:*`);
    expect(jobs, transcript(thread)).toHaveLength(1);
    const jobId = jobs[0].slice(`${queue.keys.prefix}:seq:`.length);
    expect(await queue.queue.events.ended(jobId), 'the job ended before the bot was killed; give it more steps').toBe(false);
    const writesBefore = statusWrites(fake, general, thread).length;

    const second = spawnBot(['slack', '--ops-port', '0']);
    const port = await fake.waitFor(() => opsPortIn(second.output()), { describe: `the ops port\n${output()}`, timeoutMs: 90_000 });
    await connected(second, 'the restarted gas slack');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect([health.status, await health.json()], output()).toEqual([200, { redis: 'up', slack: 'connected', status: 'ok' }]);
    await fake.waitFor(() => isDone(fake.message(general, status.ts)?.text ?? ''), { describe: `the result after the restart\n${transcript(thread)}`, timeoutMs: 180_000 });
    // The result file lands after the final update: wait for it before reading the record.
    await fake.waitFor(() => fake.messages(general).some((m) => m.thread_ts === thread && m.subtype === 'file_share'), { describe: `the result file\n${transcript(thread)}`, timeoutMs: 30_000 });

    const writes = statusWrites(fake, general, thread);
    const record = transcript(thread);
    if (process.env.DEBUG_E2E) console.log(`restart after write ${writesBefore}\n${record}`);
    expect(writes.length, record).toBeGreaterThan(writesBefore);
    expect(writes.filter(isFinalWrite), record).toHaveLength(1);
    expect(isFinalWrite(writes.at(-1)!), record).toBe(true);
    expect(isDone(writes.at(-1)!.text), record).toBe(true);
    // No state twice (text and images), and the progress never goes back.
    expect(new Set(writes.map((w) => JSON.stringify([w.text, w.images]))).size, record).toBe(writes.length);
    const iterations = writes.map((w) => iterationOf(w.text)).filter(Number.isFinite);
    expect(iterations.length, record).toBeGreaterThan(0);
    expect(iterations.every((n, i) => i === 0 || n > iterations[i - 1]), record).toBe(true);
    // One status message, one line opening the thread and one result in the thread, across both processes.
    expect(botMessages(fake, general, thread), record).toHaveLength(1);
    expect(fake.messages(general).filter((m) => m.thread_ts === thread && m.user === fake.botUserId && /^Reply in this thread\b/.test(m.text)), record).toHaveLength(1);
    expect(fake.messages(general).filter((m) => m.thread_ts === thread && m.subtype === 'file_share'), record).toHaveLength(1);
    expect(fake.violations, record).toEqual([]);

    second.child.kill('SIGTERM');
    expect(await second.exited, output()).toBe(0);
    for (const secret of [fake.botToken, fake.appToken]) expect(output()).not.toContain(secret);
  });

  it('runs two gas slack processes on one app: killed with SIGKILL mid-job, the one holding the status is replaced by the other, which finishes it with each event once and the result once (issue 16)', async () => {
    const { fake, queue } = await setUp({ defaultSteps: 1500 });
    const general = fake.channels.general;
    const bots = [spawnBot(['slack', '--ops-port', '0']), spawnBot(['slack', '--ops-port', '0'])];
    await connected(bots[0], 'the first gas slack');
    await connected(bots[1], 'the second gas slack');
    const { ts: thread } = await mention(REQUEST);
    await fake.waitFor(() => statusWrites(fake, general, thread).some((w) => /^Editing · /.test(stateLine(w.text))), { describe: `progress\n${transcript(thread)}`, timeoutMs: 90_000 });
    const jobs = await queue.redis.keys(`${queue.keys.prefix}:seq:*`);
    expect(jobs, transcript(thread)).toHaveLength(1);
    const jobId = jobs[0].slice(`${queue.keys.prefix}:seq:`.length);
    // The lease's holder is host:pid:random: the process that follows the status.
    const holder = await queue.redis.get(queue.keys.statusLease(jobId));
    const following = bots.findIndex((b) => holder?.split(':')[1] === String(b.child.pid));
    expect(following, `lease held by ${holder}\n${output()}`).toBeGreaterThanOrEqual(0);
    const [victim, survivor] = [bots[following], bots[1 - following]];
    const port = opsPortIn(victim.output())!;
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), output()).toContain('gas_status_leases{platform="slack"} 1');

    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(await queue.queue.events.ended(jobId), 'the job ended before the bot was killed; give it more steps').toBe(false);
    const writesBefore = statusWrites(fake, general, thread).length;
    await fake.waitFor(() => statusWrites(fake, general, thread).length > writesBefore, { describe: `a write by the other process\n${transcript(thread)}`, timeoutMs: 60_000 });
    const takeoverMs = statusWrites(fake, general, thread)[writesBefore].at - killedAt;
    // Within the lease (6 s) and a tick (2 s), and the target of 10 s, with room for a busy machine.
    expect(takeoverMs, transcript(thread)).toBeLessThanOrEqual(12_000);
    await fake.waitFor(() => isDone(fake.message(general, botMessages(fake, general, thread)[0]?.ts ?? '')?.text ?? ''), { describe: `the result after the takeover\n${transcript(thread)}`, timeoutMs: 180_000 });
    await fake.waitFor(() => fake.messages(general).some((m) => m.thread_ts === thread && m.subtype === 'file_share'), { describe: `the result file\n${transcript(thread)}`, timeoutMs: 30_000 });

    const writes = statusWrites(fake, general, thread);
    const record = transcript(thread);
    expect(writes.filter(isFinalWrite), record).toHaveLength(1);
    expect(new Set(writes.map((w) => JSON.stringify([w.text, w.images]))).size, record).toBe(writes.length);
    const iterations = writes.map((w) => iterationOf(w.text)).filter(Number.isFinite);
    expect(iterations.every((n, i) => i === 0 || n > iterations[i - 1]), record).toBe(true);
    expect(botMessages(fake, general, thread), record).toHaveLength(1);
    expect(fake.messages(general).filter((m) => m.thread_ts === thread && m.subtype === 'file_share'), record).toHaveLength(1);
    expect(fake.violations, record).toEqual([]);
    expect(survivor.child.exitCode, output()).toBe(null);
  });

  it('finishes an edit with its in-process worker under gas serve --slack, lets a GAS_ADMINS member undo it, and stops cleanly on SIGTERM', async () => {
    const { fake } = await setUp(false);
    const general = fake.channels.general;
    const serve = spawnBot(['serve', '--slack', '--steps', '20'], { GAS_ADMINS: fake.users.bob });
    await connected(serve, 'gas serve --slack');
    const { ts: thread } = await mention('turn the dog into a tiger');
    await fake.waitFor(() => statusWrites(fake, general, thread).some((w) => isDone(w.text)), { describe: `the edit by the in-process worker\n${transcript(thread)}`, timeoutMs: 180_000 });
    await fake.waitFor(() => fake.messages(general).some((m) => m.thread_ts === thread && m.subtype === 'file_share'), { describe: `the result file\n${transcript(thread)}`, timeoutMs: 30_000 });
    const shared = fake.messages(general).find((m) => m.thread_ts === thread && m.subtype === 'file_share')!;
    expect(fake.file(shared.files![0])?.name).toBe('edit.png');

    // Bob did not ask for the edit, but is an admin: his Undo goes through, in a new message in the thread.
    const done = statusWrites(fake, general, thread).at(-1)!;
    const undo = done.actions.find((a) => a.startsWith('gas:undo:'));
    expect(undo, transcript(thread)).toBeDefined();
    const status = botMessages(fake, general, thread)[0];
    await fake.pressButton({ user: fake.users.bob, channel: general, ts: status.ts, actionId: undo! });
    const undone = await fake.waitFor(() => botMessages(fake, general, thread).find((m) => m.ts !== status.ts), { describe: `the undo message\n${transcript(thread)}`, timeoutMs: 30_000 });
    expect(undone.text).toBe('Went back one edit. A reply in this thread now edits this image.');
    expect(fake.ephemerals, transcript(thread)).toEqual([]);
    expect(fake.violations, transcript(thread)).toEqual([]);

    serve.child.kill('SIGTERM');
    expect(await serve.exited, output()).toBe(0);
    for (const secret of [fake.botToken, fake.appToken]) expect(output()).not.toContain(secret);
  });

  it('serves Discord and Slack from one process with gas serve --discord --slack, finishing an edit on each', async () => {
    const { fake } = await setUp(false);
    const discord = await startFakeDiscord();
    try {
      const general = fake.channels.general;
      const serve = spawnBot(['serve', '--discord', '--slack', '--steps', '20', '--ops-port', '0'], {
        DISCORD_TOKEN: discord.token,
        DISCORD_APP_ID: discord.applicationId,
        DISCORD_API_URL: discord.apiUrl,
        DISCORD_EDIT_INTERVAL_MS: String(EDIT_INTERVAL_MS),
      });
      await fake.waitFor(() => (serve.output().match(/serving edits/g) ?? []).length === 2 || serve.child.exitCode !== null, { describe: `both bots to connect\n${output()}`, timeoutMs: 90_000 });
      expect(serve.child.exitCode, `gas serve exited\n${output()}`).toBe(null);
      const port = opsPortIn(serve.output());
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect([health.status, await health.json()], output()).toEqual([200, { redis: 'up', worker: 'running', discord: 'connected', slack: 'connected', status: 'ok' }]);

      const { ts: thread } = await mention('turn the dog into a tiger');
      discord.slashCommand({ user: discord.users.alice, options: { image: { name: 'scene.png', data: await encodePng(await sceneImage()), contentType: 'image/png' }, request: 'turn the grass into snow' } });
      const onDiscord = await discord.waitFor(() => discord.messages(discord.channelId).find((m) => discordJobIdOf(m)), { describe: `the Discord status message\n${output()}`, timeoutMs: 60_000 });
      await fake.waitFor(() => statusWrites(fake, general, thread).some((w) => isDone(w.text)), { describe: `the Slack edit\n${transcript(thread)}`, timeoutMs: 180_000 });
      await discord.waitFor(() => discordIsDone(discord.message(onDiscord.id)?.content ?? ''), { describe: `the Discord edit\n${output()}`, timeoutMs: 180_000 });
      expect([fake.violations, discord.violations], `${transcript(thread)}\n${discord.describe()}`).toEqual([[], []]);

      serve.child.kill('SIGTERM');
      expect(await serve.exited, output()).toBe(0);
      for (const secret of [fake.botToken, fake.appToken, discord.token]) expect(output()).not.toContain(secret);
    } finally {
      await discord.close();
    }
  });

  it('refuses to start without SLACK_BOT_TOKEN, naming it (exit 2), and never prints a token it was given', async () => {
    const fake = await startFakeSlack();
    try {
      const env = { ...withoutSlackEnv(), SLACK_APP_TOKEN: fake.appToken, SLACK_API_URL: fake.apiUrl };
      const missing = await run(['slack'], env);
      expect(missing.status, missing.stderr).toBe(2);
      expect(missing.stderr).toContain('SLACK_BOT_TOKEN');
      expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(missing.stderr + missing.stdout).not.toContain(fake.appToken);

      // A token of the wrong kind is refused, named, and not echoed.
      const wrong = await run(['serve', '--slack'], { ...env, SLACK_BOT_TOKEN: fake.botToken, SLACK_APP_TOKEN: fake.botToken });
      expect(wrong.status, wrong.stderr).toBe(2);
      expect(wrong.stderr).toContain('SLACK_APP_TOKEN');
      expect(wrong.stderr + wrong.stdout).not.toContain(fake.botToken);
      expect(fake.requests, fake.describe()).toEqual([]); // refused before connecting
    } finally {
      await fake.close();
    }
  });
});
