/**
 * The check step's storage (docs/architecture.md, "The check step"): a job paused for its masks
 * to be checked holds no worker; what the check needs lives here, in Redis, so a restarted bot or
 * worker loses nothing. One hash per job records where the check stands (waiting, going,
 * cancelled, expired), its round and deadline, and the state: the job, the image it grounded and
 * the plan under check. Every move happens in one Lua step (scripts/check-*.lua), so a Go, a
 * cancel, an expiry and a fix racing each other settle once.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { checkedPlanSchema } from '../plan/fix.js';
import { blobRefSchema, checkReasonSchema, editJobSchema, type JobEventBody } from './contracts.js';
import type { RunFence } from './job-events.js';
import type { Keys } from './keys.js';
import { scripts } from './scripts/index.js';
import type { ThreadId } from './thread-history.js';

export const CHECK_STATUSES = ['waiting', 'going', 'cancelled', 'expired'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** Who reads a reply that the rules cannot: the worker's planner when it is a model, else nobody. */
export const FIX_READERS = ['rules', 'model'] as const;

/** What a check holds, round by round. */
export const checkStateSchema = z.object({
  /** The job as submitted (its requester, options, check settings). */
  job: editJobSchema,
  /** The image the masks were found on, which the edit will start from. */
  source: blobRefSchema,
  /** The plan under check and its regions. */
  checked: checkedPlanSchema,
  /** Why the check asks, as of this round. */
  reasons: z.array(checkReasonSchema),
  /** The lettered masks of this round. */
  overlay: blobRefSchema,
  reader: z.enum(FIX_READERS),
});
export type CheckState = z.infer<typeof checkStateSchema>;

/** A job's check as it stands. */
export interface Check {
  jobId: string;
  status: CheckStatus;
  round: number;
  deadline: number;
  /** The BullMQ id of its edit stage, once going. */
  stageJob?: string;
  state: CheckState;
  /** Its key among its thread's checks, or '' for a job in no thread. */
  threadKey: string;
}

export type SettleResult = { ok: true; round: number; state: CheckState } | { ok: false; reason: string };

/** The BullMQ id of a job's edit stage after the check round the person said go on. */
export const editStageId = (jobId: string, round: number) => `${jobId}-go-${round}`;

export class CheckStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
  ) {}

  async get(jobId: string): Promise<Check | undefined> {
    const hash = await this.redis.hgetall(this.keys.check(jobId));
    if (!hash.status || !hash.state) return undefined;
    const state = checkStateSchema.safeParse(JSON.parse(hash.state));
    if (!state.success || !(CHECK_STATUSES as readonly string[]).includes(hash.status)) return undefined;
    return {
      jobId,
      status: hash.status as CheckStatus,
      round: Number(hash.round),
      deadline: Number(hash.deadline),
      ...(hash.stageJob ? { stageJob: hash.stageJob } : {}),
      state: state.data,
      threadKey: hash.thread ?? '',
    };
  }

  /**
   * The life of a check's keys: the usual TTL, but never ending before its deadline and an hour
   * more, so that a check longer than GAS_TTL_SECONDS still ends (expires) rather than vanishing.
   */
  private ttlUntil(deadline: number): number {
    return Math.max(this.ttlSeconds, Math.ceil((deadline - Date.now()) / 1000) + 3600);
  }

  /** Pauses a job for its check with its first `checking` event; fenced to the run that grounded it. */
  async pause(jobId: string, state: CheckState, event: JobEventBody & { type: 'checking' }, fence: RunFence): Promise<'paused' | 'already' | 'ended' | 'superseded' | 'cancelled'> {
    const { requester } = state.job;
    const thread = requester.thread ? this.keys.threadChecks(requester.platform, requester.channel, requester.thread) : '';
    return scripts(this.redis).checkPause(
      {
        seq: this.keys.seq(jobId), events: this.keys.events(jobId), terminal: this.keys.terminal(jobId), runner: fence.key,
        cancel: this.keys.cancel(jobId), check: this.keys.check(jobId), checking: this.keys.checkingJobs, threadChecks: thread,
      },
      { token: fence.token, state: JSON.stringify(state), body: JSON.stringify(event), ttlSeconds: this.ttlUntil(event.deadline), now: Date.now(), jobId, deadline: event.deadline },
    );
  }

  /** The next round of a waiting check, with its `checking` event: 'updated', or why not ('stale': another fix came first). */
  async update(jobId: string, round: number, state: CheckState, event: JobEventBody & { type: 'checking' }): Promise<string> {
    return scripts(this.redis).checkUpdate(
      { seq: this.keys.seq(jobId), events: this.keys.events(jobId), terminal: this.keys.terminal(jobId), check: this.keys.check(jobId) },
      { round, state: JSON.stringify(state), body: JSON.stringify(event), ttlSeconds: this.ttlUntil(event.deadline), now: Date.now() },
    );
  }

  /** Moves a check on (see check-settle.lua), returning the state it moved with. */
  async settle(check: Pick<Check, 'jobId' | 'threadKey'>, to: 'going' | 'cancelled' | 'expired', from: readonly CheckStatus[], extra: { stageJob?: string; deadline?: number } = {}): Promise<SettleResult> {
    const reply = await scripts(this.redis).checkSettle(
      { check: this.keys.check(check.jobId), checking: this.keys.checkingJobs, threadChecks: check.threadKey },
      { to, from: from.join(','), now: Date.now(), jobId: check.jobId, stageJob: extra.stageJob ?? '', deadline: extra.deadline === undefined ? '' : String(extra.deadline) },
    );
    if (reply[0] !== 'ok') return { ok: false, reason: reply[0] };
    return { ok: true, round: Number(reply[1]), state: checkStateSchema.parse(JSON.parse(reply[2]!)) };
  }

  /** The jobs of a conversation thread waiting at their check, newest first. */
  async inThread(thread: ThreadId): Promise<Check[]> {
    const ids = await this.redis.zrevrange(this.keys.threadChecks(thread.platform, thread.channel, thread.thread), 0, 19);
    const checks = await Promise.all(ids.map((id) => this.get(id)));
    return checks.filter((check): check is Check => check?.status === 'waiting');
  }

  /** How many jobs wait at their check now. */
  async waitingCount(): Promise<number> {
    return this.redis.scard(this.keys.checkingJobs);
  }
}
