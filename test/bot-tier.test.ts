/**
 * The bot tier scales out and survives a crash: several bot processes on one Redis and one bot
 * token. Only one holds the Discord gateway (the others stand by); every status message is
 * followed by the one process holding its lease; kill -9 the process that holds both in the
 * middle of a job, and the other takes the gateway and the status over, rendering each event
 * once and the result once. Real discord.js in real `gas discord` processes, against the fake.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodePng } from '../src/image/decode.js';
import { sceneImage } from './helpers/colour-world.js';
import { discordBotHarness, isFinalWrite, iterationOf, jobIdOf, spawnDiscordBot, stateLine, statusWrites, type DiscordBotHarness } from './helpers/discord-bot.js';
import { opsPortIn, type GasChild } from './helpers/gas-process.js';
import { startPrivateRedis, type PrivateRedis } from './helpers/private-redis.js';
import { REQUEST } from './helpers/queue.js';
import { spawnGas } from './helpers/gas-process.js';

const photo = async () => ({ name: 'scene.png', data: await encodePng(await sceneImage()), contentType: 'image/png' });
const health = async (port: number) => (await fetch(`http://127.0.0.1:${port}/healthz`)).json() as Promise<Record<string, string>>;

describe('two bot processes on one token', { timeout: 300_000 }, () => {
  let bot: DiscordBotHarness | undefined;
  const running: GasChild[] = [];
  afterEach(async () => {
    for (const r of running.splice(0)) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
    await bot?.close();
    bot = undefined;
  });

  it('one holds the gateway and the status; killed with SIGKILL mid-job, the other takes both over and finishes the status, each event once, the result once', async () => {
    bot = await discordBotHarness({ worker: {} });
    await bot.stopBot(); // this test runs the bots as processes
    const { fake, prefix } = bot;
    running.push(spawnDiscordBot(fake, prefix, ['discord', '--ops-port', '0']));
    const output = () => running.map((r, i) => `--- bot process ${i + 1} ---\n${r.output()}`).join('\n');
    await fake.waitFor(() => running[0].output().includes('serving edits'), { describe: `the first bot process to connect\n${output()}`, timeoutMs: 60_000 });
    running.push(spawnDiscordBot(fake, prefix, ['discord', '--ops-port', '0']));
    await fake.waitFor(() => running[1].output().includes('standing by'), { describe: `the second bot process to stand by\n${output()}`, timeoutMs: 60_000 });
    const [firstPort, secondPort] = [opsPortIn(running[0].output())!, opsPortIn(running[1].output())!];
    expect(await health(firstPort), output()).toEqual({ redis: 'up', discord: 'connected', status: 'ok' });
    expect(await health(secondPort), output()).toEqual({ redis: 'up', discord: 'standby', status: 'ok' });
    // One gateway session only: two would each receive every interaction.
    expect(fake.gatewaySessions(), output()).toBe(1);

    fake.slashCommand({ user: fake.users.alice, options: { image: await photo(), request: REQUEST, steps: 1000 } });
    const status = await fake.waitFor(() => fake.messages(fake.channelId).find((m) => jobIdOf(m)), { describe: `the status message\n${output()}`, timeoutMs: 30_000 });
    await fake.waitFor(() => statusWrites(fake, status.id).some((w) => /^Editing · /.test(stateLine(w.content))), { describe: `progress\n${output()}`, timeoutMs: 60_000 });
    const jobId = jobIdOf(status)!;
    const metrics = await (await fetch(`http://127.0.0.1:${firstPort}/metrics`)).text();
    expect(metrics, output()).toContain('gas_status_leases{platform="discord"} 1');
    expect(metrics).toContain('gas_platform_connection{platform="discord",role="leader"} 1');

    const killedAt = Date.now();
    running[0].child.kill('SIGKILL');
    await running[0].exited;
    expect(await bot.queue.queue.events.ended(jobId), 'the job ended before the bot was killed; give it more steps').toBe(false);
    const writesBefore = statusWrites(fake, status.id).length;

    // The status is taken over within its lease and a tick (the target: 10 s), the gateway within 15 s.
    await fake.waitFor(() => statusWrites(fake, status.id).length > writesBefore, { describe: `a write by the second process\n${output()}`, timeoutMs: 60_000 });
    const statusTakeoverMs = statusWrites(fake, status.id)[writesBefore].at - killedAt;
    await fake.waitFor(() => (running[1].output().match(/serving edits/g) ?? []).length === 1, { describe: `the second process to take the gateway\n${output()}`, timeoutMs: 60_000 });
    const gatewayTakeoverMs = Date.now() - killedAt;
    expect(statusTakeoverMs, output()).toBeLessThanOrEqual(10_000 + 2_000);
    expect(gatewayTakeoverMs, output()).toBeLessThanOrEqual(15_000 + 3_000);
    expect(await health(secondPort), output()).toEqual({ redis: 'up', discord: 'connected', status: 'ok' });

    const final = await fake.waitFor(() => statusWrites(fake, status.id).some(isFinalWrite) && fake.message(status.id), { describe: `the result after the takeover\n${output()}`, timeoutMs: 180_000 });
    const writes = statusWrites(fake, status.id);
    const transcript = `${writes.map((w, i) => `  ${i === writesBefore ? '(takeover) ' : ''}${w.content.replace(/\n/g, ' | ')}`).join('\n')}\n${output()}`;
    expect(writes.filter(isFinalWrite), transcript).toHaveLength(1);
    // Each event once: no content twice, and the progress never goes back.
    expect(new Set(writes.map((w) => w.content)).size, transcript).toBe(writes.length);
    const iterations = writes.map((w) => iterationOf(w.content)).filter(Number.isFinite);
    expect(iterations.every((n, i) => i === 0 || n > iterations[i - 1]), transcript).toBe(true);
    // The result once: one write carries it.
    expect(writes.filter((w) => w.files.includes('edit.png')), transcript).toHaveLength(1);
    expect(final.attachments.map((a) => a.filename)).toEqual(['edit.png']);
    expect(fake.violations, fake.describe()).toEqual([]);
    if (process.env.DEBUG_E2E) console.log(`takeover after SIGKILL: status ${statusTakeoverMs} ms, gateway ${gatewayTakeoverMs} ms`);
  });
});

describe('a bot process without Redis', { timeout: 120_000 }, () => {
  let redis: PrivateRedis | undefined;
  let bot: DiscordBotHarness | undefined;
  let child: GasChild | undefined;
  afterEach(async () => {
    child?.child.kill('SIGKILL');
    await child?.exited;
    await redis?.stop();
    await bot?.close();
  });

  it('says so in one line, keeps retrying, and serves once Redis is back', async () => {
    bot = await discordBotHarness({ worker: false });
    await bot.stopBot();
    redis = await startPrivateRedis();
    await redis.shutdown();
    const { fake } = bot;
    child = spawnGas(['discord', '--ops-port', '0'], {
      REDIS_URL: redis.url, GAS_PREFIX: bot.prefix, DISCORD_TOKEN: fake.token, DISCORD_APP_ID: fake.applicationId, DISCORD_API_URL: fake.apiUrl, LOG_LEVEL: 'info',
    });
    // Long enough for many reconnection attempts (every 2 s at most): still one line about it.
    await new Promise((r) => setTimeout(r, 6000));
    const lines = child.output().split('\n').filter((l) => l.includes('Cannot reach Redis'));
    expect(child.child.exitCode, child.output()).toBe(null);
    expect(lines, child.output()).toHaveLength(1);
    expect(JSON.parse(lines[0]).error).toBe(`Cannot reach Redis at 127.0.0.1:${redis.port}. Is it running? Set REDIS_URL to where it is.`);
    expect(child.output()).not.toMatch(/\n\s+at |Unhandled/);
    await redis.restart();
    await fake.waitFor(() => child!.output().includes('serving edits'), { describe: `the bot to serve once Redis is back\n${child.output()}`, timeoutMs: 60_000 });
  });
});
