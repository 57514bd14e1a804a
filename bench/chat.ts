/**
 * `npm run bench:chat`: the bots as people meet them, on loopback: the fake Discord and the fake
 * Slack in this process, `gas discord`, `gas slack` (Socket Mode) and one colour-world
 * `gas worker` as child processes on a fresh Redis prefix, one platform after the other. Prints a
 * table per platform: request → first answer (Discord: interaction → defer, p95 < 150 ms; Slack:
 * event → first thread reply), Discord's interaction → masks shown (p50 and max of a few longer
 * edits), status edits per minute per job against the cadence, 20 concurrent conversations on 1
 * worker (all done, no broken platform rule), and the bot's RSS before and after. Few steps per
 * job, so it runs in a few minutes; compare figures within one run. Then the bot tier (issue 16):
 * the bot's RSS over 200 conversations, Slack's chat.update calls per minute in one workspace with
 * 20 live statuses (Tier 3: 50), and two `gas discord` processes on one token, the leader killed
 * (SIGKILL) mid-edit: how soon the other edits the status and holds the gateway. Then the check step on
 * Discord (GAS_CHECK_MASKS=always, the two-dogs scene): grounding done → masks with Go shown, a fix
 * reply → updated masks, and the GPU time spent on a job cancelled at its check. The other phases
 * run with GAS_CHECK_MASKS=never, so their figures stay those of an edit without a check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { connectRedis, deleteKeysWithPrefix } from '../src/jobs/redis.js';
import { demoScenePng, twoDogsScenePng } from '../src/cli/demo-scene.js';
import { JobEvents } from '../src/jobs/job-events.js';
import { redisKeys } from '../src/jobs/keys.js';
import type { JobEvent } from '../src/jobs/contracts.js';
import { buildColourWorld, COLOUR_WORLD_VARIANTS, isCurrentColourWorld } from '../models/colour-world/build.js';
import { buildColourWorldDetector, isCurrentColourWorldDetector } from '../models/colour-world/detector.js';
import { colourWorldBundleDir, colourWorldDetectorDir } from '../models/colour-world/paths.js';
import { startFakeDiscord, type FakeDiscord } from '../test/fakes/discord/index.js';
import { startFakeSlack, type FakeSlack } from '../test/fakes/slack/index.js';

const REQUEST = 'turn the dog into a tiger and the grass into snow';
/** Discord's default cadence in the bot (DISCORD_EDIT_INTERVAL_MS). */
const EDIT_INTERVAL_MS = 2500;
/** Slack's default cadence in the bot (SLACK_EDIT_INTERVAL_MS). */
const SLACK_EDIT_INTERVAL_MS = 1500;
/** Slack: a few longer edits, so each status message is updated often enough to measure the cadence. */
const SLACK_LONG_RUNS = Number(process.env.BENCH_SLACK_LONG_RUNS ?? 2);
const SLACK_LONG_STEPS = 1200;
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 20);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 20);
const STEPS = 10;
const MASK_RUNS = Number(process.env.BENCH_MASK_RUNS ?? 5);
const MASK_STEPS = 800;
const CHECK_RUNS = Number(process.env.BENCH_CHECK_RUNS ?? 5);
/** Conversations over which the bot's RSS is read, in batches at once. */
const MANY = Number(process.env.BENCH_MANY ?? 200);
const MANY_BATCH = 50;
/** Slack: live statuses in one workspace, each edit long enough that all are live for over a minute. */
const SLACK_LIVE = Number(process.env.BENCH_SLACK_LIVE ?? 20);
const SLACK_LIVE_STEPS = 1200;
/** Slack's chat.update limit per workspace (Tier 3, docs.slack.dev/apis/web-api/rate-limits). */
const SLACK_TIER3_PER_MINUTE = 50;
const TAKEOVER_RUNS = Number(process.env.BENCH_TAKEOVER_RUNS ?? 3);
const TAKEOVER_STEPS = 6000;
const DEADLINE_MS = 240_000;

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

interface Child {
  process: ChildProcess;
  output: () => string;
}

function spawnGas(args: string[], env: Record<string, string>): Child {
  let output = '';
  // Bursts of one person's requests are the bench's load, not abuse: the per-person hold limit is lifted.
  const child = spawn(process.execPath, [resolve('dist/src/cli.js'), ...args], { env: { ...process.env, LOG_LEVEL: 'info', GAS_MAX_HELD_PER_USER: '1000', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { process: child, output: () => output };
}

async function until<T>(what: string, check: () => T | undefined | false, child?: Child, timeoutMs = DEADLINE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${child ? `\n${child.output()}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Status writes of one message: successful PATCHes, webhook or channel route. */
const writesOf = (fake: FakeDiscord, id: string) => fake.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/messages/${id}`) && r.status === 200);
const isDone = (fake: FakeDiscord, id: string) => /\nDone in /.test(fake.message(id)?.content ?? '');

async function rssOf(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1]);
}

type Row = [string, string, string];

/** Prints one platform's table; the fake's record after it when a rule was broken. */
function printTable(title: string, rows: Row[], violations: string | undefined): void {
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length), ['measure', 'figure', 'target'][c].length));
  const line = (r: readonly string[]) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  console.log(title);
  console.log(line(['measure', 'figure', 'target']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  if (violations) console.log(violations);
  console.log('');
}

/** Over every status message of a run: the most writes of one message in any 60 s window, and the closest two writes of one message. */
function cadenceOf(times: number[][]): { maxPerMinute: number; minGap: number } {
  let maxPerMinute = 0;
  let minGap = Infinity;
  for (const writes of times) {
    for (let i = 0; i < writes.length; i++) {
      if (i > 0) minGap = Math.min(minGap, writes[i] - writes[i - 1]);
      maxPerMinute = Math.max(maxPerMinute, writes.filter((t) => t >= writes[i] && t < writes[i] + 60_000).length);
    }
  }
  return { maxPerMinute, minGap };
}

/** Stops a child process and waits for it to exit. */
async function stop(child: Child): Promise<void> {
  const exited = new Promise((r) => (child.process.exitCode !== null ? r(null) : child.process.on('exit', r)));
  child.process.kill('SIGTERM');
  await exited;
}

/** A colour-world `gas worker` on `prefix` (with a default step count for requests that give none), once its models are loaded. */
async function startWorker(prefix: string, steps?: number): Promise<Child> {
  const worker = spawnGas(['worker'], { GAS_PREFIX: prefix, ...(steps !== undefined ? { GAS_STEPS: String(steps) } : {}) });
  await until('the worker to load its models', () => worker.output().includes('models loaded'), worker);
  return worker;
}

/** A `gas discord` on the fake Discord; checks off unless `extra` says otherwise. */
const discordEnv = (fake: FakeDiscord, prefix: string, extra: Record<string, string> = {}) => ({
  GAS_PREFIX: prefix,
  DISCORD_TOKEN: fake.token,
  DISCORD_APP_ID: fake.applicationId,
  DISCORD_API_URL: fake.apiUrl,
  DISCORD_EDIT_INTERVAL_MS: String(EDIT_INTERVAL_MS),
  GAS_CHECK_MASKS: 'never',
  ...extra,
});

/** A bot process serving /metrics on a free port, once it serves edits: the process and that port. */
async function startBot(platform: 'discord' | 'slack', env: Record<string, string>): Promise<{ bot: Child; port: number }> {
  const bot = spawnGas([platform, '--ops-port', '0'], env);
  const port = await until(`the ${platform} bot to serve /metrics`, () => Number(/"port":(\d+)[^\n]*serving \/healthz/.exec(bot.output())?.[1]), bot);
  await until(`the ${platform} bot to connect`, () => bot.output().includes('serving edits'), bot);
  return { bot, port };
}

async function benchDiscord(prefix: string): Promise<void> {
  const fake = await startFakeDiscord();
  const { bot, port } = await startBot('discord', discordEnv(fake, prefix));
  const rows: Row[] = [];
  let worker: Child | undefined;
  try {
    worker = await startWorker(prefix);
    const scene = { name: 'scene.png', data: await demoScenePng(), contentType: 'image/png' };
    const rssBefore = await rssOf(port);

    // 1. Interaction → defer: edits sent one after another (each once the previous one's status is up).
    const defers: number[] = [];
    const firstBatch: string[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const known = new Set(fake.messages(fake.channelId).map((m) => m.id));
      const sentAt = Date.now();
      const { id } = fake.slashCommand({ user: fake.users.alice, options: { image: scene, request: REQUEST, steps: STEPS } });
      const callback = await until('the defer', () => fake.requests.find((r) => r.path.startsWith(`/interactions/${id}/`)), bot);
      defers.push(callback.at - sentAt);
      const status = await until('the status message', () => fake.messages(fake.channelId).find((m) => !known.has(m.id) && m.components.length > 0), bot);
      firstBatch.push(status.id);
    }
    await until('the first results', () => firstBatch.every((id) => isDone(fake, id)), bot);

    // Interaction → masks on screen, one conversation at a time, on an idle queue. The edits are
    // long enough to outlast the first edit interval; a shorter one goes straight to its result.
    const masks: number[] = [];
    for (let i = 0; i < MASK_RUNS; i++) {
      const known = new Set(fake.messages(fake.channelId).map((m) => m.id));
      const sentAt = Date.now();
      fake.slashCommand({ user: fake.users.alice, options: { image: scene, request: REQUEST, steps: MASK_STEPS } });
      const status = await until('the status message', () => fake.messages(fake.channelId).find((m) => !known.has(m.id)), bot);
      const shown = await until('the masks', () => writesOf(fake, status.id).find((r) => r.files.some((f) => f.name === 'masks.png')), bot);
      masks.push(shown.at - sentAt);
      await until('the result', () => isDone(fake, status.id), bot);
    }
    rows.push(['interaction → defer', `p50 ${quantile(defers, 0.5)} ms, p95 ${quantile(defers, 0.95)} ms (${SEQUENTIAL} edits of ${STEPS} steps)`, 'p95 < 150 ms']);
    rows.push(['interaction → masks shown', `p50 ${quantile(masks, 0.5)} ms, max ${Math.max(...masks)} ms (${MASK_RUNS} edits of ${MASK_STEPS} steps)`, `about one cadence (${EDIT_INTERVAL_MS} ms)`]);

    // 2. Conversations at once on one worker.
    const before = new Set(fake.messages(fake.channelId).map((m) => m.id));
    const users = [fake.users.alice, fake.users.bob, fake.users.carol];
    const started = Date.now();
    for (let i = 0; i < CONCURRENT; i++) fake.slashCommand({ user: users[i % users.length], options: { image: scene, request: REQUEST, steps: STEPS } });
    const statuses = await until(`${CONCURRENT} status messages`, () => {
      const fresh = fake.messages(fake.channelId).filter((m) => !before.has(m.id));
      return fresh.length >= CONCURRENT && fresh;
    }, bot);
    await until(`${CONCURRENT} results`, () => statuses.every((m) => isDone(fake, m.id)), bot);
    const took = Date.now() - started;
    // Over every status message of the run (the long edits of the masks phase included): the most
    // edits of one message in any 60 s window, and the closest two edits of one message.
    const { maxPerMinute, minGap } = cadenceOf(fake.messages(fake.channelId).map((message) => writesOf(fake, message.id).map((r) => r.at)));
    const limit = 60_000 / EDIT_INTERVAL_MS;
    rows.push(['status edits per job', `at most ${maxPerMinute} in a minute; closest two ${minGap} ms apart`, `≤ ${limit} per minute, ≥ ${EDIT_INTERVAL_MS} ms apart`]);
    rows.push([`${CONCURRENT} conversations, 1 worker`, `${statuses.filter((m) => isDone(fake, m.id)).length}/${CONCURRENT} done in ${(took / 1000).toFixed(1)} s; rule violations: ${fake.violations.length === 0 ? 'none' : fake.violations.map((v) => v.rule).join(', ')}`, 'all done, none']);
    const rssAfter = await rssOf(port);
    rows.push(['bot RSS', `${mib(rssBefore)} before, ${mib(rssAfter)} after (${(((rssAfter - rssBefore) / rssBefore) * 100).toFixed(1)}%)`, '']);

    // 3. Many conversations, in batches at once: the bot's memory must not grow with the conversations it has had.
    const rssByBatch: number[] = [];
    for (let done = 0; done < MANY; done += MANY_BATCH) {
      const known = new Set(fake.messages(fake.channelId).map((m) => m.id));
      for (let i = 0; i < MANY_BATCH; i++) fake.slashCommand({ user: users[i % users.length], options: { image: scene, request: REQUEST, steps: STEPS } });
      const batch = await until(`${MANY_BATCH} status messages`, () => {
        const fresh = fake.messages(fake.channelId).filter((m) => !known.has(m.id) && m.components.length > 0);
        return fresh.length >= MANY_BATCH && fresh;
      }, bot);
      await until(`${MANY_BATCH} results`, () => batch.every((m) => isDone(fake, m.id)), bot);
      rssByBatch.push(await rssOf(port));
    }
    const growth = ((rssByBatch.at(-1)! - rssByBatch[0]) / rssByBatch[0]) * 100;
    rows.push([
      `bot RSS over ${MANY} more conversations`,
      `${rssByBatch.map((rss, i) => `${(i + 1) * MANY_BATCH}: ${mib(rss)}`).join(', ')} (${growth >= 0 ? '+' : ''}${growth.toFixed(1)}% from the first batch to the last)`,
      'flat (within 10%)',
    ]);

    printTable(`Discord bot on the fake Discord (loopback), 1 colour-world worker, ${STEPS}-step edits, cadence ${EDIT_INTERVAL_MS} ms (${process.arch}, ${process.version})`, rows, fake.violations.length > 0 ? fake.describe() : undefined);
  } finally {
    await Promise.all([bot, ...(worker ? [worker] : [])].map(stop));
    await fake.close();
  }
}

/** The Slack bot's status messages in #general (not its file shares), by thread. */
const slackStatuses = (fake: FakeSlack) => fake.messages(fake.channels.general).filter((m) => m.user === fake.botUserId && m.subtype === undefined && m.thread_ts !== undefined);
const slackIsDone = (fake: FakeSlack, thread: string) => slackStatuses(fake).some((m) => m.thread_ts === thread && /\nDone in /.test(m.text));
/** Status writes of one Slack message: its post (the thread's first post: the line that opens the thread comes after it) and each successful chat.update. */
const slackWritesOf = (fake: FakeSlack, ts: string, thread: string) => {
  const post = fake.requests.find((r) => r.error === undefined && r.method === 'chat.postMessage' && r.params.thread_ts === thread);
  return [...(post ? [post] : []), ...fake.requests.filter((r) => r.error === undefined && r.method === 'chat.update' && r.params.ts === ts)];
};

async function benchSlack(prefix: string): Promise<void> {
  const fake = await startFakeSlack();
  const { bot, port } = await startBot('slack', {
    GAS_PREFIX: prefix,
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_APP_TOKEN: fake.appToken,
    SLACK_API_URL: fake.apiUrl,
    SLACK_EDIT_INTERVAL_MS: String(SLACK_EDIT_INTERVAL_MS),
    GAS_CHECK_MASKS: 'never',
  });
  const rows: Row[] = [];
  const general = fake.channels.general;
  const mention = (user: string, scene: Buffer) => fake.postMessage({ user, channel: general, text: `<@${fake.botUserId}> ${REQUEST}`, files: [{ name: 'scene.png', data: scene }] });
  const firstReply = (thread: string) => fake.requests.find((r) => r.method === 'chat.postMessage' && r.error === undefined && r.params.thread_ts === thread);
  let worker: Child | undefined;
  try {
    const scene = await demoScenePng();
    const rssBefore = await rssOf(port);

    // 1. A few longer edits, one at a time, so each status message is updated many times. A Slack
    // request carries no step count: the worker's default decides, so this phase has its own worker.
    worker = await startWorker(prefix, SLACK_LONG_STEPS);
    for (let i = 0; i < SLACK_LONG_RUNS; i++) {
      const { ts } = mention(fake.users.alice, scene);
      await until('a long result', () => slackIsDone(fake, ts), bot);
    }
    await stop(worker);
    worker = await startWorker(prefix, STEPS);

    // 2. Event → first thread reply (the status message): mentions one after another, each once
    // the previous one's status is up.
    const replies: number[] = [];
    const threads: string[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const sentAt = Date.now();
      const { ts } = mention(fake.users.alice, scene);
      replies.push((await until('the first thread reply', () => firstReply(ts), bot)).at - sentAt);
      threads.push(ts);
    }
    await until('the first results', () => threads.every((t) => slackIsDone(fake, t)), bot);
    rows.push(['event → first thread reply', `p50 ${quantile(replies, 0.5)} ms, p95 ${quantile(replies, 0.95)} ms (${SEQUENTIAL} edits of ${STEPS} steps)`, 'p95 < 1 s']);

    // 3. Conversations at once on one worker.
    const users = [fake.users.alice, fake.users.bob];
    const started = Date.now();
    const concurrent = Array.from({ length: CONCURRENT }, (_, i) => mention(users[i % users.length], scene).ts);
    await until(`${CONCURRENT} results`, () => concurrent.every((t) => slackIsDone(fake, t)), bot);
    const took = Date.now() - started;

    const { maxPerMinute, minGap } = cadenceOf(slackStatuses(fake).map((m) => slackWritesOf(fake, m.ts, m.thread_ts!).map((r) => r.at)));
    const limit = Math.floor(60_000 / SLACK_EDIT_INTERVAL_MS);
    rows.push(['chat.update per job', `at most ${maxPerMinute} writes (post + updates) in a minute; closest two ${minGap} ms apart`, `≤ ${limit} per minute, ≥ ${SLACK_EDIT_INTERVAL_MS} ms apart`]);
    const done = concurrent.filter((t) => slackIsDone(fake, t)).length;
    rows.push([`${CONCURRENT} conversations, 1 worker`, `${done}/${CONCURRENT} done in ${(took / 1000).toFixed(1)} s; rule violations: ${fake.violations.length === 0 ? 'none' : [...new Set(fake.violations.map((v) => v.rule))].join(', ')}`, 'all done, none']);
    const rssAfter = await rssOf(port);
    rows.push(['bot RSS', `${mib(rssBefore)} before, ${mib(rssAfter)} after (${(((rssAfter - rssBefore) / rssBefore) * 100).toFixed(1)}%)`, '']);

    // 4. Many statuses live at once in one workspace, for over a minute: their updates share Slack's
    // Tier 3 budget (the flow's edit budget in Redis), so the workspace never draws a 429.
    await stop(worker);
    worker = await startWorker(prefix, SLACK_LIVE_STEPS);
    const liveFrom = Date.now();
    const live = Array.from({ length: SLACK_LIVE }, (_, i) => mention(users[i % users.length], scene).ts);
    await until(`${SLACK_LIVE} long results`, () => live.every((t) => slackIsDone(fake, t)), bot, 10 * DEADLINE_MS);
    const liveFor = Date.now() - liveFrom;
    const updates = fake.requests.filter((r) => r.method === 'chat.update' && r.at >= liveFrom);
    const made = updates.filter((r) => r.error === undefined).map((r) => r.at);
    const perMinute = Math.max(0, ...made.map((t) => made.filter((u) => u >= t && u < t + 60_000).length));
    const refused = updates.filter((r) => r.error === 'ratelimited').length;
    rows.push([
      `chat.update in the workspace, ${SLACK_LIVE} live statuses`,
      `at most ${perMinute} in a minute over ${(liveFor / 1000).toFixed(0)} s (${made.length} in all); ${refused} refused with 429`,
      `≤ ${SLACK_TIER3_PER_MINUTE} a minute, none refused`,
    ]);
    printTable(`Slack bot on the fake Slack (Socket Mode, loopback), 1 colour-world worker, ${STEPS}-step edits (${SLACK_LONG_RUNS} of ${SLACK_LONG_STEPS} first), cadence ${SLACK_EDIT_INTERVAL_MS} ms (${process.arch}, ${process.version})`, rows, fake.violations.length > 0 ? fake.describe() : undefined);
  } finally {
    await Promise.all([bot, ...(worker ? [worker] : [])].map(stop));
    await fake.close();
  }
}

/**
 * Two `gas discord` processes on one token and Redis: the one holding the gateway (and following
 * the status it posted) is killed with SIGKILL mid-edit; how soon the other edits that status, and
 * how soon it holds the gateway (a new IDENTIFY). The killed one comes back standing by, and the
 * next run kills the other.
 */
async function benchTakeover(prefix: string): Promise<void> {
  const fake = await startFakeDiscord();
  const env = discordEnv(fake, prefix, { GAS_MAX_STEPS: String(TAKEOVER_STEPS) });
  const rows: Row[] = [];
  let leader = (await startBot('discord', env)).bot;
  let standby = spawnGas(['discord'], env);
  let worker: Child | undefined;
  try {
    await until('the second bot to stand by', () => standby.output().includes('standing by'), standby);
    worker = await startWorker(prefix);
    const scene = { name: 'scene.png', data: await demoScenePng(), contentType: 'image/png' };
    const statusTakeovers: number[] = [];
    const gatewayTakeovers: number[] = [];
    for (let i = 0; i < TAKEOVER_RUNS; i++) {
      const known = new Set(fake.messages(fake.channelId).map((m) => m.id));
      fake.slashCommand({ user: fake.users.alice, options: { image: scene, request: REQUEST, steps: TAKEOVER_STEPS } });
      const status = await until('the status message', () => fake.messages(fake.channelId).find((m) => !known.has(m.id) && m.components.length > 0), leader);
      await until('a progress edit', () => writesOf(fake, status.id).some((r) => r.files.some((f) => f.name === 'preview.png')), leader);
      const identifies = fake.identified.length;
      const killedAt = Date.now();
      const exited = new Promise((r) => leader.process.on('exit', r));
      leader.process.kill('SIGKILL');
      await exited;
      const edited = await until('the status edited by the other bot', () => writesOf(fake, status.id).find((r) => r.at > killedAt), standby);
      await until('the gateway held by the other bot', () => fake.identified.length > identifies, standby);
      gatewayTakeovers.push(Date.now() - killedAt);
      statusTakeovers.push(edited.at - killedAt);
      await until('the result', () => isDone(fake, status.id), standby, 2 * DEADLINE_MS);
      // The survivor leads now; the killed one comes back and stands by.
      [leader, standby] = [standby, spawnGas(['discord'], env)];
      await until('the restarted bot to stand by', () => standby.output().includes('standing by'), standby);
    }
    rows.push(['SIGKILL of the leading bot → status edited by the other', `p50 ${quantile(statusTakeovers, 0.5)} ms, max ${Math.max(...statusTakeovers)} ms (${TAKEOVER_RUNS} kills mid-edit)`, '≤ 10 s']);
    rows.push(['SIGKILL of the leading bot → gateway held by the other', `p50 ${quantile(gatewayTakeovers, 0.5)} ms, max ${Math.max(...gatewayTakeovers)} ms; rule violations: ${fake.violations.length === 0 ? 'none' : fake.violations.map((v) => v.rule).join(', ')}`, '≤ 15 s, none']);
    printTable(`Two Discord bots on one token and the fake Discord (loopback), 1 colour-world worker, ${TAKEOVER_STEPS}-step edits (${process.arch}, ${process.version})`, rows, fake.violations.length > 0 ? fake.describe() : undefined);
  } finally {
    await Promise.all([leader, standby, ...(worker ? [worker] : [])].map(stop));
    await fake.close();
  }
}

/** The check step on Discord: how soon the masks with Go show, how soon a fix shows, and the GPU time of a job cancelled at its check. */
async function benchCheck(prefix: string): Promise<void> {
  const fake = await startFakeDiscord();
  const bot = spawnGas(['discord'], discordEnv(fake, prefix, { GAS_CHECK_MASKS: 'always' }));
  const redis = connectRedis();
  const events = new JobEvents(redis, redisKeys(prefix));
  const rows: Row[] = [];
  let worker: Child | undefined;
  try {
    worker = await startWorker(prefix, STEPS);
    await until('the bot to connect', () => bot.output().includes('serving edits'), bot);
    const scene = { name: 'dogs.png', data: await twoDogsScenePng(), contentType: 'image/png' };
    const jobIdOf = (content: { components: Array<{ components: Array<{ custom_id?: string }> }> }) =>
      content.components.flatMap((row) => row.components.map((c) => /^gas:[a-z]+:(.+)$/.exec(c.custom_id ?? '')?.[1])).find(Boolean);
    const history = (jobId: string) => events.history(jobId);
    const eventOf = async (jobId: string, test: (e: JobEvent) => boolean, what: string) => {
      const deadline = Date.now() + DEADLINE_MS;
      for (;;) {
        const found = (await history(jobId)).find(test);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${DEADLINE_MS / 1000} s\n${bot.output()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const startCheck = async () => {
      const known = new Set(fake.messages(fake.channelId).map((m) => m.id));
      fake.slashCommand({ user: fake.users.alice, options: { image: scene, request: 'turn the dog into a tiger', steps: STEPS } });
      const status = await until('the status message', () => fake.messages(fake.channelId).find((m) => !known.has(m.id) && jobIdOf(m)), bot);
      const jobId = jobIdOf(status)!;
      const checking = await eventOf(jobId, (e) => e.type === 'checking', 'the check');
      const shown = await until('the masks with Go', () => writesOf(fake, status.id).find((r) => JSON.stringify(r.json?.components ?? []).includes(`gas:go:${jobId}`) && r.files.some((f) => f.name === 'masks.png')), bot);
      const planned = (await history(jobId)).find((e) => e.type === 'planned')!;
      return { status, jobId, goShownMs: shown.at - checking.at, groundingMs: checking.at - planned.at };
    };

    const goShown: number[] = [];
    const fixShown: number[] = [];
    const grounding: number[] = [];
    const cancelled: { iterations: number; stages: number }[] = [];
    for (let i = 0; i < CHECK_RUNS; i++) {
      const run = await startCheck();
      goShown.push(run.goShownMs);
      grounding.push(run.groundingMs);
      // A fix by a reply in the thread (mentioning the bot): the masks of the left dog alone.
      const sentAt = Date.now();
      fake.postMessage({ user: fake.users.alice, channelId: run.status.id, content: `<@${fake.users.bot.id}> 1 is the dog on the left`, mentions: [fake.users.bot] });
      const fixed = await until('the fixed masks', () => writesOf(fake, run.status.id).find((r) => r.at >= sentAt && String(r.json?.content ?? '').includes('(1 of the 2 found)')), bot);
      fixShown.push(fixed.at - sentAt);
      // Cancelled at its check: no edit stage, no iteration.
      fake.pressButton({ user: fake.users.alice, messageId: run.status.id, customId: `gas:cancel:${run.jobId}` });
      await eventOf(run.jobId, (e) => e.type === 'cancelled', 'the cancellation');
      const all = await history(run.jobId);
      const iterations = Math.max(0, ...all.flatMap((e) => (e.type === 'progress' ? [e.iteration] : [])));
      const stages = (await redis.keys(`${prefix}:bull:edits:${run.jobId}-go-*`)).length;
      cancelled.push({ iterations, stages });
    }
    const cadence = `one cadence (${EDIT_INTERVAL_MS} ms)`;
    rows.push(['grounding done → masks with Go shown', `p50 ${quantile(goShown, 0.5)} ms, max ${Math.max(...goShown)} ms (${CHECK_RUNS} checks)`, `≤ ${cadence}`]);
    rows.push([
      'fix reply → updated masks',
      `p50 ${quantile(fixShown, 0.5)} ms, max ${Math.max(...fixShown)} ms; grounding p50 ${quantile(grounding, 0.5)} ms`,
      `≤ one cadence + grounding (${EDIT_INTERVAL_MS + quantile(grounding, 0.5)} ms)`,
    ]);
    const spent = cancelled.reduce((sum, c) => sum + c.iterations, 0);
    const stages = cancelled.reduce((sum, c) => sum + c.stages, 0);
    rows.push(['GPU time of a job cancelled at its check', `${spent === 0 && stages === 0 ? '0 s' : 'more than 0 s'} (${spent} iterations, ${stages} edit stages, ${CHECK_RUNS} jobs)`, '0 s']);
    printTable(`The check step on the fake Discord (loopback), 1 colour-world worker, cadence ${EDIT_INTERVAL_MS} ms (${process.arch}, ${process.version})`, rows, fake.violations.length > 0 ? fake.describe() : undefined);
  } finally {
    await Promise.all([bot, ...(worker ? [worker] : [])].map(stop));
    redis.disconnect();
    await fake.close();
  }
}

async function main(): Promise<void> {
  if (!isCurrentColourWorld(colourWorldBundleDir(), COLOUR_WORLD_VARIANTS.standard)) buildColourWorld(colourWorldBundleDir(), COLOUR_WORLD_VARIANTS.standard);
  if (!isCurrentColourWorldDetector(colourWorldDetectorDir())) buildColourWorldDetector(colourWorldDetectorDir());
  const platforms = (process.env.BENCH_PLATFORMS ?? 'discord,slack,takeover,check').split(',').map((p) => p.trim());
  const prefix = `gas-bench-chat-${process.pid}`;
  try {
    if (platforms.includes('discord')) await benchDiscord(prefix);
    if (platforms.includes('slack')) await benchSlack(prefix);
    if (platforms.includes('takeover')) await benchTakeover(`${prefix}-takeover`);
    if (platforms.includes('check')) await benchCheck(`${prefix}-check`);
  } finally {
    const redis = connectRedis();
    for (const phase of ['', '-takeover', '-check']) await deleteKeysWithPrefix(redis, `${prefix}${phase}`);
    redis.disconnect();
  }
}

await main();
