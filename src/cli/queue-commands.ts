/** `gas submit`, `gas cancel`, `gas undo`: the queue from a shell, for operators and scripts. */
import { userInfo } from 'node:os';
import type { Redis } from 'ioredis';
import { GasError } from '../errors.js';
import { encodePng } from '../image/decode.js';
import { BlobStore } from '../jobs/blob-store.js';
import { EditQueue, queueConfigFromEnv } from '../jobs/edit-queue.js';
import { redisKeys } from '../jobs/keys.js';
import { asRedisFailure, connectRedisOnce } from '../jobs/redis.js';
import { ThreadHistory } from '../jobs/thread-history.js';
import type { JobEvent } from '../jobs/contracts.js';
import { checkPlanRequest } from '../plan/planner.js';
import { readImageFile, readPlanFile } from './edit-command.js';

export interface QueueFlags {
  redisUrl: string;
  prefix: string;
  user?: string;
}

export interface SubmitFlags extends QueueFlags {
  plan?: string;
  channel: string;
  thread?: string;
  steps?: string;
  seed?: string;
  priority?: string;
  wait: boolean;
}

/** The person a shell command acts for: --user, else the login name. */
export const shellUser = (flags: QueueFlags) => flags.user ?? `cli:${userInfo().username}`;

function whole(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new GasError('bad_input', `--${name} must be a whole number from ${min} to ${max} (got "${value}").`);
  return n;
}

async function withQueue<T>(flags: QueueFlags, work: (queue: EditQueue, redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connectRedisOnce(flags.redisUrl);
  const queue = new EditQueue(redis, redisKeys(flags.prefix), queueConfigFromEnv());
  try {
    return await work(queue, redis);
  } catch (error) {
    throw asRedisFailure(error, flags.redisUrl);
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/**
 * Enqueues an edit. `image` "-" continues `--thread` from its latest result. With `wait`,
 * prints the job's events as JSON lines until it ends and returns the terminal event.
 */
export async function runSubmitCommand(
  image: string,
  request: string | undefined,
  flags: SubmitFlags,
  print: (line: string) => void,
): Promise<JobEvent | undefined> {
  const plan = flags.plan ? readPlanFile(flags.plan) : undefined;
  if (!plan && request === undefined) throw new GasError('bad_input', 'Say what to change, or give --plan plan.json.');
  const steps = whole(flags.steps, 'steps', 1, 10000);
  const seed = whole(flags.seed, 'seed', 0, 2 ** 31 - 1);
  const priority = whole(flags.priority, 'priority', 0, 1000) ?? 0;
  if (image === '-' && !flags.thread) throw new GasError('bad_input', '"-" continues a thread: give --thread too.');
  const photo = image === '-' ? undefined : await readImageFile(image);
  if (!plan && photo) checkPlanRequest({ text: request, image: photo });

  return withQueue(flags, async (queue, redis) => {
    const keys = queue.keys;
    const blobs = new BlobStore(redis, keys, { ttlSeconds: queue.config.ttlSeconds });
    const threads = new ThreadHistory(redis, keys, { ttlSeconds: queue.config.ttlSeconds });
    const thread = flags.thread ? { platform: 'cli' as const, channel: flags.channel, thread: flags.thread } : undefined;
    let source;
    if (photo) {
      source = await blobs.put(await encodePng(photo));
      if (thread) await threads.setOrigin(thread, source);
    } else {
      source = await threads.sourceFor(thread!);
      if (!source) throw new GasError('bad_input', `Thread ${flags.thread} has no image yet: submit one first.`);
    }
    const parent = thread ? (await threads.latest(thread))?.jobId : undefined;
    const submitted = await queue.submit({
      requester: { platform: 'cli', user: shellUser(flags), channel: flags.channel, ...(flags.thread ? { thread: flags.thread } : {}) },
      source,
      ...(request !== undefined ? { request } : {}),
      ...(plan ? { plan } : {}),
      options: { ...(steps !== undefined ? { steps } : {}), ...(seed !== undefined ? { seed } : {}) },
      ...(parent ? { parent } : {}),
      ...(photo ? {} : { fromThread: true }),
      priority,
    });
    if (!flags.wait) {
      print(JSON.stringify(submitted));
      return undefined;
    }
    let last: JobEvent | undefined;
    for await (const event of queue.events.follow(submitted.jobId)) {
      print(JSON.stringify(event));
      last = event;
    }
    return last;
  });
}

export async function runCancelCommand(jobId: string, flags: QueueFlags): Promise<'cancelled' | 'cancelling'> {
  return withQueue(flags, (queue) => queue.cancel(jobId, shellUser(flags)));
}

/** Moves a thread back one edit; returns the blob the next edit will start from. */
export async function runUndoCommand(flags: QueueFlags & { channel: string; thread: string }): Promise<string> {
  return withQueue(flags, async (queue, redis) => {
    const threads = new ThreadHistory(redis, queue.keys, { ttlSeconds: queue.config.ttlSeconds });
    const thread = { platform: 'cli' as const, channel: flags.channel, thread: flags.thread };
    if (!(await threads.latest(thread))) throw new GasError('bad_input', `Thread ${flags.thread} has no edit to undo.`);
    await threads.undo(thread);
    return (await threads.sourceFor(thread))!;
  });
}
