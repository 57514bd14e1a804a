/**
 * The check step's stage functions (docs/architecture.md, "The check step"): a grounding becomes a
 * checked plan (every instance found, the ones that will be edited), fixes apply to it (those that
 * need the detector look again on the image), and its regions, doubts and lettered masks are what
 * the person checks. The worker and `gas plan --fix` run the same functions; they emit data only.
 */
import { DEFAULT_THRESHOLDS, type DetectionThresholds, type Detector } from '../ground/detector.js';
import { regionDoubts, type RegionDoubt } from '../ground/region-checks.js';
import type { RgbImage } from '../image/decode.js';
import { renderMaskOverlay } from '../image/overlay.js';
import { applyPlainFix, needsDetector, pickInstance, withParts, withPhrase, type CheckedPlan, type CheckRegion, type PlanFix } from '../plan/fix.js';
import type { Plan } from '../plan/schema.js';
import { groundPlan, groundingPhrase, type GroundedRegion } from './ground.js';

/** A checked plan from a grounding: every region's boxes are its instances, and all of them are edited until a fix says otherwise. */
export function checkedFrom(plan: Plan, regions: readonly GroundedRegion[], intensity?: readonly number[]): CheckedPlan {
  return {
    // The plan's own boxes now live in the regions.
    plan: { ...plan, subtasks: plan.subtasks.map(({ box: _box, boxes: _boxes, ...rest }) => rest) },
    regions: regions.map((region) => ({
      phrase: region.phrase,
      instances: [...region.boxes],
      ...(region.scores ? { scores: [...region.scores] } : {}),
      chosen: [...region.boxes],
      source: region.source,
    })),
    ...(intensity ? { intensity: [...intensity] } : {}),
  };
}

/** The regions as the pipeline's events show them: the boxes that will be edited, and how many instances were found. */
export function checkedRegions(checked: CheckedPlan): (GroundedRegion & { found: number })[] {
  return checked.plan.subtasks.map((subtask, k) => {
    const region = checked.regions[k];
    const at = region.chosen.map((box) => region.instances.findIndex((instance) => instance.every((v, i) => v === box[i])));
    const chosenScores = region.scores && at.every((i) => i >= 0) ? at.map((i) => region.scores![i]) : undefined;
    return {
      phrase: region.phrase,
      label: `${subtask.source} → ${subtask.target}`,
      boxes: region.chosen,
      source: region.source,
      found: region.instances.length,
      ...(chosenScores ? { scores: chosenScores } : {}),
    };
  });
}

/** Phrases found nowhere, in plan order. */
export function missingOf(checked: CheckedPlan): string[] {
  return checked.regions.filter((region) => region.chosen.length === 0).map((region) => region.phrase);
}

/** What is doubtful about the regions as they stand: why a check in `unsure` mode asks. */
export function checkDoubts(checked: CheckedPlan, thresholds: DetectionThresholds = DEFAULT_THRESHOLDS): RegionDoubt[] {
  return regionDoubts(checkedRegions(checked), { threshold: thresholds.box });
}

/** The masks with the lettered grid, numbered as the plan. */
export function renderCheckOverlay(image: RgbImage, checked: CheckedPlan): Promise<Buffer> {
  return renderMaskOverlay(image, checkedRegions(checked), { grid: true });
}

export interface FixDeps {
  /** The image being checked. */
  image: RgbImage;
  detector?: Detector;
  thresholds?: DetectionThresholds;
}

/**
 * Applies fixes in order. A new phrase or new parts are looked for with the detector (or, without
 * one, are found nowhere until the person gives a grid box); the rest need the plan alone.
 */
export async function applyFixes(checked: CheckedPlan, fixes: readonly PlanFix[], deps: FixDeps): Promise<CheckedPlan> {
  let current = checked;
  for (const fix of fixes) current = needsDetector(fix) ? await applyDetectorFix(current, fix, deps) : applyPlainFix(current, fix);
  return current;
}

async function applyDetectorFix(checked: CheckedPlan, fix: PlanFix, deps: FixDeps): Promise<CheckedPlan> {
  if (fix.kind === 'ground') {
    if (fix.part >= checked.plan.subtasks.length) return applyPlainFix(checked, fix);
    const plan = withPhrase(checked.plan, fix.part, fix.phrase);
    const [region] = await lookFor(plan.subtasks[fix.part], deps);
    const chosen = fix.pick && region.instances.length > 0 ? [pickInstance(region.instances, fix.pick)] : region.instances;
    return { ...checked, plan, regions: checked.regions.map((r, k) => (k === fix.part ? { ...region, chosen } : r)) };
  }
  if (fix.kind === 'add') {
    const plan = withParts(checked.plan, fix.subtasks);
    const regions = await lookFor(fix.subtasks, deps);
    const intensity = checked.intensity ? [...checked.intensity, ...fix.subtasks.map(() => 1)] : undefined;
    return { plan, regions: [...checked.regions, ...regions], ...(intensity ? { intensity } : {}) };
  }
  return applyPlainFix(checked, fix);
}

/** Grounds some parts on their own, as the grounding stage would: every instance, all chosen. */
async function lookFor(parts: Plan['subtasks'][number] | Plan['subtasks'], deps: FixDeps): Promise<CheckRegion[]> {
  const subtasks = Array.isArray(parts) ? parts : [parts];
  const plan: Plan = { subtasks: subtasks.map(({ box: _box, boxes: _boxes, ...rest }) => rest), full: { source: 'a photo', target: 'a photo' } };
  const grounding = await groundPlan(plan, deps.image, { detector: deps.detector, thresholds: deps.thresholds, planBoxesFrom: 'user' });
  return grounding.regions.map((region, k) => ({
    phrase: region.phrase || groundingPhrase(subtasks[k]),
    instances: [...region.boxes],
    ...(region.scores ? { scores: [...region.scores] } : {}),
    chosen: [...region.boxes],
    source: region.source,
  }));
}
