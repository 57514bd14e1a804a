/**
 * A conversation thread's chain of edits, in Redis so that it survives restarts: each reply in
 * a thread edits the latest result, undo steps back one edit, and undoing the first edit returns
 * to the thread's original photo. The history and every blob it names live for the same TTL.
 *
 * A thread has an owner: the person whose photo started it. Anyone in the thread may add an edit
 * (a reply iterates on the latest result). The owner may undo any step, whoever made the latest
 * step may undo that one, and admins may do anything; only the owner or an admin may replace the
 * photo (src/edits/rules.ts is that rule in words). A thread written before owners were recorded
 * has none: it stays open to all until a photo restarts it.
 *
 * Layout: `keys.thread(…)` is a list of JSON entries, newest first; `keys.threadOrigin(…)` holds
 * the original photo's ref and `keys.threadOwner(…)` its owner's user id, written together.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { z } from 'zod';
import { GasError } from '../errors.js';
import { BLOB_STORE_DEFAULTS, BlobStore, checkBlobRef, wholeOption } from './blob-store.js';
import { blobRefSchema, requesterSchema, type BlobRef } from './contracts.js';
import type { Keys } from './keys.js';
import { scripts } from './scripts/index.js';

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

/** `by`: who asked for the edit (absent in entries written before it was recorded). */
const entrySchema = z.object({ jobId: z.string().min(1), result: blobRefSchema, by: z.string().min(1).optional() });
/** One edit in a thread: the job, the image it produced, and who asked for it. */
export type ThreadEntry = z.infer<typeof entrySchema>;

/** Who acts on a thread: a platform user id, and whether they are an admin (platform role or GAS_ADMINS). */
export interface ThreadActor {
  user: string;
  isAdmin?: boolean;
}

/**
 * Who may rewind a thread (`latestBy` undefined: who may replace its photo): its owner, whoever
 * made the latest step, or an admin; a thread with no recorded owner is open to all. The same
 * rule runs atomically in thread-undo.lua.
 */
export function mayUndo(who: { user: string; isAdmin: boolean }, thread: { owner?: string; latestBy?: string }): boolean {
  return who.isAdmin || thread.owner === undefined || who.user === thread.owner || who.user === thread.latestBy;
}

/** What only a thread's owner or an admin may do. */
export type OwnerAction = 'undo' | 'replace';

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
    this.ttlSeconds = wholeOption(options.ttlSeconds ?? THREAD_HISTORY_DEFAULTS.ttlSeconds, 'Thread history option ttlSeconds', 1);
    this.maxLength = wholeOption(options.maxLength ?? THREAD_HISTORY_DEFAULTS.maxLength, 'Thread history option maxLength', 1);
    this.blobs = new BlobStore(redis, keys, { ttlSeconds: this.ttlSeconds });
  }

  /**
   * Starts the thread from a photo: records it as the origin, and `by` as the owner of a new
   * thread, and drops any earlier edits, since they were made from another photo. Replacing the
   * photo of someone else's thread is refused (not_allowed) unless `by` is an admin.
   */
  async setOrigin(thread: ThreadId, source: BlobRef, by: ThreadActor): Promise<void> {
    const origin = checkBlobRef(source);
    const actor = checkActor(by);
    const { list, originKey, ownerKey } = this.keysOf(thread);
    const [allowed, owner] = await scripts(this.redis).setOrigin(
      { list, origin: originKey, owner: ownerKey },
      { ref: origin, user: actor.user, ttlSeconds: this.ttlSeconds, isAdmin: actor.isAdmin ? '1' : '0' },
    );
    if (allowed !== 1) throw notAllowed(owner, 'replace');
    await this.keepBlobsAlive([origin]);
  }

  /** The user who started the thread; undefined for a thread never started from a photo. */
  async owner(thread: ThreadId): Promise<string | undefined> {
    const { ownerKey } = this.keysOf(thread);
    return (await this.redis.get(ownerKey)) ?? undefined;
  }

  /**
   * Refuses (not_allowed) `by` doing `action` in a thread: replacing the photo is its owner's (or
   * an admin's); undoing is also allowed to whoever made the latest edit.
   */
  async checkOwner(thread: ThreadId, by: ThreadActor, action: OwnerAction): Promise<void> {
    const actor = checkActor(by);
    const [owner, latest] = await Promise.all([this.owner(thread), action === 'undo' ? this.latest(thread) : undefined]);
    const latestBy = action === 'undo' ? latest?.by : undefined;
    if (!mayUndo({ user: actor.user, isAdmin: actor.isAdmin === true }, { owner, latestBy })) throw notAllowed(owner!, action, latestBy);
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
    const { list, originKey, ownerKey } = this.keysOf(thread);
    const [, , , , , chain, origin] = await run(
      this.redis
        .multi()
        .lpush(list, JSON.stringify(checked.data))
        .ltrim(list, 0, this.maxLength - 1)
        .expire(list, this.ttlSeconds)
        .expire(originKey, this.ttlSeconds)
        .expire(ownerKey, this.ttlSeconds)
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
   * no edit is left (the next job then starts from the origin, see `sourceFor`). The thread's
   * owner, whoever made the newest edit, or an admin may undo; anyone else is refused
   * (not_allowed) and nothing changes.
   */
  async undo(thread: ThreadId, by: ThreadActor): Promise<ThreadEntry | undefined> {
    const actor = checkActor(by);
    const { list, originKey, ownerKey } = this.keysOf(thread);
    const reply = await scripts(this.redis).threadUndo(
      { list, origin: originKey, owner: ownerKey },
      { user: actor.user, isAdmin: actor.isAdmin ? '1' : '0', ttlSeconds: this.ttlSeconds },
    );
    if (reply[0] !== 1) throw notAllowed(reply[1], 'undo', reply[2] || undefined);
    const [, origin, remaining] = reply;
    await this.keepBlobsAlive(this.blobRefsIn(remaining, origin === '' ? null : origin, list, originKey));
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

  private keysOf(thread: ThreadId): { list: string; originKey: string; ownerKey: string } {
    const checked = threadIdSchema.safeParse(thread);
    if (!checked.success) {
      throw new GasError('bad_input', `A thread needs a platform, a channel and a thread id; got ${JSON.stringify(thread)}.`, {
        issues: checked.error.issues,
      });
    }
    const { platform, channel, thread: id } = checked.data;
    return {
      list: this.keys.thread(platform, channel, id),
      originKey: this.keys.threadOrigin(platform, channel, id),
      ownerKey: this.keys.threadOwner(platform, channel, id),
    };
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

function checkActor(by: ThreadActor): ThreadActor {
  if (typeof by?.user !== 'string' || by.user.length === 0) {
    throw new GasError('bad_input', 'Acting on a thread needs the user id of the person who asks.', { by });
  }
  return by;
}

/**
 * The refusal a person sees. `owner` (and `latestBy`, who made the newest edit) are platform user
 * ids; front ends that word them otherwise (a mention, a display name) find them in the details.
 */
export function notAllowed(owner: string, action: OwnerAction, latestBy?: string): GasError {
  if (action === 'replace') {
    return new GasError('not_allowed', `Only ${owner} (who started this thread) or an admin can replace its photo; post yours outside this thread to start a new one.`, { owner, action });
  }
  if (latestBy === undefined || latestBy === owner) {
    return new GasError('not_allowed', `Only ${owner} (who started this thread) or an admin can undo edits in this thread.`, { owner, action });
  }
  return new GasError('not_allowed', `Only ${owner} (who started this thread), ${latestBy} (who made the latest edit) or an admin can undo it.`, { owner, action, latestBy });
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
