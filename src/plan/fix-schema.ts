/**
 * The shapes of the check step's fixes and of a plan under check (fix.ts reads and applies them):
 * apart from the rules, so that the planner's contract and the queue's can name them.
 */
import { z } from 'zod';
import { GRID } from '../image/overlay.js';
import { boxSchema, MAX_SUBTASKS, planSchema, subtaskSchema } from './schema.js';

/** The masks' grid while checking (drawn by src/image/overlay.ts): columns A–H from the left, rows 1–8 from the top, as in a spreadsheet. */
export const GRID_COLUMNS: string = GRID.columns;
export const GRID_ROWS: number = GRID.rows;

export const INSTANCE_SIDES = ['left', 'right', 'top', 'bottom'] as const;
export const INSTANCE_POSITIONS = ['left', 'right', 'top', 'bottom', 'middle', 'biggest', 'smallest'] as const;

/** Which of a part's instances: by where it is or how big, or the n-th counted from one side. */
export const instancePickSchema = z.discriminatedUnion('by', [
  z.object({ by: z.literal('position'), position: z.enum(INSTANCE_POSITIONS) }),
  z.object({ by: z.literal('ordinal'), n: z.number().int().min(1).max(16), from: z.enum(INSTANCE_SIDES) }),
]);
export type InstancePick = z.infer<typeof instancePickSchema>;

/** One fix; `part` is the subtask's index in the plan (0-based; people say 1-based numbers). */
export const planFixSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('go') }),
  z.object({ kind: z.literal('pick'), part: z.number().int().min(0), pick: instancePickSchema }),
  z.object({ kind: z.literal('ground'), part: z.number().int().min(0), phrase: z.string().trim().min(1).max(300), pick: instancePickSchema.optional() }),
  z.object({ kind: z.literal('box'), part: z.number().int().min(0), box: boxSchema, cells: z.string().max(20).optional() }),
  z.object({ kind: z.literal('drop'), part: z.number().int().min(0) }),
  z.object({ kind: z.literal('add'), subtasks: z.array(subtaskSchema).min(1).max(MAX_SUBTASKS) }),
]);
export type PlanFix = z.infer<typeof planFixSchema>;

/** Where a region came from: the person (a plan file, --box, a grid box), the detector, or the planner. */
export const REGION_SOURCES = ['user', 'detector', 'planner'] as const;

/** One part's region while checking: every instance found, and the boxes that will be edited. */
export const checkRegionSchema = z.object({
  /** The phrase the region was looked up by. */
  phrase: z.string(),
  /** Every instance found (detector boxes, or the boxes given). */
  instances: z.array(boxSchema).max(64),
  /** The detector's score of each instance, in order (detector instances only). */
  scores: z.array(z.number()).optional(),
  /** What will be edited: all the instances, one chosen, or a box given. Empty: found nowhere. */
  chosen: z.array(boxSchema).max(64),
  source: z.enum(REGION_SOURCES).nullable(),
});
export type CheckRegion = z.infer<typeof checkRegionSchema>;

/** A plan under check: its parts (without boxes), one region per part, and each part's intensity. */
export const checkedPlanSchema = z.object({
  plan: planSchema,
  regions: z.array(checkRegionSchema),
  /** Per-part intensity in plan order, when the request set it. */
  intensity: z.array(z.number().min(0).max(2)).max(MAX_SUBTASKS).optional(),
});
export type CheckedPlan = z.infer<typeof checkedPlanSchema>;

/** What reading a fix needs to know of the plan: its parts as numbered, and how many instances each has. */
export interface FixContext {
  readonly parts: ReadonlyArray<{ source: string; target: string; phrase: string; instances: number }>;
}

export function fixContext(checked: CheckedPlan): FixContext {
  return {
    parts: checked.plan.subtasks.map((subtask, k) => ({
      source: subtask.source,
      target: subtask.target,
      phrase: checked.regions[k]?.phrase ?? subtask.grounding ?? subtask.source,
      instances: checked.regions[k]?.instances.length ?? 0,
    })),
  };
}

