/**
 * The queue's settings and their defaults, apart from the queue itself so that the configuration
 * (and `gas --help`) can name them without loading BullMQ.
 */

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface EditQueueConfig {
  /** BullMQ queue name. */
  queueName: string;
  /** Jobs a person may have in the queue (waiting or running) at once. */
  perUserLimit: number;
  /** What happens to a person's next job over the limit: held back until one finishes, or refused. */
  overLimit: 'queue' | 'refuse';
  /** A person's jobs held back by their limit at once; more are refused, so one person's burst cannot fill the queue. */
  maxHeldPerUser: number;
  /** Jobs waiting (admitted or held back) beyond which new ones are refused as busy. */
  maxQueueLength: number;
  /** Users who may cancel anyone's jobs. */
  admins: readonly string[];
  /** How long events, held jobs and finished jobs' records live. */
  ttlSeconds: number;
  /** ETA basis before any job has finished. */
  defaultDurationMs: number;
}

export const DEFAULT_QUEUE_CONFIG: EditQueueConfig = {
  queueName: 'edits',
  perUserLimit: 2,
  overLimit: 'queue',
  maxHeldPerUser: 5,
  maxQueueLength: 200,
  admins: [],
  ttlSeconds: 7 * 24 * 3600,
  defaultDurationMs: 30_000,
};

