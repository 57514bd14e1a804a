/**
 * The edit plan: the single source of truth for what an edit changes (docs/algorithm.md §1).
 * Validation errors name the field, so a person can fix a hand-written plan.json.
 */
import { z } from 'zod';
import { GasError } from '../errors.js';

export const MAX_SUBTASKS = 8;
/** The longest source, target or grounding phrase. */
export const MAX_PHRASE_CHARS = 300;

const phrase = z.string().trim().min(1, 'must not be empty').max(MAX_PHRASE_CHARS, `must be at most ${MAX_PHRASE_CHARS} characters`);

const unit = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');

/** [x0, y0, x1, y1], normalised to the image: 0 is the left/top edge, 1 the right/bottom. */
export const boxSchema = z
  .tuple([unit, unit, unit, unit])
  .refine(([x0, y0, x1, y1]) => x0 < x1 && y0 < y1, 'must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1')
  .readonly();

export const subtaskSchema = z.object({
  /** What the object is now: "a dog". */
  source: phrase,
  /** What it becomes: "a tiger". */
  target: phrase,
  /** A short noun phrase a detector can find: "dog". Defaults to the source phrase. */
  grounding: phrase.optional(),
  /** Keep the object's shape (the reference's CDS "preserve form" loss; docs/cli.md says what this runtime does with it). */
  preserveForm: z.boolean().default(false),
  /** Where the object is; several boxes for several instances of it. */
  box: boxSchema.optional(),
  boxes: z.array(boxSchema).min(1).max(16).optional(),
});

export const planSchema = z.object({
  subtasks: z.array(subtaskSchema).min(1, 'needs at least one subtask').max(MAX_SUBTASKS, `allows at most ${MAX_SUBTASKS} subtasks`),
  /** The whole scene before and after the edit, mentioning the edited objects. */
  full: z.object({ source: phrase, target: phrase }),
});

export type Plan = z.infer<typeof planSchema>;
export type Subtask = z.infer<typeof subtaskSchema>;
export type Box = z.infer<typeof boxSchema>;

/** Validates a parsed plan; the error names the first offending field, e.g. `subtasks[1].box[2]`. */
export function parsePlan(value: unknown): Plan {
  const result = planSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.reduce<string>(
    (path, key) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${String(key)}` : String(key)),
    '',
  );
  let message = issue.message;
  if (issue.code === 'invalid_type') {
    message = /received undefined/.test(issue.message) ? 'is required' : `must be ${issue.expected === 'object' ? 'a JSON object' : `a ${issue.expected}`}`;
  }
  throw new GasError('bad_plan', `Invalid plan: ${field || 'the plan'} ${message}.`, { issues: result.error.issues });
}

/** The boxes of a subtask's region: `boxes`, or `box`, or none yet. */
export function subtaskBoxes(subtask: Subtask): Box[] {
  return subtask.boxes ?? (subtask.box ? [subtask.box] : []);
}
