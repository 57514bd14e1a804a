/** The blob store against the real Redis, under a prefix of its own that is deleted afterwards. */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GasError } from '../src/errors.js';
import { DEFAULT_MAX_PIXELS } from '../src/image/decode.js';
import { BLOB_STORE_DEFAULTS, BlobStore, blobRefOf } from '../src/jobs/blob-store.js';
import { redisKeys } from '../src/jobs/keys.js';
import { connectRedis, deleteKeysWithPrefix } from '../src/jobs/redis.js';
import { rejection } from './helpers/errors.js';

const keys = redisKeys(`gas-test-${process.pid}-${Date.now()}-blobs`);
const MB = 1024 * 1024;
let redis: Redis;

beforeAll(() => {
  redis = connectRedis();
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, keys.prefix);
  await redis.quit();
});

const keyOf = (ref: string) => keys.blob(ref.slice('blob:sha256:'.length));


function thrown(fn: () => unknown): GasError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GasError);
    return error as GasError;
  }
  throw new Error('expected a GasError');
}

describe('BlobStore', () => {
  it('returns the bytes it stored, under the SHA-256 of those bytes', async () => {
    const store = new BlobStore(redis, keys);
    const bytes = randomBytes(4096);
    const ref = await store.put(bytes);
    expect(ref).toBe(`blob:sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(ref).toBe(blobRefOf(bytes));
    expect(Buffer.compare(await store.get(ref), bytes)).toBe(0);
    expect(await store.has(ref)).toBe(true);
    expect(Buffer.compare((await redis.getBuffer(keyOf(ref)))!, bytes)).toBe(0);
  });

  it('stores with the default TTL of a week', async () => {
    const store = new BlobStore(redis, keys);
    const ref = await store.put(randomBytes(16));
    const ttl = await redis.ttl(keyOf(ref));
    expect(ttl).toBeGreaterThan(BLOB_STORE_DEFAULTS.ttlSeconds - 5);
    expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600);
  });

  it('gives the same ref for the same bytes and restarts their TTL', async () => {
    const store = new BlobStore(redis, keys, { ttlSeconds: 100 });
    const bytes = randomBytes(1000);
    const ref = await store.put(bytes);
    await redis.pexpire(keyOf(ref), 5000);
    expect(await store.put(Buffer.from(bytes))).toBe(ref);
    const pttl = await redis.pttl(keyOf(ref));
    expect(pttl).toBeGreaterThan(95_000);
    expect(pttl).toBeLessThanOrEqual(100_000);
    expect(Buffer.compare(await store.get(ref), bytes)).toBe(0);
  });

  it('extends a blob with touch but never shortens one that lives longer', async () => {
    const store = new BlobStore(redis, keys, { ttlSeconds: 1000 });
    const ref = await store.put(randomBytes(64));
    expect(await store.touch(ref, 10)).toBe(true);
    expect(await redis.pttl(keyOf(ref))).toBeGreaterThan(990_000);
    expect(await store.touch(ref, 5000)).toBe(true);
    expect(await redis.pttl(keyOf(ref))).toBeGreaterThan(4_990_000);
    await redis.pexpire(keyOf(ref), 2000);
    expect(await store.touch(ref)).toBe(true);
    expect(await redis.pttl(keyOf(ref))).toBeGreaterThan(990_000);
  });

  it('answers false when touching or asking for a blob that is not there', async () => {
    const store = new BlobStore(redis, keys);
    const ref = blobRefOf(randomBytes(32));
    expect(await store.touch(ref)).toBe(false);
    expect(await store.has(ref)).toBe(false);
    expect(await redis.exists(keyOf(ref))).toBe(0);
  });

  it('refuses images over the size limit, naming the limit in MB', async () => {
    const store = new BlobStore(redis, keys, { maxBytes: 1 * MB });
    const atLimit = await store.put(randomBytes(MB));
    expect((await store.get(atLimit)).length).toBe(MB);
    const over = randomBytes(MB + 1);
    const error = await rejection(store.put(over));
    expect(error.code).toBe('bad_image');
    expect(error.message).toContain('1 MB');
    expect(await store.has(blobRefOf(over))).toBe(false);
  });

  it('stores by default a PNG of the largest photo taken, as results and overlays are, and refuses more than 128 MB', async () => {
    // An 8-bit RGB PNG is at most 3 bytes per pixel plus a filter byte per row and zlib framing.
    expect(BLOB_STORE_DEFAULTS.maxBytes).toBeGreaterThan(DEFAULT_MAX_PIXELS * 3 * 1.01);
    const store = new BlobStore(redis, keys);
    const error = await rejection(store.put(Buffer.alloc(128 * MB + 1)));
    expect(error.code).toBe('bad_image');
    expect(error.message).toContain('128 MB');
  });

  it('refuses empty images', async () => {
    const error = await rejection(new BlobStore(redis, keys).put(Buffer.alloc(0)));
    expect(error.code).toBe('bad_image');
  });

  it('rejects malformed refs as bad input', async () => {
    const store = new BlobStore(redis, keys);
    const hex = 'a'.repeat(64);
    for (const ref of ['', 'nope', `blob:sha256:${hex.slice(1)}`, `blob:sha256:${hex.toUpperCase()}`, `blob:md5:${hex}`, `blob:sha256:${hex}\n`]) {
      for (const call of [() => store.get(ref), () => store.has(ref), () => store.touch(ref)]) {
        const error = await rejection(call());
        expect(error.code).toBe('bad_input');
        expect(error.message).toContain('not an image reference');
      }
    }
  });

  it('asks for the image again once its blob has expired', async () => {
    const store = new BlobStore(redis, keys);
    const ref = await store.put(randomBytes(256));
    await redis.pexpire(keyOf(ref), 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await store.has(ref)).toBe(false);
    const error = await rejection(store.get(ref));
    expect(error.code).toBe('bad_input');
    expect(error.message).toMatch(/^That image has expired/);
    expect(error.message).toContain('post it again');
  });

  it('expires a blob stored with a 1-second TTL', async () => {
    const store = new BlobStore(redis, keys, { ttlSeconds: 1 });
    const ref = await store.put(randomBytes(256));
    expect(await store.has(ref)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect((await rejection(store.get(ref))).code).toBe('bad_input');
  });

  it('rejects bad options when it is built, naming the value', () => {
    for (const ttlSeconds of [0, -1, 1.5, Number.NaN, Infinity]) {
      const error = thrown(() => new BlobStore(redis, keys, { ttlSeconds }));
      expect(error.code).toBe('bad_input');
      expect(error.message).toContain(`ttlSeconds`);
      expect(error.message).toContain(String(ttlSeconds));
    }
    for (const maxBytes of [0, -5, 2.5, 513 * MB]) {
      const error = thrown(() => new BlobStore(redis, keys, { maxBytes }));
      expect(error.code).toBe('bad_input');
      expect(error.message).toContain(`maxBytes`);
      expect(error.message).toContain(String(maxBytes));
    }
  });

  it('rejects a bad TTL passed to touch', async () => {
    const store = new BlobStore(redis, keys);
    const ref = await store.put(randomBytes(8));
    for (const ttlSeconds of [0, 2.5]) {
      const error = await rejection(store.touch(ref, ttlSeconds));
      expect(error.code).toBe('bad_input');
      expect(error.message).toContain(String(ttlSeconds));
    }
  });
});
