/**
 * A conversation thread's chain of edits, in Redis so that it survives restarts: each reply in
 * a thread edits the latest result, undo steps back one edit, and undoing the first edit returns
 * to the thread's original photo. The history and every blob it names live for the same TTL.
 *
 * Layout: `keys.thread(…)` is a list of JSON entries, newest first; `keys.threadOrigin(…)` holds
 * the original photo's ref.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { z } from 'zod';
import { GasError } from '../errors.js';
import { BLOB_STORE_DEFAULTS, BlobStore, checkBlobRef, checkTtl } from './blob-store.js';
import { blobRefSchema, requesterSchema, type BlobRef } from './contracts.js';
import type { Keys } from './keys.js';

export const THREAD_HISTORY_DEFAULTS = {
  /** The same as the blob store's, so a history never outlives the images it names. */
  ttlSeconds: BLOB_STORE_DEFAULTS.ttlSeconds,
  /** Edits kept per thread; older ones can no longer be undone to. */
  maxLength: 50,
} as const;

export interface ThreadHistoryOptions {
  /** How long a thread (and the blobs it names) lives after its last change. */
  ttlSeconds?: number;
  maxLength?: number;
}

const threadIdSchema = requesterSchema.pick({ platform: true, channel: true }).extend({ thread: z.string().min(1) });
/** Where a conversation lives: the platform, its channel and the thread in it. */
export type ThreadId = z.infer<typeof threadIdSchema>;

const entrySchema = z.object({ jobId: z.string().min(1), result: blobRefSchema });
/** One edit in a thread: the job and the image it produced. */
export type ThreadEntry = z.infer<typeof entrySchema>;

export class ThreadHistory {
  readonly ttlSeconds: number;
  readonly maxLength: number;
  /** Only to keep the thread's blobs alive as long as the thread. */
  private readonly blobs: BlobStore;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    options: ThreadHistoryOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? THREAD_HISTORY_DEFAULTS.ttlSeconds;
    this.maxLength = options.maxLength ?? THREAD_HISTORY_DEFAULTS.maxLength;
    checkTtl(this.ttlSeconds, 'Thread history option ttlSeconds');
    if (!Number.isSafeInteger(this.maxLength) || this.maxLength < 1) {
      throw new GasError('bad_input', `Thread history option maxLength must be a whole number ≥ 1; got ${this.maxLength}.`);
    }
    this.blobs = new BlobStore(redis, keys, { ttlSeconds: this.ttlSeconds });
  }

  /**
   * Starts the thread from a photo: records it as the origin and drops any earlier edits, since
   * they were made from another photo.
   */
  async setOrigin(thread: ThreadId, source: BlobRef): Promise<void> {
    const origin = checkBlobRef(source);
    const { list, originKey } = this.keysOf(thread);
    await run(this.redis.multi().del(list).set(originKey, origin, 'EX', this.ttlSeconds));
    await this.keepBlobsAlive([origin]);
  }

  /** The thread's original photo, if one was recorded. */
  async origin(thread: ThreadId): Promise<BlobRef | undefined> {
    const { originKey } = this.keysOf(thread);
    return optionalRef(await this.redis.get(originKey), originKey);
  }

  /** Records an edit as the thread's latest; the oldest edits beyond `maxLength` are dropped. */
  async push(thread: ThreadId, entry: ThreadEntry): Promise<void> {
    const checked = entrySchema.safeParse(entry);
    if (!checked.success) {
      throw new GasError('bad_input', `A thread entry needs a job id and a result blob ref; got ${JSON.stringify(entry)}.`, {
        issues: checked.error.issues,
      });
    }
    const { list, originKey } = this.keysOf(thread);
    const [, , , , chain, origin] = await run(
      this.redis
        .multi()
        .lpush(list, JSON.stringify(checked.data))
        .ltrim(list, 0, this.maxLength - 1)
        .expire(list, this.ttlSeconds)
        .expire(originKey, this.ttlSeconds)
        .lrange(list, 0, -1)
        .get(originKey),
    );
    await this.keepBlobsAlive(this.blobRefsIn(chain as string[], origin as string | null, list, originKey));
  }

  /** The newest edit, or undefined when there is none. */
  async latest(thread: ThreadId): Promise<ThreadEntry | undefined> {
    const { list } = this.keysOf(thread);
    const raw = await this.redis.lindex(list, 0);
    return raw === null ? undefined : parseEntry(raw, list);
  }

  /**
   * Removes the newest edit and returns the one before it, which is now the latest; undefined when
   * no edit is left (the next job then starts from the origin, see `sourceFor`).
   */
  async undo(thread: ThreadId): Promise<ThreadEntry | undefined> {
    const { list, originKey } = this.keysOf(thread);
    const [, chain, origin] = await run(
      this.redis
        .multi()
        .lpop(list)
        .lrange(list, 0, -1)
        .get(originKey)
        .expire(list, this.ttlSeconds)
        .expire(originKey, this.ttlSeconds),
    );
    const remaining = chain as string[];
    await this.keepBlobsAlive(this.blobRefsIn(remaining, origin as string | null, list, originKey));
    return remaining.length === 0 ? undefined : parseEntry(remaining[0], list);
  }

  /** Every edit still kept, oldest first. */
  async chain(thread: ThreadId): Promise<ThreadEntry[]> {
    const { list } = this.keysOf(thread);
    const newestFirst = await this.redis.lrange(list, 0, -1);
    return newestFirst.reverse().map((raw) => parseEntry(raw, list));
  }

  /**
   * What the thread's next edit starts from: the latest result, or the origin once every edit was
   * undone; undefined for a thread with neither.
   */
  async sourceFor(thread: ThreadId): Promise<BlobRef | undefined> {
    const { list, originKey } = this.keysOf(thread);
    const [latest, origin] = await run(this.redis.multi().lindex(list, 0).get(originKey));
    if (latest !== null) return parseEntry(latest as string, list).result;
    return optionalRef(origin as string | null, originKey);
  }

  private keysOf(thread: ThreadId): { list: string; originKey: string } {
    const checked = threadIdSchema.safeParse(thread);
    if (!checked.success) {
      throw new GasError('bad_input', `A thread needs a platform, a channel and a thread id; got ${JSON.stringify(thread)}.`, {
        issues: checked.error.issues,
      });
    }
    const { platform, channel, thread: id } = checked.data;
    return { list: this.keys.thread(platform, channel, id), originKey: this.keys.threadOrigin(platform, channel, id) };
  }

  private blobRefsIn(chain: string[], origin: string | null, list: string, originKey: string): BlobRef[] {
    const refs = chain.map((raw) => parseEntry(raw, list).result);
    const originRef = optionalRef(origin, originKey);
    return originRef === undefined ? refs : [...refs, originRef];
  }

  /** Extends the thread's blobs to the thread's TTL, so that undo never lands on an expired image. */
  private async keepBlobsAlive(refs: BlobRef[]): Promise<void> {
    await Promise.all([...new Set(refs)].map((ref) => this.blobs.touch(ref, this.ttlSeconds)));
  }
}

/** Runs a MULTI and returns its replies, failing on the first command that failed. */
async function run(multi: ChainableCommander): Promise<unknown[]> {
  const replies = await multi.exec();
  if (replies === null) throw new Error('A Redis transaction was aborted.');
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

function optionalRef(raw: string | null, key: string): BlobRef | undefined {
  if (raw === null) return undefined;
  if (!blobRefSchema.safeParse(raw).success) throw unreadable(key, raw);
  return raw;
}

function parseEntry(raw: string, key: string): ThreadEntry {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw unreadable(key, raw);
  }
  const checked = entrySchema.safeParse(value);
  if (!checked.success) throw unreadable(key, raw);
  return checked.data;
}

function unreadable(key: string, raw: string): GasError {
  return new GasError('bad_input', "This thread's history could not be read; post the photo again to start over.", { key, raw: raw.slice(0, 200) });
}
