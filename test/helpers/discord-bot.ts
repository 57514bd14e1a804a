/**
 * The Discord bot end to end: the fake Discord, the real discord.js in a DiscordTransport, the
 * bot process's pieces (src/chat/bot-process.ts: one ChatFlow per transport on real Redis) and
 * an in-process colour-world worker on the same prefix. Also what a person saw of a status
 * message, read back from the fake's recorded requests.
 */
import { spawnGas, type GasChild } from './gas-process.js';
import { DiscordTransport } from '../../adapters/discord/transport.js';
import type { DiscordConfigInput } from '../../adapters/discord/config.js';
import { startBot, type RunningBot } from '../../src/chat/bot-process.js';
import type { ChatFlowConfig } from '../../src/chat/flow.js';
import { decodeImage, type RgbImage } from '../../src/image/decode.js';
import { DEFAULT_REDIS_URL } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/log.js';
import type { GpuWorkerConfig } from '../../gpu-worker/worker.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions, type RecordedRequest } from '../fakes/discord/index.js';
import type { WireMessage } from '../fakes/discord/world.js';
import { queueHarness, uniquePrefix, type QueueHarness } from './queue.js';

/** The fastest cadence the Discord settings allow: tests see several edits per job. */
export const EDIT_INTERVAL_MS = 1000;

/**
 * The flow's settings in these tests unless one says otherwise: no ping when an edit ends (a busy
 * machine would make short edits "long", and a ping is one more message in the thread), and room
 * for the very long edits tests cancel or interrupt.
 */
export const TEST_FLOW: Partial<ChatFlowConfig> = { notifyAfterMs: 3_600_000, maxSteps: 10_000 };

/** One successful write of a status message, as the fake received it. */
export interface StatusWrite {
  at: number;
  content: string;
  files: string[];
  buttons: string[];
}

export interface DiscordBotHarness {
  fake: FakeDiscord;
  /** The same Redis prefix as the bot: the worker runs here, and tests read the queue through it. */
  queue: QueueHarness;
  prefix: string;
  /** The bot's log lines (JSON). */
  logs: string[];
  /** Starts the bot (again, after `stopBot`: a restarted bot on the same Redis). */
  startBot(): Promise<void>;
  stopBot(): Promise<void>;
  /** The fake's requests and violations and the bot's log, for assertion messages. */
  report(): string;
  close(): Promise<void>;
}

export async function discordBotHarness(
  options: { fake?: FakeDiscordOptions; discord?: Partial<DiscordConfigInput>; worker?: Partial<GpuWorkerConfig> | false; prefix?: string; flow?: Partial<ChatFlowConfig> } = {},
): Promise<DiscordBotHarness> {
  const fake = await startFakeDiscord(options.fake);
  const prefix = options.prefix ?? uniquePrefix();
  const queue = await queueHarness({}, undefined, prefix);
  if (options.worker !== false) await queue.startWorker(options.worker ?? {});
  const logs: string[] = [];
  const logger = createLogger('discord-e2e', { level: 'info', destination: { write: (line: string) => void logs.push(line) } });
  let bot: RunningBot | undefined;
  const harness: DiscordBotHarness = {
    fake,
    queue,
    prefix,
    logs,
    async startBot() {
      const transport = new DiscordTransport(
        { token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl, editIntervalMs: EDIT_INTERVAL_MS, ...options.discord },
        logger.child({ platform: 'discord' }),
      );
      bot = await startBot({ redisUrl: DEFAULT_REDIS_URL, prefix, transports: [transport], logger, flow: { ...TEST_FLOW, ...options.flow }, shutdownTimeoutMs: 20_000 });
    },
    async stopBot() {
      await bot?.stop();
      bot = undefined;
    },
    report: () => `\n${fake.describe()}\n--- bot log ---\n${logs.join('')}`,
    async close() {
      await harness.stopBot().catch(() => {});
      await queue.close();
      await fake.close();
      // Every request the bot made must be one Discord's API description allows, whatever the test asserted.
      const offSpec = fake.violations.filter((v) => v.rule === 'spec');
      if (offSpec.length > 0) throw new Error(`requests Discord's API description refuses:\n${offSpec.map((v) => `  ${v.detail}`).join('\n')}`);
    },
  };
  await harness.startBot();
  return harness;
}

/** Every successful write (webhook or channel route) of one message, oldest first. */
export function statusWrites(fake: FakeDiscord, messageId: string): StatusWrite[] {
  return fake.requests
    .filter((r) => r.method === 'PATCH' && r.path.endsWith(`/messages/${messageId}`) && r.status === 200)
    .map((r: RecordedRequest) => ({
      at: r.at,
      content: typeof r.json?.content === 'string' ? r.json.content : '',
      files: r.files.map((f) => f.name),
      buttons: (r.json?.components ?? []).flatMap((row: { components: Array<{ custom_id?: string }> }) => row.components.map((c) => c.custom_id ?? '')),
    }));
}

/** The second line of a status ("Editing · 40/80 · …", "Done in …"): where the job stands. */
export const stateLine = (content: string) => content.split('\n')[1] ?? '';
export const isDone = (content: string) => /^Done in /.test(stateLine(content));
/** A status that can change no more: done, cancelled or failed (its buttons no longer offer Cancel). */
export const isFinalWrite = (write: StatusWrite) => write.buttons.length > 0 && !write.buttons.some((b) => b.startsWith('gas:cancel:'));
export const iterationOf = (content: string) => Number(/^Editing · (\d+)\//.exec(stateLine(content))?.[1] ?? NaN);

/** The job id a status message's buttons carry. */
export function jobIdOf(message: WireMessage | undefined): string | undefined {
  const ids: string[] = (message?.components ?? []).flatMap((row: { components: Array<{ custom_id?: string }> }) => row.components.map((c) => c.custom_id ?? ''));
  return ids.map((id) => /^gas:[a-z]+:(.+)$/.exec(id)?.[1]).find(Boolean);
}

/** What a status message offers: its buttons' labels, and a select menu's placeholder. */
export const buttonsOf = (message: WireMessage | undefined): string[] =>
  (message?.components ?? []).flatMap((row: { components: Array<{ label?: string; placeholder?: string }> }) => row.components.map((c) => c.label ?? c.placeholder ?? ''));

/** The decoded image a message carries under `name` (its latest version). */
export async function attachedImage(fake: FakeDiscord, message: WireMessage, name: string): Promise<RgbImage> {
  const attachment = message.attachments.find((a) => a.filename === name);
  if (!attachment) throw new Error(`message ${message.id} has no ${name} (it has ${message.attachments.map((a) => a.filename).join(', ') || 'no files'})`);
  return decodeImage(fake.fileBytes(attachment));
}

/** Private (ephemeral) replies the bot sent, as their text. */
export const privateReplies = (fake: FakeDiscord): string[] =>
  fake.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/webhooks/') && r.status === 200 && (r.json?.flags ?? 0) & 64).map((r) => String(r.json.content));


/** `node dist/src/cli.js <args>` (default `discord`; `serve --discord` too) against the fake, with its output kept for assertion messages. */
export function spawnDiscordBot(fake: FakeDiscord, prefix: string, args: string[] = ['discord'], env: Record<string, string> = {}): GasChild {
  return spawnGas(args, {
    DISCORD_TOKEN: fake.token,
    DISCORD_APP_ID: fake.applicationId,
    DISCORD_API_URL: fake.apiUrl,
    DISCORD_EDIT_INTERVAL_MS: String(EDIT_INTERVAL_MS),
    GAS_PREFIX: prefix,
    GAS_NOTIFY_AFTER_MS: String(TEST_FLOW.notifyAfterMs),
    GAS_MAX_STEPS: String(TEST_FLOW.maxSteps),
    LOG_LEVEL: 'info',
    ...env,
  });
}
