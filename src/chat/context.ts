/**
 * What every part of one platform's chat flow shares: the queue and its storage, the platform's
 * transport, the flow's records in Redis, its settings and its logger.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { BlobStore } from '../jobs/blob-store.js';
import type { CheckMode, Platform } from '../jobs/contracts.js';
import type { EditQueue } from '../jobs/edit-queue.js';
import type { Keys } from '../jobs/keys.js';
import type { Leases } from '../jobs/lease.js';
import type { ThreadHistory } from '../jobs/thread-history.js';
import type { EditBudget } from './edit-budget.js';
import type { MessageDedupe } from './dedupe.js';
import type { JobRecords } from './job-records.js';
import type { ChatTransport } from './transport.js';

export interface ChatFlowConfig {
  /** The largest photo a person may send. */
  maxImageBytes: number;
  /** Users who may press any job's buttons, on top of those the platform marks as admins. */
  admins: readonly string[];
  /** How long jobs' status records and edit threads are remembered (the blobs' TTL). */
  ttlSeconds: number;
  /** An edit that ends longer than this after it was asked for pings its requester. */
  notifyAfterMs: number;
  /** The most iterations a request may ask for. */
  maxSteps: number;
  /**
   * When an edit pauses after grounding for its masks to be checked (docs/architecture.md, "The
   * check step"): always, when the regions are doubtful, or never; a request's own `check` option wins.
   */
  checkMasks: CheckMode;
  /** A check nobody answers within this long ends as expired. */
  checkTimeoutMs: number;
}

/** What the bots' setting (GAS_CHECK_MASKS) is when none is given. */
export const DEFAULT_CHECK_MASKS: CheckMode = 'unsure';

export const DEFAULT_CHAT_FLOW_CONFIG: ChatFlowConfig = {
  maxImageBytes: 20 * 1024 * 1024,
  admins: [],
  ttlSeconds: 7 * 24 * 3600,
  notifyAfterMs: 10_000,
  maxSteps: 1000,
  // A flow built in code checks only when told to; the bots' setting defaults to DEFAULT_CHECK_MASKS.
  checkMasks: 'never',
  checkTimeoutMs: 10 * 60_000,
};

/** What a flow is built from. */
export interface ChatFlowDeps {
  redis: Redis;
  keys: Keys;
  queue: EditQueue;
  blobs: BlobStore;
  threads: ThreadHistory;
  transport: ChatTransport;
  logger: Logger;
  config?: Partial<ChatFlowConfig>;
  /**
   * This process's leases on status messages, shared with the other bot processes on the same
   * Redis (default: a holder of its own, as one process alone).
   */
  leases?: Leases;
}

/** What the flow's parts share, once built. */
export interface ChatContext extends Omit<ChatFlowDeps, 'config' | 'leases'> {
  config: ChatFlowConfig;
  platform: Platform;
  records: JobRecords;
  dedupe: MessageDedupe;
  leases: Leases;
  /** The platform's shared budget of edits, where it has one. */
  budget?: EditBudget;
}
