/**
 * One person's message makes exactly one job, however many times the platform delivers it
 * (Slack retries, Socket Mode redelivery, app_mention + message): the real ChatFlow on real Redis,
 * no worker, events played as an adapter would hand them over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MessageDedupe } from '../src/chat/dedupe.js';
import type { ChatFlow } from '../src/chat/flow.js';
import type { ChatMessage, IncomingEdit, IncomingMessage, StatusRef } from '../src/chat/transport.js';
import { encodePng } from '../src/image/decode.js';
import { chatHarness, type ChatHarness } from './helpers/chat-flow.js';
import { imageFile, RecordingTransport } from './helpers/chat-transport.js';
import { sceneImage } from './helpers/colour-world.js';
import { REQUEST } from './helpers/queue.js';

interface Delivered {
  posts: Array<{ thread: string; message: ChatMessage }>;
  privateReplies: string[];
}

function recorder(): Delivered {
  return { posts: [], privateReplies: [] };
}

/** A person's message mentioning the bot, as an adapter hands it over: the same ids on every delivery. */
function mention(into: Delivered, photo: Buffer, ids: { channel: string; message: string; thread?: string }): IncomingEdit {
  const thread = ids.thread ?? ids.message;
  return {
    platform: 'discord',
    user: 'U1',
    isAdmin: false,
    channel: ids.channel,
    text: REQUEST,
    image: imageFile(photo),
    options: {},
    thread,
    message: ids.message,
    messageIsRequest: true,
    replyPrivately: async (text) => void into.privateReplies.push(text),
    postStatus: async (message): Promise<StatusRef> => {
      into.posts.push({ thread, message });
      return { platform: 'discord', channel: ids.channel, message: `status-${into.posts.length}`, thread };
    },
  };
}

function reply(into: Delivered, ids: { channel: string; thread: string; message: string }): IncomingMessage {
  return {
    platform: 'discord',
    user: 'U1',
    isAdmin: false,
    channel: ids.channel,
    thread: ids.thread,
    message: ids.message,
    text: 'and make the sky cloudy',
    replyPrivately: async (text) => void into.privateReplies.push(text),
    postStatus: async (message): Promise<StatusRef> => {
      into.posts.push({ thread: ids.thread, message });
      return { platform: 'discord', channel: ids.channel, message: `status-${into.posts.length}`, thread: ids.thread };
    },
  };
}

async function jobsInQueue(chat: ChatHarness): Promise<number> {
  const depth = await chat.queue.queue.depth();
  return depth.waiting + depth.active + depth.delayed + depth.held;
}

describe('message de-duplication in the chat flow', { timeout: 60_000 }, () => {
  let chat: ChatHarness | undefined;
  afterEach(async () => {
    await chat?.close();
    chat = undefined;
  });

  it('makes one job from one message delivered three times at once (retry, redelivery, app_mention + message)', async () => {
    chat = await chatHarness();
    const photo = await encodePng(await sceneImage());
    const seen = recorder();
    const ids = { channel: 'C1', message: '1700000000.000100' };
    await Promise.all([chat.flow.editRequest(mention(seen, photo, ids)), chat.flow.editRequest(mention(seen, photo, ids)), chat.flow.editRequest(mention(seen, photo, ids))]);
    expect(seen.posts).toHaveLength(1);
    expect(seen.privateReplies).toEqual([]);
    expect(await jobsInQueue(chat)).toBe(1);
  });

  it('makes one job when a second bot process (or a restarted one) gets the same message later', async () => {
    chat = await chatHarness();
    const photo = await encodePng(await sceneImage());
    const seen = recorder();
    const ids = { channel: 'C1', message: '1700000000.000200' };
    await chat.flow.editRequest(mention(seen, photo, ids));
    const other: ChatFlow = chat.newFlow(new RecordingTransport());
    await other.start();
    await other.editRequest(mention(seen, photo, ids));
    expect(seen.posts).toHaveLength(1);
    expect(await jobsInQueue(chat)).toBe(1);
  });

  it('still makes a job for every distinct message, also with the same ts in another channel', async () => {
    chat = await chatHarness({ queue: { perUserLimit: 10 } });
    const photo = await encodePng(await sceneImage());
    const seen = recorder();
    await chat.flow.editRequest(mention(seen, photo, { channel: 'C1', message: '1700000000.000300' }));
    await chat.flow.editRequest(mention(seen, photo, { channel: 'C1', message: '1700000000.000301' }));
    await chat.flow.editRequest(mention(seen, photo, { channel: 'C2', message: '1700000000.000300' }));
    expect(seen.posts.map((p) => p.thread)).toEqual(['1700000000.000300', '1700000000.000301', '1700000000.000300']);
    expect(await jobsInQueue(chat)).toBe(3);
  });

  it('makes one job from a thread reply delivered twice, and claims nothing for messages in threads that are not its own', async () => {
    chat = await chatHarness({ queue: { perUserLimit: 10 } });
    const photo = await encodePng(await sceneImage());
    const seen = recorder();
    const thread = '1700000000.000400';
    await chat.flow.editRequest(mention(seen, photo, { channel: 'C1', message: thread }));
    const again = { channel: 'C1', thread, message: '1700000000.000401' };
    await Promise.all([chat.flow.threadMessage(reply(seen, again)), chat.flow.threadMessage(reply(seen, again))]);
    expect(seen.posts).toHaveLength(2);
    expect(seen.privateReplies).toEqual([]);
    expect(await jobsInQueue(chat)).toBe(2);

    const dedupe = new MessageDedupe(chat.queue.redis, chat.queue.keys);
    const elsewhere = { channel: 'C1', thread: '1700000000.000500', message: '1700000000.000501' };
    await chat.flow.threadMessage(reply(seen, elsewhere));
    expect(await chat.queue.redis.exists(dedupe.key({ platform: 'discord', ...elsewhere }))).toBe(0);
    expect(await chat.queue.redis.ttl(dedupe.key({ platform: 'discord', ...again }))).toBeGreaterThan(3600);
  });

  it('makes a job for each request that only points at a message (a context menu on the same photo, twice)', async () => {
    chat = await chatHarness({ queue: { perUserLimit: 10 } });
    const photo = await encodePng(await sceneImage());
    const seen = recorder();
    const target = { channel: 'C1', message: '1700000000.000600', thread: 'T6' };
    const { messageIsRequest: _own, ...pointing } = mention(seen, photo, target);
    await chat.flow.editRequest(pointing);
    await chat.flow.editRequest({ ...pointing, text: 'make the sky cloudy' });
    expect(seen.posts).toHaveLength(2);
    expect(await jobsInQueue(chat)).toBe(2);
  });

  it('does not de-duplicate requests that carry no message of their own (a slash command)', async () => {
    chat = await chatHarness({ queue: { perUserLimit: 10 } });
    const photo = await encodePng(await sceneImage());
    await chat.transport.edit({ user: 'U1', text: REQUEST, image: imageFile(photo), thread: 'T1' });
    await chat.transport.edit({ user: 'U1', text: REQUEST, image: imageFile(photo), thread: 'T1' });
    expect(chat.transport.posts()).toHaveLength(2);
  });
});
