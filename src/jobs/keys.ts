/**
 * Every Redis key the service uses, in one place, under one prefix per deployment (and per test).
 * BullMQ's own keys live under `<prefix>:bull`.
 */
export interface Keys {
  readonly prefix: string;
  /** BullMQ's prefix option. */
  readonly bull: string;
  blob(hash: string): string;
  /** Stream of a job's events. */
  events(jobId: string): string;
  /** Last sequence number given to a job's events. */
  seq(jobId: string): string;
  /** Set once a job's terminal event is published: done, failed or cancelled exactly once. */
  terminal(jobId: string): string;
  /** Who cancelled a job, set while the cancel is pending. */
  cancel(jobId: string): string;
  /** Pub/sub channel that tells workers a job was cancelled. */
  readonly cancelChannel: string;
  /** The ids of a user's jobs in the queue (waiting or running). */
  userActive(user: string): string;
  /** A user's jobs held back by the per-user cap, oldest first. */
  userBacklog(user: string): string;
  /** A held-back job's EditJob JSON, until it is admitted to the queue. */
  held(jobId: string): string;
  /** The ids of every held-back job (their count is part of queue positions and the global cap). */
  readonly heldJobs: string;
  /** Set by a worker that hands a job back on shutdown, read by the worker that picks it up. */
  handoff(jobId: string): string;
  /** The lock token of the run of a job that may publish its events (a run that lost its lock may not). */
  runner(jobId: string): string;
  /** Admitted jobs not yet in BullMQ, scored by when: they count toward the global cap meanwhile. */
  readonly admitting: string;
  /** Recent job durations (ms), newest first, for ETAs. */
  readonly durations: string;
  /** A conversation thread's chain of results. Thread keys encode their parts, so no two threads share one. */
  thread(platform: string, channel: string, thread: string): string;
  /** A conversation thread's original photo (a blob ref): the source once every edit is undone. */
  threadOrigin(platform: string, channel: string, thread: string): string;
  /** The user who started a conversation thread: only they (or an admin) may undo it or replace its photo. */
  threadOwner(platform: string, channel: string, thread: string): string;
}

/**
 * One part of a key with its separator escaped: "%" becomes "%25" and ":" becomes "%3A" (as
 * encodeURIComponent writes them), so `shell:x` + `y` and `shell` + `x:y` get different keys
 * while ordinary platform ids stay as they are.
 */
function keyPart(part: string): string {
  return part.replace(/%/g, '%25').replace(/:/g, '%3A');
}

const threadPath = (platform: string, channel: string, thread: string) => [platform, channel, thread].map(keyPart).join(':');

export function redisKeys(prefix = 'gas'): Keys {
  return {
    prefix,
    bull: `${prefix}:bull`,
    blob: (hash) => `${prefix}:blob:${hash}`,
    events: (jobId) => `${prefix}:events:${jobId}`,
    seq: (jobId) => `${prefix}:seq:${jobId}`,
    terminal: (jobId) => `${prefix}:terminal:${jobId}`,
    cancel: (jobId) => `${prefix}:cancel:${jobId}`,
    cancelChannel: `${prefix}:cancel`,
    userActive: (user) => `${prefix}:user:${user}:active`,
    userBacklog: (user) => `${prefix}:user:${user}:backlog`,
    held: (jobId) => `${prefix}:held:${jobId}`,
    heldJobs: `${prefix}:held-jobs`,
    handoff: (jobId) => `${prefix}:handoff:${jobId}`,
    runner: (jobId) => `${prefix}:runner:${jobId}`,
    admitting: `${prefix}:admitting`,
    durations: `${prefix}:durations`,
    thread: (platform, channel, thread) => `${prefix}:thread:${threadPath(platform, channel, thread)}`,
    threadOrigin: (platform, channel, thread) => `${prefix}:thread-origin:${threadPath(platform, channel, thread)}`,
    threadOwner: (platform, channel, thread) => `${prefix}:thread-owner:${threadPath(platform, channel, thread)}`,
  };
}
