/** `gas submit`, `gas cancel`, `gas undo`: the queue from a shell, for operators and scripts. */
import { userInfo } from 'node:os';
import { GasError } from '../errors.js';
import type { EditQueueConfig } from '../jobs/edit-queue.js';
import { redisKeys } from '../jobs/keys.js';
import { asRedisFailure, connectRedisOnce } from '../jobs/redis.js';
import { submitEdit, undoThread } from '../edits/submit.js';
import { jobStores, type JobStores } from '../jobs/stores.js';
import type { JobEvent } from '../jobs/contracts.js';
import { MAX_SEED, MAX_STEPS } from '../distill/modes.js';
import { readPhotoFile, readPlanFile } from './files.js';
import { flagName, wholeNumber, type NameOf } from './flag-values.js';

/** Where the queue is and who acts on it, from the configuration and the command line. */
export interface QueueFlags {
  redisUrl: string;
  prefix: string;
  user?: string;
  queue?: Partial<EditQueueConfig>;
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

/** `--priority` runs from 0 (first) to this. */
export const MAX_PRIORITY = 1000;

/** The person a shell command acts for: --user, else the login name. */
export const shellUser = (flags: QueueFlags) => flags.user ?? `cli:${userInfo().username}`;

async function withQueue<T>(flags: QueueFlags, work: (stores: JobStores) => Promise<T>): Promise<T> {
  const redis = await connectRedisOnce(flags.redisUrl);
  const stores = jobStores(redis, redisKeys(flags.prefix), flags.queue);
  const { queue } = stores;
  try {
    // BullMQ checks the connection in the background; a command that fails or ends before that
    // check (undo, a refused submit) would otherwise close the queue under it: an unhandled rejection.
    await queue.queue.waitUntilReady();
    return await work(stores);
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
  name: NameOf = flagName,
): Promise<JobEvent | undefined> {
  const plan = flags.plan ? readPlanFile(flags.plan) : undefined;
  if (!plan && request === undefined) throw new GasError('bad_input', 'Say what to change, or give --plan plan.json.');
  const steps = wholeNumber(flags.steps, name('steps'), 1, MAX_STEPS);
  const seed = wholeNumber(flags.seed, name('seed'), 0, MAX_SEED);
  const priority = wholeNumber(flags.priority, name('priority'), 0, MAX_PRIORITY) ?? 0;
  if (image === '-' && !flags.thread) throw new GasError('bad_input', '"-" continues a thread: give --thread too.');
  // The file as it is: submitEdit checks it (size, pixels, decodable) and stores these bytes.
  const photo = image === '-' ? undefined : readPhotoFile(image);

  return withQueue(flags, async (stores) => {
    const { queue } = stores;
    const submitted = await submitEdit(stores, {
      requester: { platform: 'cli', user: shellUser(flags), channel: flags.channel, ...(flags.thread ? { thread: flags.thread } : {}) },
      ...(photo ? { photo } : {}),
      ...(request !== undefined ? { request } : {}),
      ...(plan ? { plan } : {}),
      options: { ...(steps !== undefined ? { steps } : {}), ...(seed !== undefined ? { seed } : {}) },
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
  return withQueue(flags, ({ queue }) => queue.cancel(jobId, shellUser(flags)));
}

/** Moves a thread back one edit; returns the blob the next edit will start from. */
export async function runUndoCommand(flags: QueueFlags & { channel: string; thread: string }): Promise<string> {
  return withQueue(flags, (stores) => undoThread(stores, { platform: 'cli', channel: flags.channel, thread: flags.thread }, shellUser(flags)));
}
