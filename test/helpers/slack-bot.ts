/**
 * The Slack bot as it runs, in one process: the real Bolt through SlackTransport and the real
 * ChatFlow on real Redis (a prefix per test), against the fake Slack, with an in-process
 * colour-world worker. Tests play people through the fake and read back what it recorded.
 */
import { pino, type Logger } from 'pino';
import type { SlackConfigInput } from '../../adapters/slack/config.js';
import { SlackTransport } from '../../adapters/slack/transport.js';
import { ChatFlow, type ChatFlowConfig } from '../../src/chat/flow.js';
import { parseButtonId } from '../../src/chat/transport.js';
import type { GpuWorkerConfig } from '../../gpu-worker/worker.js';
import { redisPlatformStore } from '../../src/jobs/platform-store.js';
import { ThreadHistory } from '../../src/jobs/thread-history.js';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions, type FileInput, type PostedByPerson, type RecordedRequest, type WireMessage } from '../fakes/slack/index.js';
import { queueHarness, type QueueHarness } from './queue.js';
import { freePort } from './private-redis.js';

export interface SlackBotOptions {
  fake?: FakeSlackOptions;
  transport?: Partial<SlackConfigInput>;
  flow?: Partial<ChatFlowConfig>;
  /** A colour-world worker with these settings; `false`: none (jobs stay queued). */
  worker?: Partial<GpuWorkerConfig> | false;
}

export interface SlackBot {
  fake: FakeSlack;
  /** The running bot's transport and flow (new ones after `restart`). */
  readonly transport: SlackTransport;
  readonly flow: ChatFlow;
  queue: QueueHarness;
  /** Stops the bot (its flow and transport); jobs go on on the worker. */
  stopBot(): Promise<void>;
  /** Starts it again on the same Redis, fake and store: a restarted bot process. */
  startBot(): Promise<void>;
  /** Alice mentions the bot in #general, with files. */
  mention(text: string, files?: FileInput[]): PostedByPerson;
  /** The bot's messages in a thread of #general (status messages, and Undo's note), oldest first; its file shares, the line that opens the thread and pings left out. */
  statuses(thread: string): WireMessage[];
  /** The files the bot shared into a thread of #general (results), oldest first. */
  sharedFiles(thread: string): WireMessage[];
  /** The Web API calls that wrote the `index`-th status message of a thread: its post, then its updates. */
  writesOf(thread: string, index: number): RecordedRequest[];
  /** Waits for the `index`-th status message of a thread to satisfy `predicate`; fails with what the fake recorded and the logs. */
  untilStatus(thread: string, index: number, predicate: (m: WireMessage) => boolean, what: string, timeoutMs?: number): Promise<WireMessage>;
  /** Jobs submitted under this bot's prefix (one event sequence per job). */
  jobCount(): Promise<number>;
  /** Jobs waiting, running or held. */
  queueDepth(): Promise<number>;
  /** What the fake recorded and what the bot logged, for assertion messages. */
  report(): string;
  close(): Promise<void>;
}

export const botButtons = (m: WireMessage | undefined): string[] =>
  (m?.blocks ?? []).flatMap((b) => (b.type === 'actions' ? b.elements.map((e: { action_id: string }) => parseButtonId(e.action_id)?.action ?? e.action_id) : []));

export const jobIdOf = (m: WireMessage): string => {
  const ids = (m.blocks ?? []).flatMap((b) => (b.type === 'actions' ? b.elements.map((e: { action_id: string }) => parseButtonId(e.action_id)?.jobId) : []));
  if (!ids[0]) throw new Error(`message ${m.ts} has no buttons: ${m.text}`);
  return ids[0];
};

export const textLines = (m: WireMessage | undefined): string[] => m?.text.split('\n') ?? [];

/** The line that opens a conversation thread ("Reply in this thread …"), which the flow posts after the first status. */
export const isThreadIntro = (m: WireMessage) => /^Reply in this thread\b/.test(m.text);
/** The ping that tells a requester their long edit ended: a new thread reply that starts with their mention. */
export const isPing = (m: WireMessage) => /^<@U[A-Z0-9]+> /.test(m.text);

/**
 * The flow's settings in these tests unless one says otherwise: no ping when an edit ends (a busy
 * machine would make short edits "long", and a ping is one more message in the thread), and room
 * for the very long edits tests cancel or interrupt.
 */
export const TEST_FLOW: Partial<ChatFlowConfig> = { notifyAfterMs: 3_600_000, maxSteps: 10_000 };

/** File ids of the image blocks of a chat.postMessage / chat.update call. */
export const shownFileIds = (r: RecordedRequest): string[] => ((r.params.blocks ?? []) as any[]).filter((b) => b.type === 'image').map((b) => b.slack_file.id as string);


export async function startSlackBot(options: SlackBotOptions = {}): Promise<SlackBot> {
  const queue = await queueHarness();
  const fake = await startFakeSlack(options.fake);
  const logs: string[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (line: string) => logs.push(line) });
  const base = { botToken: fake.botToken, apiUrl: fake.apiUrl, apiRetries: 0, ...options.transport };
  let config: SlackConfigInput;
  if (options.fake?.delivery === 'http') {
    const port = await freePort();
    fake.setEventsUrl(`http://127.0.0.1:${port}/slack/events`);
    config = { ...base, signingSecret: fake.signingSecret, port };
  } else {
    config = { ...base, appToken: fake.appToken };
  }
  // What the transport keeps across a restart lives in Redis, as the bot process gives it.
  const store = redisPlatformStore(queue.redis, queue.keys, 'slack');
  const newBot = () => {
    const transport = new SlackTransport(config, logger, { store });
    const flow = new ChatFlow({ redis: queue.redis, keys: queue.keys, queue: queue.queue, blobs: queue.blobs, threads: new ThreadHistory(queue.redis, queue.keys), transport, logger, config: { ...TEST_FLOW, ...options.flow } });
    return { transport, flow };
  };
  let { transport, flow } = newBot();
  let running = true;
  try {
    if (options.worker !== false) await queue.startWorker(options.worker ?? {});
    await flow.start();
  } catch (error) {
    // Nothing a failed start opened may outlive it: the test only gets to close a bot that started.
    await flow.stop().catch(() => {});
    await fake.close();
    await queue.close();
    throw error;
  }

  const general = fake.channels.general;
  const inThread = (thread: string) => fake.messages(general).filter((m) => m.user === fake.botUserId && m.thread_ts === thread);
  const report = () => `\n--- fake Slack ---\n${fake.describe()}\n--- bot log ---\n${logs.join('')}`;
  const bot: SlackBot = {
    fake,
    get transport() {
      return transport;
    },
    get flow() {
      return flow;
    },
    queue,
    async stopBot() {
      if (running) await flow.stop();
      running = false;
    },
    async startBot() {
      await bot.stopBot();
      ({ transport, flow } = newBot());
      await flow.start();
      running = true;
    },
    mention: (text, files = []) => fake.postMessage({ user: fake.users.alice, channel: general, text: `<@${fake.botUserId}> ${text}`, files }),
    statuses: (thread) => inThread(thread).filter((m) => m.subtype === undefined && !isThreadIntro(m) && !isPing(m)),
    sharedFiles: (thread) => inThread(thread).filter((m) => m.subtype === 'file_share'),
    writesOf(thread, index) {
      // The fake appends messages in the order it takes posts, so the index-th post in the thread made the index-th status.
      const post = fake.requests.filter((r) => r.method === 'chat.postMessage' && r.error === undefined && r.params.thread_ts === thread)[index];
      const status = bot.statuses(thread)[index];
      if (!post || !status) return [];
      return [post, ...fake.requests.filter((r) => r.method === 'chat.update' && r.error === undefined && r.params.ts === status.ts)];
    },
    async untilStatus(thread, index, predicate, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = bot.statuses(thread)[index];
        if (status && predicate(status)) return status;
        if (Date.now() > deadline) throw new Error(`status message ${index} of thread ${thread} never showed ${what} within ${timeoutMs} ms; it reads:\n${status?.text ?? '(not posted)'}${report()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async jobCount() {
      return (await queue.redis.keys(`${queue.keys.prefix}:seq:*`)).length;
    },
    async queueDepth() {
      const depth = await queue.queue.depth();
      return depth.waiting + depth.active + depth.held;
    },
    report,
    async close() {
      await bot.stopBot().catch(() => {});
      await fake.close();
      await queue.close();
    },
  };
  return bot;
}
