/** The queue and the storage beside it, made the one way every process makes them: one TTL for all. */
import type { Redis } from 'ioredis';
import { BlobStore } from './blob-store.js';
import { EditQueue } from './edit-queue.js';
import type { Keys } from './keys.js';
import type { EditQueueConfig } from './queue-settings.js';
import { ThreadHistory } from './thread-history.js';

export interface JobStores {
  queue: EditQueue;
  blobs: BlobStore;
  threads: ThreadHistory;
}

/** Images, threads and events all live as long as the queue keeps jobs (`ttlSeconds`). */
export function jobStores(redis: Redis, keys: Keys, config: Partial<EditQueueConfig> = {}): JobStores {
  const queue = new EditQueue(redis, keys, config);
  const ttl = { ttlSeconds: queue.config.ttlSeconds };
  return { queue, blobs: new BlobStore(redis, keys, ttl), threads: new ThreadHistory(redis, keys, ttl) };
}
