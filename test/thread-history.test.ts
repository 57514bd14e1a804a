/** Thread history against the real Redis, under a prefix of its own that is deleted afterwards. */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GasError } from '../src/errors.js';
import { BlobStore } from '../src/jobs/blob-store.js';
import type { BlobRef } from '../src/jobs/contracts.js';
import { redisKeys } from '../src/jobs/keys.js';
import { connectRedis, deleteKeysWithPrefix } from '../src/jobs/redis.js';
import { THREAD_HISTORY_DEFAULTS, ThreadHistory, type ThreadId } from '../src/jobs/thread-history.js';
import { rejection } from './helpers/errors.js';

const keys = redisKeys(`gas-test-${process.pid}-${Date.now()}-threads`);
const connections: Redis[] = [];
let redis: Redis;
let blobs: BlobStore;

beforeAll(() => {
  redis = connect();
  blobs = new BlobStore(redis, keys);
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, keys.prefix);
  await Promise.all(connections.map((connection) => connection.quit()));
});

function connect(): Redis {
  const connection = connectRedis();
  connections.push(connection);
  return connection;
}

let threads = 0;
/** A thread no other test uses. */
function newThread(): ThreadId {
  threads += 1;
  return { platform: 'discord', channel: 'C1', thread: `T${threads}` };
}

/** Who starts the threads of these tests, and so owns them. */
const owner = { user: 'U-owner' };
const someoneElse = { user: 'U-other' };

const listKey = (t: ThreadId) => keys.thread(t.platform, t.channel, t.thread);
const originKey = (t: ThreadId) => keys.threadOrigin(t.platform, t.channel, t.thread);
const ownerKey = (t: ThreadId) => keys.threadOwner(t.platform, t.channel, t.thread);
const blobKey = (ref: BlobRef) => keys.blob(ref.slice('blob:sha256:'.length));

/** Distinct stored images. */
async function images(count: number, store: BlobStore = blobs): Promise<BlobRef[]> {
  return Promise.all(Array.from({ length: count }, () => store.put(randomBytes(64))));
}


describe('ThreadHistory', () => {
  it('edits the latest result, and after undo the one before it', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const [photo, first, second, third] = await images(4);
    await history.setOrigin(thread, photo, owner);
    expect(await history.sourceFor(thread)).toBe(photo);

    await history.push(thread, { jobId: 'j1', result: first });
    await history.push(thread, { jobId: 'j2', result: second });
    await history.push(thread, { jobId: 'j3', result: third });
    expect(await history.sourceFor(thread)).toBe(third);

    expect(await history.undo(thread, owner)).toEqual({ jobId: 'j2', result: second });
    expect(await history.latest(thread)).toEqual({ jobId: 'j2', result: second });
    expect(await history.sourceFor(thread)).toBe(second);
  });

  it('returns to the original photo once every edit is undone', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const [photo, first, second] = await images(3);
    await history.setOrigin(thread, photo, owner);
    await history.push(thread, { jobId: 'j1', result: first });
    await history.push(thread, { jobId: 'j2', result: second });

    expect(await history.undo(thread, owner)).toEqual({ jobId: 'j1', result: first });
    expect(await history.undo(thread, owner)).toBeUndefined();
    expect(await history.latest(thread)).toBeUndefined();
    expect(await history.chain(thread)).toEqual([]);
    expect(await history.sourceFor(thread)).toBe(photo);
    expect(await history.origin(thread)).toBe(photo);

    // Undoing with nothing left changes nothing.
    expect(await history.undo(thread, owner)).toBeUndefined();
    expect(await history.sourceFor(thread)).toBe(photo);

    // A new edit after undoing everything starts the chain again.
    await history.push(thread, { jobId: 'j3', result: second });
    expect(await history.chain(thread)).toEqual([{ jobId: 'j3', result: second }]);
  });

  it('keeps the chain oldest first and the latest at its end', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const refs = await images(3);
    for (const [i, result] of refs.entries()) await history.push(thread, { jobId: `j${i + 1}`, result });
    const chain = await history.chain(thread);
    expect(chain).toEqual(refs.map((result, i) => ({ jobId: `j${i + 1}`, result })));
    expect(await history.latest(thread)).toEqual(chain[chain.length - 1]);
  });

  it('knows nothing of a thread that was never written', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    expect(await history.latest(thread)).toBeUndefined();
    expect(await history.chain(thread)).toEqual([]);
    expect(await history.sourceFor(thread)).toBeUndefined();
    expect(await history.origin(thread)).toBeUndefined();
    expect(await history.undo(thread, owner)).toBeUndefined();
    expect(await redis.exists(listKey(thread), originKey(thread))).toBe(0);
  });

  it('keeps threads apart', async () => {
    const history = new ThreadHistory(redis, keys);
    const a = newThread();
    const b = { ...a, platform: 'slack' as const };
    const c = { ...a, channel: 'C2' };
    const [ra, rb] = await images(2);
    await history.push(a, { jobId: 'a1', result: ra });
    await history.push(b, { jobId: 'b1', result: rb });
    expect(await history.sourceFor(a)).toBe(ra);
    expect(await history.sourceFor(b)).toBe(rb);
    expect(await history.sourceFor(c)).toBeUndefined();
  });

  it('sets the TTL on the thread keys and restarts it on every push', async () => {
    const history = new ThreadHistory(redis, keys, { ttlSeconds: 3600 });
    const thread = newThread();
    const [photo, first, second] = await images(3);
    await history.setOrigin(thread, photo, owner);
    await history.push(thread, { jobId: 'j1', result: first });
    for (const key of [listKey(thread), originKey(thread), ownerKey(thread)]) {
      const pttl = await redis.pttl(key);
      expect(pttl).toBeGreaterThan(3_590_000);
      expect(pttl).toBeLessThanOrEqual(3_600_000);
      await redis.pexpire(key, 5000);
    }
    await history.push(thread, { jobId: 'j2', result: second });
    for (const key of [listKey(thread), originKey(thread), ownerKey(thread)]) expect(await redis.pttl(key)).toBeGreaterThan(3_590_000);
  });

  it('uses the blob TTL, a week, by default', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const [first] = await images(1);
    await history.push(thread, { jobId: 'j1', result: first });
    expect(THREAD_HISTORY_DEFAULTS.ttlSeconds).toBe(blobs.ttlSeconds);
    expect(await redis.ttl(listKey(thread))).toBeGreaterThan(7 * 24 * 3600 - 5);
  });

  it('keeps the images it names alive as long as the thread', async () => {
    const shortLived = new BlobStore(redis, keys, { ttlSeconds: 60 });
    const history = new ThreadHistory(redis, keys, { ttlSeconds: 3600 });
    const thread = newThread();
    const [photo, first, second] = await images(3, shortLived);
    await history.setOrigin(thread, photo, owner);
    await history.push(thread, { jobId: 'j1', result: first });
    await history.push(thread, { jobId: 'j2', result: second });
    for (const ref of [photo, first, second]) expect(await redis.pttl(blobKey(ref))).toBeGreaterThan(3_590_000);

    // An undo also restarts the clock, for the thread and the images left in it.
    for (const ref of [photo, first]) await redis.pexpire(blobKey(ref), 5000);
    await redis.pexpire(listKey(thread), 5000);
    await redis.pexpire(ownerKey(thread), 5000);
    await history.undo(thread, owner);
    for (const key of [blobKey(photo), blobKey(first), listKey(thread), originKey(thread), ownerKey(thread)]) {
      expect(await redis.pttl(key)).toBeGreaterThan(3_590_000);
    }
  });

  it('never shortens an image that lives longer than the thread', async () => {
    const history = new ThreadHistory(redis, keys, { ttlSeconds: 10 });
    const thread = newThread();
    const [first] = await images(1);
    await history.push(thread, { jobId: 'j1', result: first });
    expect(await redis.pttl(blobKey(first))).toBeGreaterThan(7 * 24 * 3600 * 1000 - 5000);
  });

  it('keeps only the newest maxLength edits', async () => {
    const history = new ThreadHistory(redis, keys, { maxLength: 3 });
    const thread = newThread();
    const [photo, ...refs] = await images(6);
    await history.setOrigin(thread, photo, owner);
    for (const [i, result] of refs.entries()) await history.push(thread, { jobId: `j${i + 1}`, result });
    expect(await redis.llen(listKey(thread))).toBe(3);
    expect((await history.chain(thread)).map((entry) => entry.jobId)).toEqual(['j3', 'j4', 'j5']);
    // Undoing past the oldest kept edit lands on the original photo.
    for (let i = 0; i < 3; i++) await history.undo(thread, owner);
    expect(await history.sourceFor(thread)).toBe(photo);
  });

  it('survives a restart: a new connection and a new instance see the same history', async () => {
    const thread = newThread();
    const [photo, first, second] = await images(3);
    const before = new ThreadHistory(redis, keys);
    await before.setOrigin(thread, photo, owner);
    await before.push(thread, { jobId: 'j1', result: first });
    await before.push(thread, { jobId: 'j2', result: second });

    const after = new ThreadHistory(connect(), redisKeys(keys.prefix));
    expect(await after.chain(thread)).toEqual([
      { jobId: 'j1', result: first },
      { jobId: 'j2', result: second },
    ]);
    expect(await after.undo(thread, owner)).toEqual({ jobId: 'j1', result: first });
    expect(await before.sourceFor(thread)).toBe(first);
    await after.undo(thread, owner);
    expect(await before.sourceFor(thread)).toBe(photo);
  });

  it('starts the thread over when a new original photo is set', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const [photo, first, newPhoto] = await images(3);
    await history.setOrigin(thread, photo, owner);
    await history.push(thread, { jobId: 'j1', result: first });
    await history.setOrigin(thread, newPhoto, owner);
    expect(await history.chain(thread)).toEqual([]);
    expect(await history.sourceFor(thread)).toBe(newPhoto);
  });

  it('rejects malformed entries, refs and thread ids as bad input', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const [ref] = await images(1);
    const bad = [
      () => history.push(thread, { jobId: '', result: ref }),
      () => history.push(thread, { jobId: 'j1', result: 'blob:sha256:nope' }),
      () => history.setOrigin(thread, 'not-a-ref', owner),
      () => history.setOrigin(thread, ref, { user: '' }),
      () => history.undo(thread, { user: '' }),
      () => history.latest({ ...thread, thread: '' }),
      // Any well-formed platform name is a thread's (the registry decides which exist); a malformed one is not.
      () => history.sourceFor({ ...thread, platform: 'Not A Platform' }),
    ];
    for (const call of bad) expect((await rejection(call())).code).toBe('bad_input');
    expect(await redis.exists(listKey(thread), originKey(thread), ownerKey(thread))).toBe(0);
  });

  it('reports a corrupted history instead of returning garbage', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    await redis.lpush(listKey(thread), '{"jobId":"j1","result":"blob:sha256:short"}', 'not json');
    const error = await rejection(history.latest(thread));
    expect(error.code).toBe('bad_input');
    expect(error.message).toContain('post the photo again');
    expect((await rejection(history.chain(thread))).code).toBe('bad_input');
  });

  it('records the person whose photo starts a thread as its owner, who stays its owner when they replace it', async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const [photo, newPhoto] = await images(2);
    expect(await history.owner(thread)).toBeUndefined();
    await history.setOrigin(thread, photo, owner);
    expect(await history.owner(thread)).toBe(owner.user);
    await history.setOrigin(thread, newPhoto, owner);
    expect(await history.owner(thread)).toBe(owner.user);
    expect(await history.origin(thread)).toBe(newPhoto);
  });

  it("refuses to replace the photo of someone else's thread, naming the owner, and changes nothing", async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const [photo, first, intruder] = await images(3);
    await history.setOrigin(thread, photo, owner);
    await history.push(thread, { jobId: 'j1', result: first });

    const error = await rejection(history.setOrigin(thread, intruder, someoneElse));
    expect(error.code).toBe('not_allowed');
    expect(error.message).toBe(
      'Only U-owner (who started this thread) or an admin can replace its photo; post yours outside this thread to start a new one.',
    );
    expect(error.details).toEqual({ owner: 'U-owner', action: 'replace' });
    expect(await history.origin(thread)).toBe(photo);
    expect(await history.chain(thread)).toEqual([{ jobId: 'j1', result: first }]);
    expect(await history.owner(thread)).toBe(owner.user);
  });

  it("refuses undo to anyone but the thread's owner and leaves the chain as it was", async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const [photo, first, second] = await images(3);
    await history.setOrigin(thread, photo, owner);
    await history.push(thread, { jobId: 'j1', result: first });
    // Anyone in the thread may add an edit; only the owner may take one back.
    await history.push(thread, { jobId: 'j2', result: second });

    const error = await rejection(history.undo(thread, someoneElse));
    expect(error.code).toBe('not_allowed');
    expect(error.message).toBe('Only U-owner (who started this thread) or an admin can undo edits in this thread.');
    expect(error.details).toEqual({ owner: 'U-owner', action: 'undo' });
    expect((await rejection(history.checkOwner(thread, someoneElse, 'undo'))).code).toBe('not_allowed');
    expect(await history.sourceFor(thread)).toBe(second);

    await history.checkOwner(thread, owner, 'undo');
    expect(await history.undo(thread, owner)).toEqual({ jobId: 'j1', result: first });
  });

  it("lets an admin undo and replace the photo in someone else's thread, which stays the owner's", async () => {
    const history = new ThreadHistory(redis, keys);
    const thread = newThread();
    const admin = { user: 'U-admin', isAdmin: true };
    const [photo, first, adminPhoto] = await images(3);
    await history.setOrigin(thread, photo, owner);
    await history.push(thread, { jobId: 'j1', result: first });

    expect(await history.undo(thread, admin)).toBeUndefined();
    expect(await history.sourceFor(thread)).toBe(photo);
    await history.setOrigin(thread, adminPhoto, admin);
    expect(await history.origin(thread)).toBe(adminPhoto);
    expect(await history.owner(thread)).toBe(owner.user);
    expect((await rejection(history.undo(thread, { user: 'U-admin' }))).code).toBe('not_allowed');
  });

  it('gives a new thread to exactly one of two people who start it at the same moment', async () => {
    const history = new ThreadHistory(redis, keys);
    const [alicePhoto, bobPhoto] = await images(2);
    for (let round = 0; round < 5; round++) {
      const thread = newThread();
      const outcomes = await Promise.allSettled([
        history.setOrigin(thread, alicePhoto, { user: 'alice' }),
        new ThreadHistory(connect(), keys).setOrigin(thread, bobPhoto, { user: 'bob' }),
      ]);
      const won = outcomes.map((o) => o.status === 'fulfilled');
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = won[0] ? 'alice' : 'bob';
      expect(await history.owner(thread)).toBe(winner);
      expect(await history.origin(thread)).toBe(winner === 'alice' ? alicePhoto : bobPhoto);
      const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).toMatchObject({ code: 'not_allowed', details: { owner: winner, action: 'replace' } });
    }
  });

  it('keeps threads apart whose channel and thread ids differ only in where a colon falls', async () => {
    const history = new ThreadHistory(redis, keys);
    const pairs: [ThreadId, ThreadId][] = [
      [{ platform: 'cli', channel: 'shell:x', thread: 'y' }, { platform: 'cli', channel: 'shell', thread: 'x:y' }],
      [{ platform: 'cli', channel: 'a%3Ab', thread: 't' }, { platform: 'cli', channel: 'a:b', thread: 't' }],
    ];
    for (const [a, b] of pairs) {
      expect(listKey(a)).not.toBe(listKey(b));
      expect(originKey(a)).not.toBe(originKey(b));
      expect(ownerKey(a)).not.toBe(ownerKey(b));
      const [photoA, photoB] = await images(2);
      await history.setOrigin(a, photoA, { user: 'alice' });
      await history.setOrigin(b, photoB, { user: 'bob' });
      expect(await history.sourceFor(a)).toBe(photoA);
      expect(await history.owner(a)).toBe('alice');
      expect(await history.owner(b)).toBe('bob');
      await history.undo(a, { user: 'alice' });
      expect((await rejection(history.undo(b, { user: 'alice' }))).code).toBe('not_allowed');
    }
    // Ordinary platform ids keep the keys they had before parts were encoded.
    expect(keys.thread('slack', 'C123', '1700000000.123456')).toBe(`${keys.prefix}:thread:slack:C123:1700000000.123456`);
  });

  it('rejects bad options when it is built, naming the value', () => {
    for (const options of [{ ttlSeconds: 0 }, { ttlSeconds: 2.5 }, { maxLength: 0 }, { maxLength: -3 }, { maxLength: Number.NaN }]) {
      const [[name, value]] = Object.entries(options);
      expect(() => new ThreadHistory(redis, keys, options)).toThrow(GasError);
      expect(() => new ThreadHistory(redis, keys, options)).toThrow(new RegExp(`${name}.*${String(value).replace('.', '\\.')}`));
    }
  });
});
