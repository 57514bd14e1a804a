/**
 * The bots as processes, on what only a process shows (issue 14, defect 12; issue 16): `/healthz`
 * notices a dropped Discord gateway or Slack Socket Mode connection within 30 s and recovers with
 * it, and `gas discord --shards 2` runs two shards, each identified as Discord's sharding says.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeDiscord, type FakeDiscord } from './fakes/discord/index.js';
import { startFakeSlack, type FakeSlack } from './fakes/slack/index.js';
import { spawnDiscordBot } from './helpers/discord-bot.js';
import { opsPortIn, type GasChild } from './helpers/gas-process.js';
import { uniquePrefix } from './helpers/queue.js';
import { spawnSlackBot } from './helpers/slack-process.js';

const running: GasChild[] = [];
let discord: FakeDiscord | undefined;
let slack: FakeSlack | undefined;

afterEach(async () => {
  for (const child of running.splice(0)) {
    child.child.kill('SIGKILL');
    await child.exited;
  }
  await discord?.close();
  await slack?.close();
  discord = undefined;
  slack = undefined;
});

async function health(port: number): Promise<[number, unknown]> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return [response.status, await response.json()];
}

/** Polls /healthz until it answers `status`; how long that took. */
async function healthBecomes(port: number, status: number, child: GasChild, timeoutMs: number): Promise<{ body: unknown; afterMs: number }> {
  const started = Date.now();
  for (;;) {
    const [code, body] = await health(port);
    if (code === status) return { body, afterMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`/healthz still answered ${code} ${JSON.stringify(body)} after ${timeoutMs} ms\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the bots as processes: /healthz and shards', { timeout: 180_000 }, () => {
  it('gas discord --shards 2: two shards identified as [0, 2] and [1, 2]; /healthz notices a dropped gateway within 30 s, and its return', async () => {
    discord = await startFakeDiscord();
    const bot = spawnDiscordBot(discord, uniquePrefix(), ['discord', '--shards', '2', '--ops-port', '0']);
    running.push(bot);
    const fake = discord;
    await fake.waitFor(() => bot.output().includes('serving edits') || bot.child.exitCode !== null, { describe: `the bot to connect\n${bot.output()}`, timeoutMs: 90_000 });
    expect(bot.child.exitCode, bot.output()).toBe(null);
    expect(fake.identified.map((s) => s.shard).sort(), bot.output()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    const port = opsPortIn(bot.output())!;
    expect(await health(port), bot.output()).toEqual([200, { redis: 'up', discord: 'connected (shards 0,1)', status: 'ok' }]);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('gas_shards{platform="discord",shard="0"} 1');
    expect(metrics).toContain('gas_shards{platform="discord",shard="1"} 1');

    fake.dropGateway();
    const down = await healthBecomes(port, 503, bot, 30_000);
    expect(down.body).toMatchObject({ discord: 'disconnected (shards 0,1)' });
    expect(down.afterMs).toBeLessThan(30_000);
    fake.restoreGateway();
    await healthBecomes(port, 200, bot, 60_000);
  });

  it('gas slack: /healthz notices a dropped Socket Mode connection within 30 s, and its return', async () => {
    slack = await startFakeSlack();
    const bot = spawnSlackBot(slack, uniquePrefix(), ['slack', '--ops-port', '0']);
    running.push(bot);
    const fake = slack;
    await fake.waitFor(() => bot.output().includes('serving edits') || bot.child.exitCode !== null, { describe: `the bot to connect\n${bot.output()}`, timeoutMs: 90_000 });
    const port = opsPortIn(bot.output())!;
    expect(await health(port), bot.output()).toEqual([200, { redis: 'up', slack: 'connected', status: 'ok' }]);

    fake.setSocketsAvailable(false);
    fake.dropSockets();
    const down = await healthBecomes(port, 503, bot, 30_000);
    expect(down.body).toMatchObject({ slack: 'disconnected' });
    expect(down.afterMs).toBeLessThan(30_000);
    fake.setSocketsAvailable(true);
    await healthBecomes(port, 200, bot, 60_000);
  });
});
