/** A chat flow on real Redis (a prefix per test) with a RecordingTransport and in-process colour-world workers. */
import { pino, type Logger } from 'pino';
import { ChatFlow, type ChatFlowConfig } from '../../src/chat/flow.js';
import type { ChatMessage, StatusRef } from '../../src/chat/transport.js';
import type { EditQueueConfig } from '../../src/jobs/edit-queue.js';
import { ThreadHistory } from '../../src/jobs/thread-history.js';
import { RecordingTransport } from './chat-transport.js';
import { queueHarness, type QueueHarness } from './queue.js';

export interface ChatHarness {
  queue: QueueHarness;
  threads: ThreadHistory;
  transport: RecordingTransport;
  flow: ChatFlow;
  /** The flow's log lines (JSON), for assertion messages. */
  logs: string[];
  /** A second flow on the same Redis, as a restarted bot would be. */
  newFlow(transport: RecordingTransport): ChatFlow;
  /** The newest status message posted, with its job id (from its buttons). */
  lastPost(): { ref: StatusRef; jobId: string };
  /** Waits until a message's latest content satisfies `predicate`, failing with the transcript. */
  until(message: string, predicate: (m: ChatMessage) => boolean, what: string, timeoutMs?: number, transport?: RecordingTransport): Promise<ChatMessage>;
  close(): Promise<void>;
}

export async function chatHarness(
  options: { transport?: ConstructorParameters<typeof RecordingTransport>[0]; queue?: Partial<EditQueueConfig>; flow?: Partial<ChatFlowConfig> } = {},
): Promise<ChatHarness> {
  const queue = await queueHarness(options.queue);
  const threads = new ThreadHistory(queue.redis, queue.keys);
  const logs: string[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (line: string) => logs.push(line) });
  const flows: ChatFlow[] = [];
  const newFlow = (transport: RecordingTransport) => {
    const flow = new ChatFlow({
      redis: queue.redis,
      keys: queue.keys,
      queue: queue.queue,
      blobs: queue.blobs,
      threads,
      transport,
      logger,
      config: options.flow,
    });
    flows.push(flow);
    return flow;
  };
  const transport = new RecordingTransport(options.transport);
  const flow = newFlow(transport);
  await flow.start();
  const report = (t: RecordingTransport) => `\n--- transcript ---\n${t.transcript()}\n--- log ---\n${logs.join('')}`;
  return {
    queue,
    threads,
    transport,
    flow,
    logs,
    newFlow,
    lastPost() {
      const post = transport.posts().at(-1);
      const jobId = post?.content.buttons[0]?.jobId;
      if (!post || !jobId) throw new Error(`no status message with buttons was posted${report(transport)}`);
      return { ref: { platform: 'discord', channel: 'c1', message: post.message, thread: post.thread }, jobId };
    },
    async until(message, predicate, what, timeoutMs = 45_000, on = transport) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const latest = on.latest(message);
        if (latest && predicate(latest)) return latest;
        if (Date.now() > deadline) throw new Error(`message ${message} never showed ${what} within ${timeoutMs} ms${report(on)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      for (const f of flows) await f.stop();
      await queue.close();
    },
  };
}
