/**
 * The contracts between chat adapters, the queue and GPU workers (docs/architecture.md, "Contracts"):
 * one zod schema per message, imported by producers and consumers alike. Jobs and events carry
 * blob refs, never image bytes.
 */
import { z } from 'zod';
import { ABLATIONS, MAX_SEED, MAX_STEPS, SCHEDULES } from '../distill/modes.js';
import { ERROR_CODES, failureFactsSchema } from '../errors.js';
import { boxSchema, planSchema } from '../plan/schema.js';

/** When the masks are checked before the edit: always, or when grounding is unsure (src/ground/region-checks.ts). */
export const CHECK_WHEN = ['always', 'unsure'] as const;
/** The longest a check may wait for its Go: a week. */
export const MAX_CHECK_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

export const CHECK_MODES = ['always', 'unsure', 'never'] as const;
export type CheckMode = (typeof CHECK_MODES)[number];

/** A content-addressed image in the blob store. */
export const blobRefSchema = z.string().regex(/^blob:sha256:[0-9a-f]{64}$/, 'must be a blob ref (blob:sha256:<hex>)');
export type BlobRef = z.infer<typeof blobRefSchema>;

/**
 * Where a job comes from: a chat platform's name as the platform registry gives it
 * (adapters/registry.ts), or `cli`. The contract checks only the shape, so adding a platform
 * touches no contract.
 */
export const platformSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a platform name (lower-case letters, digits and -)');
export type Platform = z.infer<typeof platformSchema>;

export const requesterSchema = z.object({
  platform: platformSchema,
  /** The platform's user id: admission, cancellation rights. Never sent to the planner. */
  user: z.string().min(1),
  channel: z.string().min(1),
  /** The thread the conversation lives in; a new job there edits the thread's latest result. */
  thread: z.string().min(1).optional(),
  message: z.string().min(1).optional(),
});
export type Requester = z.infer<typeof requesterSchema>;

export const editJobOptionsSchema = z.object({
  steps: z.number().int().min(1).max(MAX_STEPS).optional(),
  seed: z.number().int().min(0).max(MAX_SEED).optional(),
  schedule: z.enum(SCHEDULES).optional(),
  guidance: z.number().positive().max(50).optional(),
  composite: z.boolean().optional(),
  /** Per-subtask intensity, in plan order. */
  intensity: z.array(z.number().min(0).max(2)).max(8).optional(),
  ablation: z.enum(ABLATIONS).optional(),
});
export type EditJobOptions = z.infer<typeof editJobOptionsSchema>;

export const editJobSchema = z
  .object({
    id: z.string().min(1),
    requester: requesterSchema,
    source: blobRefSchema,
    /** What the person asked for; planned by the worker. */
    request: z.string().max(1000).optional(),
    /** Or an explicit plan. */
    plan: planSchema.optional(),
    options: editJobOptionsSchema.default({}),
    /** The job whose result this one edits again (thread iterations). */
    parent: z.string().optional(),
    /**
     * Edit the thread's latest result as of when the job starts (a reply sent while the previous
     * edit still ran then sees its result); `source` is the fallback when the thread has none.
     */
    fromThread: z.boolean().optional(),
    /** Lower runs first (BullMQ's convention); 0 = none. */
    priority: z.number().int().min(0).max(1000).default(0),
    createdAt: z.number().int(),
    /**
     * Pause after grounding for the person to check the masks (`always`, or `unsure`: when the
     * regions are doubtful), and end as expired if nobody says go within `timeoutMs`. Absent: never.
     */
    check: z.object({ when: z.enum(CHECK_WHEN), timeoutMs: z.number().int().min(1000).max(MAX_CHECK_TIMEOUT_MS) }).optional(),
    /**
     * Set on the BullMQ job of a stage after the first (docs/architecture.md, "The check step"): the
     * edit once the masks were checked, with the plan, source image and intensities as checked.
     */
    stage: z
      .object({
        kind: z.literal('edit'),
        /** The check round the person said go on. */
        round: z.number().int().min(1),
        plan: planSchema,
        source: blobRefSchema,
        intensity: z.array(z.number().min(0).max(2)).max(8).optional(),
      })
      .optional(),
  })
  .refine((job) => job.request !== undefined || job.plan !== undefined, 'needs a request or a plan');
export type EditJob = z.infer<typeof editJobSchema>;

export const regionSchema = z.object({
  phrase: z.string(),
  label: z.string(),
  boxes: z.array(boxSchema),
  source: z.enum(['user', 'detector', 'planner']).nullable(),
  /** The detector's score of each box (detector regions only). */
  scores: z.array(z.number()).optional(),
  /** Instances found, when the check step chose some of them (`boxes` are the chosen ones). */
  found: z.number().int().min(0).optional(),
});

/** Why a check asks (src/ground/region-checks.ts, RegionDoubt): what is doubtful about the regions. */
export const checkReasonSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('several'), phrase: z.string(), count: z.number().int() }),
  z.object({ kind: z.literal('tiny'), phrase: z.string(), area: z.number(), count: z.number().int() }),
  z.object({ kind: z.literal('overlap'), phrase: z.string(), other: z.string(), share: z.number() }),
  z.object({ kind: z.literal('missing'), phrase: z.string() }),
  z.object({ kind: z.literal('unsure'), phrase: z.string(), score: z.number(), threshold: z.number() }),
]);
export type CheckReason = z.infer<typeof checkReasonSchema>;

/** What happens to a job, in order; `seq` increases by one per event of a job, from 1. */
export const jobEventBodySchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('queued'),
    /** Jobs that start before this one (0: next). */
    position: z.number().int().min(0),
    /** Its place in line, 1-based, counting the running jobs it waits for ("2nd in line"); absent in events written before it was. */
    place: z.number().int().min(1).optional(),
    /** Estimated time from this event until the job starts (0: as soon as a worker is free). */
    startsInMs: z.number().min(0),
    /** Estimated time from this event until the job finishes: its start plus one edit's recent mean duration. */
    etaMs: z.number().min(0),
  }),
  /** The job is being run again: a worker stopped or crashed mid-job (at most once after a crash). */
  z.object({ type: z.literal('restarted'), attempt: z.number().int().min(2), reason: z.string() }),
  z.object({ type: z.literal('planned'), plan: planSchema }),
  z.object({ type: z.literal('grounded'), regions: z.array(regionSchema), missing: z.array(z.string()), overlay: blobRefSchema }),
  /**
   * Paused before any GPU time for the person to check the masks: round 1 when it pauses, one more
   * each time a fix changes the plan or its regions. `overlay` carries the lettered grid; `regions`
   * are the plan's in order (`boxes`: what will be edited); `deadline` (ms) is when it expires.
   * `unread`: a reply that could not be applied, and why (`reason`, written for that person).
   */
  z.object({
    type: z.literal('checking'),
    round: z.number().int().min(1),
    plan: planSchema,
    regions: z.array(regionSchema),
    missing: z.array(z.string()),
    overlay: blobRefSchema,
    reasons: z.array(checkReasonSchema),
    deadline: z.number().int(),
    unread: z.object({ text: z.string().max(400), reason: z.string().max(400).optional() }).optional(),
  }),
  z.object({
    type: z.literal('progress'),
    iteration: z.number().int().min(1),
    total: z.number().int().min(1),
    etaMs: z.number().min(0),
    preview: blobRefSchema.optional(),
  }),
  z.object({
    type: z.literal('done'),
    result: blobRefSchema,
    overlay: blobRefSchema,
    plan: planSchema,
    seed: z.number().int(),
    timings: z.record(z.string(), z.number()),
    /** Per-subtask intensity the edit ran with, when not all 1. */
    intensity: z.array(z.number().min(0).max(2)).max(8).optional(),
  }),
  /**
   * Each front end words a failure from its code and details (errors.ts, failureFactsSchema); the
   * event carries no words. Details default to none, so events written before them still parse.
   */
  z.object({
    type: z.literal('failed'),
    code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES]),
    details: failureFactsSchema.default({}),
  }),
  z.object({ type: z.literal('cancelled'), by: z.string().optional() }),
]);
export type JobEventBody = z.infer<typeof jobEventBodySchema>;

export const jobEventSchema = z.intersection(
  z.object({ jobId: z.string(), seq: z.number().int().min(1), at: z.number().int() }),
  jobEventBodySchema,
);
export type JobEvent = z.infer<typeof jobEventSchema>;
export type JobEventType = JobEventBody['type'];

export const TERMINAL_EVENTS: readonly JobEventType[] = ['done', 'failed', 'cancelled'];
export const isTerminal = (event: { type: JobEventType }) => TERMINAL_EVENTS.includes(event.type);
