/**
 * Adding a chat platform is a folder and a line in the registry: a stub third platform, defined
 * here as a newcomer would define adapters/stubchat/index.ts, gets `gas stubchat`, its
 * subcommands, `gas serve --stubchat`, its secret cut out of the logs, its variables in --help and
 * `gas config`, and its connection in /healthz, without a change anywhere else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PLATFORMS } from '../adapters/registry.js';
import { definePlatform } from '../src/chat/platform.js';
import type { ChatFlowHandlers } from '../src/chat/transport.js';
import { defineSection } from '../src/config/section.js';
import { main } from '../src/cli/program.js';
import type { CliIo } from '../src/cli/io.js';
import { encodePng } from '../src/image/decode.js';
import { DEFAULT_REDIS_URL, connectRedis, deleteKeysWithPrefix } from '../src/jobs/redis.js';
import { imageFile, RecordingTransport } from './helpers/chat-transport.js';
import { sceneImage } from './helpers/colour-world.js';
import { uniquePrefix } from './helpers/queue.js';

const TOKEN = 'stubchat-token-DO-NOT-LEAK';

/** The transports the stub platform made, so the test can play a person on them. */
const made: StubTransport[] = [];

class StubTransport extends RecordingTransport {
  override readonly platform = 'stubchat' as never;
  started?: ChatFlowHandlers;
  constructor(readonly token: string, intervalMs: number, readonly log: { info(o: object, m: string): void }) {
    super({ editIntervalMs: intervalMs });
  }
  override async start(handlers: ChatFlowHandlers): Promise<void> {
    await super.start(handlers);
    this.started = handlers;
    // A careless library would log its credentials: the process's logger must cut them out.
    this.log.info({ auth: `Bearer ${this.token}` }, `stubchat connected with ${this.token}`);
  }
  connected(): boolean {
    return this.started !== undefined;
  }
}

/** What a newcomer writes in adapters/stubchat/index.ts. */
const stubchat = definePlatform({
  name: 'stubchat',
  title: 'Stubchat',
  config: defineSection({
    name: 'stubchat',
    title: 'Stubchat settings',
    schema: z.object({ token: z.string({ error: 'STUBCHAT_TOKEN is required' }).min(1), editIntervalMs: z.number().int().min(10).default(50) }),
    variables: {
      token: { env: 'STUBCHAT_TOKEN', secret: true, description: 'the bot token (required)' },
      editIntervalMs: { env: 'STUBCHAT_EDIT_INTERVAL_MS', kind: 'number', description: 'least time between two edits of a status message' },
    },
  }),
  async createTransport(config, logger) {
    const transport = new StubTransport(config.token, config.editIntervalMs, logger);
    made.push(transport);
    return transport;
  },
  commands: [{ name: 'ping', description: 'says pong with the interval', options: [{ flags: '--times <n>', description: 'how often', default: '1' }], run: ({ flags, config }) => `pong×${flags.times} ${config().editIntervalMs}` }],
});

const platforms = [...PLATFORMS, stubchat];

function capture(): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, out: () => out, err: () => err };
}

async function until<T>(what: string, probe: () => T | undefined | false, io: { err: () => string }, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms\n--- stderr ---\n${io.err()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const opsPort = (stderr: string) => stderr.split('\n').filter((l) => l.includes('serving /healthz')).map((l) => (JSON.parse(l) as { port: number }).port)[0];

describe('a platform added to the registry', () => {
  const prefixes: string[] = [];
  afterEach(async () => {
    made.length = 0;
    const redis = connectRedis(DEFAULT_REDIS_URL);
    for (const prefix of prefixes.splice(0)) await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  it('lists its command and its variables in --help, runs its subcommand, and shows its settings in gas config with the secret hidden', async () => {
    const env = { STUBCHAT_TOKEN: TOKEN, STUBCHAT_EDIT_INTERVAL_MS: '75' };
    const help = capture();
    expect(await main(['--help'], help, { env, platforms })).toBe(0);
    expect(help.out()).toMatch(/^ {2}stubchat \[options\]/m);
    const own = capture();
    expect(await main(['stubchat', '--help'], own, { env, platforms })).toBe(0);
    expect(own.out()).toContain('STUBCHAT_TOKEN');
    expect(own.out()).toContain('STUBCHAT_EDIT_INTERVAL_MS');
    const serveHelp = capture();
    await main(['serve', '--help'], serveHelp, { env, platforms });
    expect(serveHelp.out()).toContain('--stubchat');
    const ping = capture();
    expect(await main(['stubchat', 'ping', '--times', '3'], ping, { env, platforms })).toBe(0);
    expect(ping.out()).toBe('pong×3 75\n');
    const config = capture();
    await main(['config'], config, { env, platforms });
    expect(config.out()).toMatch(/STUBCHAT_TOKEN\s+\[set, hidden\]/);
    expect(config.out()).not.toContain(TOKEN);
    const missing = capture();
    expect(await main(['stubchat', 'ping'], missing, { env: {}, platforms })).toBe(2);
    expect(missing.err()).toContain('Stubchat settings: STUBCHAT_TOKEN is required');
  });

  it('runs its bot with gas stubchat: /healthz names its connection, and its token never reaches the log', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const io = capture();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const exit = main(['stubchat', '--ops-port', '0', '--prefix', prefix], io, { env: { STUBCHAT_TOKEN: TOKEN, REDIS_URL: DEFAULT_REDIS_URL }, platforms, until: stopped });
    const port = await until('the ops port', () => opsPort(io.err()), io);
    await until('the bot to connect', () => io.err().includes('serving edits'), io);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect([health.status, await health.json()], io.err()).toEqual([200, { redis: 'up', stubchat: 'connected', status: 'ok' }]);
    expect(io.err()).toContain('stubchat connected with [redacted]');
    expect(io.err()).not.toContain(TOKEN);
    stop();
    expect(await exit, io.err()).toBe(0);
  });

  it('edits through gas serve --stubchat: a request on the new platform runs on the in-process worker to a final status', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const io = capture();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const exit = main(['serve', '--stubchat', '--prefix', prefix, '--steps', '20'], io, { env: { STUBCHAT_TOKEN: TOKEN, REDIS_URL: DEFAULT_REDIS_URL }, platforms, until: stopped });
    const transport = await until('the stub bot to start', () => made[0]?.started && made[0], io);
    await transport.edit({ user: 'u1', text: 'turn the dog into a tiger', image: imageFile(await encodePng(await sceneImage())), thread: 't1' });
    const status = await until('a status message', () => transport.posts()[0], io);
    const final = await until('the final status', () => transport.latest(status.message)?.final && transport.latest(status.message), io, 120_000);
    expect(final.text, transport.transcript()).toMatch(/\nDone in /);
    expect(final.images.map((i) => i.placement)).toContain('result');
    stop();
    expect(await exit, io.err()).toBe(0);
  });
});
