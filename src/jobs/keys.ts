/**
 * Every Redis key the service uses, in one place, under one prefix per deployment (and per test):
 * the queue's, the blob store's, the thread history's and the chat flow's (`<prefix>:chat:…`).
 * BullMQ's own keys live under `<prefix>:bull`. Each entry says what the key holds, its Redis type
 * and how long it lives; "the queue's TTL" is EditQueueConfig.ttlSeconds (GAS_TTL_SECONDS, 7 days
 * by default), which the chat flow's records share unless configured otherwise.
 */
export interface Keys {
  readonly prefix: string;
  /** BullMQ's prefix option: BullMQ names and expires the keys under it. */
  readonly bull: string;

  // ── blob store ──
  /** An image's bytes, named by their hash. String. TTL: the blob store's (7 days), extended by whatever still names it; shorter for previews. */
  blob(hash: string): string;

  // ── a job's events ──
  /** A job's events, in order. Stream of `seq`, `at`, `body` (JSON). TTL: the queue's, from the last event. */
  events(jobId: string): string;
  /** The last sequence number given to a job's events. String (integer). TTL: the queue's, from the last event. */
  seq(jobId: string): string;
  /** Set once a job's terminal event is published: done, failed or cancelled exactly once. String (when, ms). TTL: the queue's. */
  terminal(jobId: string): string;
  /** The lock token of the run of a job that may publish its events (a run that lost its lock may not). String. TTL: the queue's. */
  runner(jobId: string): string;

  // ── cancelling and handing back ──
  /** Who cancelled a job, set while the cancel is pending. String (user id). TTL: the queue's. */
  cancel(jobId: string): string;
  /** Pub/sub channel that tells workers a job was cancelled; messages are job ids. No key is stored. */
  readonly cancelChannel: string;
  /** Set by a worker that hands a job back on shutdown, read (and deleted) by the worker that picks it up. String '1'. TTL: 1 hour. */
  handoff(jobId: string): string;

  // ── admission ──
  /** The ids of a user's jobs in the queue (waiting or running). Set. TTL: the queue's, from the last admission. */
  userActive(user: string): string;
  /** A user's jobs held back by the per-user cap, oldest first. List of ids. TTL: the queue's, from the last one held. */
  userBacklog(user: string): string;
  /** A held-back job's EditJob JSON, until it is admitted to the queue. String. TTL: the queue's. */
  held(jobId: string): string;
  /** The ids of every held-back job (their count is part of queue positions and the global cap). Set. No TTL: ids leave when admitted or cancelled. */
  readonly heldJobs: string;
  /** Admitted jobs not yet in BullMQ, scored by when (ms): they count toward the global cap meanwhile. Sorted set. TTL: the queue's; members older than a minute are dropped. */
  readonly admitting: string;
  /** Recent job durations (ms), newest first, for ETAs before any run was measured. List, trimmed to 50. No TTL. */
  readonly durations: string;
  /** What workers measured of recent edits (iterations per second, overhead, default steps), newest first, for start times. List of JSON, trimmed to 20. No TTL. */
  readonly runSamples: string;

  // ── the check step (docs/architecture.md, "The check step") ──
  /**
   * A job paused for its masks to be checked, and what became of the check. Hash: `status`
   * (waiting, going, cancelled, expired), `round`, `deadline` (ms), `state` (JSON: the job, its
   * source, the plan under check), `stageJob` (the BullMQ id of its edit stage, once going),
   * `thread` (its key in `threadChecks`, or ''). TTL: the queue's.
   */
  check(jobId: string): string;
  /** The ids of every job waiting at its check (for the queue's depth). Set. No TTL: ids leave on go, cancel or expiry. */
  readonly checkingJobs: string;
  /** The jobs of one conversation thread waiting at their check, by when they paused (ms). Sorted set. TTL: the queue's. */
  threadChecks(platform: string, channel: string, thread: string): string;

  // ── conversation threads (thread keys encode their parts, so no two threads share one) ──
  /** A conversation thread's chain of results. List of entry JSON, newest first. TTL: the thread history's (7 days), from the last change. */
  thread(platform: string, channel: string, thread: string): string;
  /** A conversation thread's original photo: the source once every edit is undone. String (a blob ref). TTL: as `thread`. */
  threadOrigin(platform: string, channel: string, thread: string): string;
  /** The user who started a conversation thread: only they (or an admin) may undo it or replace its photo. String (user id). TTL: as `thread`. */
  threadOwner(platform: string, channel: string, thread: string): string;

  // ── the chat flow ──
  /** A job the bot shows: its status message, requester, request, options and last rendered seq. String (JSON). TTL: the flow's, from when it was added. */
  chatJob(jobId: string): string;
  /** The jobs a platform's bot shows that have not reached their terminal event yet. Set of ids. TTL: the flow's, from the last one added. */
  unfinishedJobs(platform: string): string;
  /** Marks a thread as one of the bot's edit threads: the channel it was recorded under and its steps. String (JSON). TTL: the flow's. */
  editThread(platform: string, thread: string): string;
  /** Held by a person's first press of a button on one status message, so their double click acts once. String '1'. TTL: 1 s. */
  buttonPress(action: string, jobId: string, message: string, user: string): string;
  /** A platform rate budget's window of recent calls (e.g. a Slack workspace's chat.update), shared by every bot process. Sorted set. TTL: the window. */
  rateWindow(scope: string): string;
  /** The lease of the bot process that follows a job's status message (its holder's id). String. TTL: the lease's. */
  statusLease(jobId: string): string;
  /** A named lease among bot processes (a bot token's gateway connection, say). String. TTL: the lease's. */
  lease(name: string): string;
  /** How many edits a conversation thread has had, for "edit 3 of this thread". Counter. TTL: the flow's. */
  threadSteps(platform: string, thread: string): string;
  /** Set once the requester of a job was pinged about its end, so a restarted bot never pings twice. String '1'. TTL: the flow's. */
  notified(jobId: string): string;
  /** Claimed by the first delivery of a person's message, so a redelivery makes no second job. String '1'. TTL: a day. */
  messageSeen(platform: string, channel: string, thread: string, message: string): string;

  // ── what a platform's transport remembers (adapters' own state, through PlatformStore) ──
  /**
   * One thing a platform's transport must remember across a restart of its process, under a name
   * of its choosing: a Discord "Edit image" target between the menu and its modal, the ids of
   * images it already uploaded and can show again. String (the transport's JSON). TTL: the
   * transport's, per value (15 minutes for a menu target).
   */
  platformState(platform: string, name: string): string;
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

/** Parts each preceded by their length (`7.discord:2.C1:…`), so that ids containing ':' cannot make two lists share a key. */
const lengthPrefixed = (parts: string[]) => parts.map((part) => `${part.length}.${part}`).join(':');

export function redisKeys(prefix = 'gas'): Keys {
  const chat = `${prefix}:chat`;
  return {
    prefix,
    bull: `${prefix}:bull`,
    blob: (hash) => `${prefix}:blob:${hash}`,
    events: (jobId) => `${prefix}:events:${jobId}`,
    seq: (jobId) => `${prefix}:seq:${jobId}`,
    terminal: (jobId) => `${prefix}:terminal:${jobId}`,
    runner: (jobId) => `${prefix}:runner:${jobId}`,
    cancel: (jobId) => `${prefix}:cancel:${jobId}`,
    cancelChannel: `${prefix}:cancel`,
    handoff: (jobId) => `${prefix}:handoff:${jobId}`,
    userActive: (user) => `${prefix}:user:${user}:active`,
    userBacklog: (user) => `${prefix}:user:${user}:backlog`,
    held: (jobId) => `${prefix}:held:${jobId}`,
    heldJobs: `${prefix}:held-jobs`,
    admitting: `${prefix}:admitting`,
    durations: `${prefix}:durations`,
    check: (jobId) => `${prefix}:check:${jobId}`,
    checkingJobs: `${prefix}:checking-jobs`,
    threadChecks: (platform, channel, thread) => `${prefix}:thread-checks:${threadPath(platform, channel, thread)}`,
    runSamples: `${prefix}:run-samples`,
    thread: (platform, channel, thread) => `${prefix}:thread:${threadPath(platform, channel, thread)}`,
    threadOrigin: (platform, channel, thread) => `${prefix}:thread-origin:${threadPath(platform, channel, thread)}`,
    threadOwner: (platform, channel, thread) => `${prefix}:thread-owner:${threadPath(platform, channel, thread)}`,
    chatJob: (jobId) => `${chat}:job:${jobId}`,
    unfinishedJobs: (platform) => `${chat}:unfinished:${platform}`,
    editThread: (platform, thread) => `${chat}:edit-thread:${platform}:${thread}`,
    buttonPress: (action, jobId, message, user) => `${chat}:press:${lengthPrefixed([action, jobId, message, user])}`,
    rateWindow: (scope) => `${prefix}:rate:${scope}`,
    statusLease: (jobId) => `${chat}:status-lease:${jobId}`,
    lease: (name) => `${prefix}:lease:${name}`,
    threadSteps: (platform, thread) => `${chat}:thread-steps:${lengthPrefixed([platform, thread])}`,
    notified: (jobId) => `${chat}:notified:${jobId}`,
    messageSeen: (platform, channel, thread, message) => `${chat}:seen:${lengthPrefixed([platform, channel, thread, message])}`,
    platformState: (platform, name) => `${prefix}:platform:${lengthPrefixed([platform, name])}`,
  };
}
