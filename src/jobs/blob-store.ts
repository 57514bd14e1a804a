/**
 * Images in Redis, addressed by the SHA-256 of their bytes and kept for a limited time
 * (docs/architecture.md, "Contracts"): jobs and events carry the refs this store hands out, never bytes.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { GasError } from '../errors.js';
import { blobRefSchema, type BlobRef } from './contracts.js';
import type { Keys } from './keys.js';

const REF_PREFIX = 'blob:sha256:';
const MB = 1024 * 1024;
/** Redis refuses string values larger than this. */
const REDIS_MAX_STRING_BYTES = 512 * MB;

export const BLOB_STORE_DEFAULTS = {
  /** A week: long enough to come back to a thread, short enough to bound memory. */
  ttlSeconds: 7 * 24 * 60 * 60,
  /**
   * A bound on what the service itself stores, not the limit on what people send (that is
   * `decodePhoto`'s, 20 MB as sent): results and mask overlays are PNGs at the photo's
   * resolution, and a PNG of the largest photo taken (40 MP × 3 bytes) can reach ~115 MB.
   */
  maxBytes: 128 * MB,
} as const;

export interface BlobStoreOptions {
  /** How long a stored blob lives after its last put or touch. */
  ttlSeconds?: number;
  /** The largest blob `put` accepts. */
  maxBytes?: number;
}

/** The ref of some bytes, without storing them. */
export function blobRefOf(bytes: Buffer): BlobRef {
  return `${REF_PREFIX}${createHash('sha256').update(bytes).digest('hex')}`;
}

export class BlobStore {
  readonly ttlSeconds: number;
  readonly maxBytes: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    options: BlobStoreOptions = {},
  ) {
    this.ttlSeconds = wholeOption(options.ttlSeconds ?? BLOB_STORE_DEFAULTS.ttlSeconds, 'Blob store option ttlSeconds', 1);
    this.maxBytes = wholeOption(options.maxBytes ?? BLOB_STORE_DEFAULTS.maxBytes, 'Blob store option maxBytes', 1, REDIS_MAX_STRING_BYTES);
  }

  /**
   * Stores the bytes and returns their ref. Storing the same bytes again returns the same ref and
   * restarts the blob's TTL (never shortening a longer one set by `touch`).
   */
  /** Stores bytes under their hash; `ttlSeconds` shortens the life of throwaway images such as previews. */
  async put(bytes: Buffer, ttlSeconds: number = this.ttlSeconds): Promise<BlobRef> {
    checkTtl(ttlSeconds, 'put: ttlSeconds');
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) {
      throw new GasError('bad_image', 'The image is empty; post it again.');
    }
    if (bytes.length > this.maxBytes) {
      throw new GasError('bad_image', `The image is over the ${formatMb(this.maxBytes)} MB limit; post a smaller one.`, {
        bytes: bytes.length,
        maxBytes: this.maxBytes,
      });
    }
    const ref = blobRefOf(bytes);
    const key = this.keyOf(ref);
    // Already stored: extending its life is enough, no need to send the bytes again.
    if (await this.extend(key, ttlSeconds)) return ref;
    await this.redis.set(key, bytes, 'EX', ttlSeconds);
    return ref;
  }

  /** The bytes of a stored blob; a person is asked to post the image again once it has expired. */
  async get(ref: BlobRef): Promise<Buffer> {
    const bytes = await this.redis.getBuffer(this.keyOf(ref));
    if (bytes === null) {
      throw new GasError('bad_input', 'That image has expired or was never stored here; post it again to edit it.', { ref });
    }
    return bytes;
  }

  async has(ref: BlobRef): Promise<boolean> {
    return (await this.redis.exists(this.keyOf(ref))) === 1;
  }

  /**
   * Keeps a blob for at least `ttlSeconds` more (default: the store's TTL); a blob that already
   * lives longer is left alone, since other jobs and threads may share it. False when the blob is gone.
   */
  async touch(ref: BlobRef, ttlSeconds: number = this.ttlSeconds): Promise<boolean> {
    checkTtl(ttlSeconds, 'touch: ttlSeconds');
    return this.extend(this.keyOf(ref), ttlSeconds);
  }

  /** EXPIRE … GT, which also answers 0 for a key that outlives the new TTL: then ask whether it exists. */
  private async extend(key: string, ttlSeconds: number): Promise<boolean> {
    if ((await this.redis.expire(key, ttlSeconds, 'GT')) === 1) return true;
    return (await this.redis.exists(key)) === 1;
  }

  private keyOf(ref: BlobRef): string {
    return this.keys.blob(checkBlobRef(ref).slice(REF_PREFIX.length));
  }
}

/** The ref itself, or a bad_input error for anything that is not one. */
export function checkBlobRef(ref: string): BlobRef {
  if (!blobRefSchema.safeParse(ref).success) {
    throw new GasError('bad_input', `"${String(ref).slice(0, 80)}" is not an image reference (expected blob:sha256:<64 hex digits>).`, { ref });
  }
  return ref;
}

/** A TTL is a whole number of seconds, at least 1; `name` says whose, for the error. */
export function checkTtl(ttlSeconds: number, name: string): void {
  wholeOption(ttlSeconds, name, 1);
}

/** A whole-number option within [min, max], or bad_input naming it (`name`) and the value. */
export function wholeOption(value: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new GasError('bad_input', `${name} must be a whole number ${range}; got ${value}.`);
  }
  return value;
}

/** Megabytes with at most one decimal, at least two significant digits below 1 MB. */
function formatMb(bytes: number): string {
  const mb = bytes / MB;
  return String(mb >= 1 ? Math.round(mb * 10) / 10 : Number(mb.toPrecision(2)));
}
