/**
 * The grounding stage: a region for every subtask. Box sources, in order: boxes the person gave,
 * the detector, boxes from the planner when no detector is installed.
 */
import { GasError } from '../errors.js';
import type { Box } from '../distill/masks.js';
import type { Detector, DetectionThresholds } from '../ground/detector.js';
import type { RgbImage } from '../image/decode.js';
import { boxSchema, subtaskBoxes, type Plan, type Subtask } from '../plan/schema.js';

export type RegionSource = 'user' | 'detector' | 'planner';

/** A box the person gave for one phrase: `--box "the grass=0,0.6,1,1"`. */
export interface UserBox {
  readonly phrase: string;
  readonly box: Box;
}

export interface GroundedRegion {
  /** The phrase the region was looked up by. */
  readonly phrase: string;
  readonly label: string;
  /** One box per instance; empty when nothing was found. */
  readonly boxes: readonly Box[];
  readonly source: RegionSource | null;
  /** The detector's score of each box, in order (detector regions only). */
  readonly scores?: readonly number[];
}

export interface Grounding {
  /** The plan with every found region's boxes filled in. */
  readonly plan: Plan;
  readonly regions: readonly GroundedRegion[];
  /** Phrases with no region. */
  readonly missing: readonly string[];
}

export interface GroundOptions {
  detector?: Detector;
  userBoxes?: readonly UserBox[];
  thresholds?: DetectionThresholds;
  /**
   * Who wrote the plan's own boxes: a person (a plan file: they come first, like --box) or the
   * planner (used only when no detector is installed). Default: the planner.
   */
  planBoxesFrom?: 'user' | 'planner';
}

/** Parses `phrase=x0,y0,x1,y1` (0–1 image coordinates). */
export function parseUserBox(text: string): UserBox {
  const at = text.lastIndexOf('=');
  const phrase = at > 0 ? text.slice(0, at).trim() : '';
  const numbers = at > 0 ? text.slice(at + 1).split(',').map((v) => Number(v.trim())) : [];
  const box = boxSchema.safeParse(numbers);
  if (!phrase || !box.success) {
    throw new GasError('bad_input', `--box takes "phrase=x0,y0,x1,y1" with numbers from 0 to 1 and x0 < x1, y0 < y1 (got "${text}").`);
  }
  return { phrase, box: box.data };
}

/** Lower-case, without a leading article or possessive, single-spaced: "The  Dog" and "dog" match. */
function phraseKey(phrase: string): string {
  return phrase.toLowerCase().replace(/[.,!?]+$/, '').replace(/^(?:the|a|an|my|his|her|its|their|our|your)\s+/, '').replace(/\s+/g, ' ').trim();
}

export function groundingPhrase(subtask: Subtask): string {
  return subtask.grounding ?? phraseKey(subtask.source);
}

/** One subtask's region while it is being found: where its boxes came from, once some have. */
interface RegionDraft {
  readonly subtask: Subtask;
  readonly phrase: string;
  boxes?: Box[];
  scores?: number[];
  source: RegionSource | null;
}

export async function groundPlan(plan: Plan, image: RgbImage, options: GroundOptions = {}): Promise<Grounding> {
  const drafts: RegionDraft[] = plan.subtasks.map((subtask) => ({ subtask, phrase: groundingPhrase(subtask), source: null }));
  const give = (draft: RegionDraft, boxes: readonly Box[], source: RegionSource) => {
    draft.boxes = [...(draft.boxes ?? []), ...boxes];
    draft.source = source;
  };

  // 1. Boxes the person gave: in a plan file, then with --box (matched by phrase).
  if (options.planBoxesFrom === 'user') {
    for (const draft of drafts) {
      const given = subtaskBoxes(draft.subtask);
      if (given.length > 0) give(draft, given, 'user');
    }
  }
  for (const user of options.userBoxes ?? []) {
    const key = phraseKey(user.phrase);
    const draft = drafts.find((d) => phraseKey(d.phrase) === key || phraseKey(d.subtask.source) === key);
    if (!draft) {
      throw new GasError('bad_input', `--box "${user.phrase}" matches no object in the plan (${drafts.map((d) => `"${d.phrase}"`).join(', ')}).`);
    }
    give(draft, [user.box], 'user');
  }

  // 2. The detector, on every phrase still without a region, in one run.
  const open = drafts.filter((draft) => draft.boxes === undefined);
  if (options.detector && open.length > 0) {
    const found = await options.detector.detect(image, open.map((draft) => draft.phrase), options.thresholds);
    found.forEach((result, i) => {
      if (result.detections.length === 0) return;
      give(open[i], result.detections.map((d) => d.box), 'detector');
      open[i].scores = result.detections.map((d) => d.score);
    });
  } else if (!options.detector) {
    // 3. No detector installed: the planner's boxes, when it gave any.
    for (const draft of open) {
      const planned = subtaskBoxes(draft.subtask);
      if (planned.length > 0) give(draft, planned, 'planner');
    }
  }

  const regions: GroundedRegion[] = drafts.map(({ subtask, phrase, boxes, scores, source }) => ({
    phrase,
    label: `${subtask.source} → ${subtask.target}`,
    boxes: boxes ?? [],
    source,
    ...(scores ? { scores } : {}),
  }));
  const grounded: Plan = {
    ...plan,
    subtasks: drafts.map(({ subtask, boxes }) => {
      const { box: _box, boxes: _boxes, ...rest } = subtask;
      return boxes ? { ...rest, boxes } : rest;
    }),
  };
  return { plan: grounded, regions, missing: regions.filter((r) => r.boxes.length === 0).map((r) => r.phrase) };
}

/**
 * The error for phrases that were not found. Its facts (which phrases, whether a detector looked)
 * let each front end say what the person can do there: flags at a shell, a rephrase in a chat.
 */
export function notFoundError(missing: readonly string[], hasDetector: boolean): GasError {
  const names = missing.map((p) => `"${p}"`).join(', ');
  return new GasError('not_found', `I could not find ${names} in the image.`, { missing }, { missing: [...missing], detector: hasDetector });
}
