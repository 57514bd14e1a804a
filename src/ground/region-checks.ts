/**
 * What makes a set of grounded regions doubtful, measured on their boxes (0–1 image coordinates):
 * a region that is only a speck of the image, two subtasks' regions that overlap by more than
 * half of the smaller one, a phrase found in more than one place, a phrase found nowhere, a box
 * the detector scored barely over its threshold. The chat says so with the masks, and the check
 * step (docs/architecture.md) asks before editing when any holds.
 */
import type { Box } from '../distill/masks.js';

/** A region as grounding found it. */
export interface RegionFacts {
  phrase: string;
  boxes: readonly Box[];
  /** The detector's score of each box (detector regions only). */
  scores?: readonly number[];
}

export type RegionDoubt =
  /** Found in more than one place: the union of all is edited. */
  | { kind: 'several'; phrase: string; count: number }
  /** Under `TINY_AREA` of the image. */
  | { kind: 'tiny'; phrase: string; area: number; count: number }
  /** `phrase`'s region covers more than half of `other`'s (the smaller one). */
  | { kind: 'overlap'; phrase: string; other: string; share: number }
  /** Found nowhere. */
  | { kind: 'missing'; phrase: string }
  /** A box the detector scored within `UNSURE_MARGIN` of its threshold: `score` is the lowest. */
  | { kind: 'unsure'; phrase: string; score: number; threshold: number };

/** A region smaller than this share of the image is a speck. */
export const TINY_AREA = 0.01;
/** Two regions sharing more than this share of the smaller one overlap. */
export const OVERLAP_SHARE = 0.5;
/** A detector score this close to its threshold is a coin toss. */
export const UNSURE_MARGIN = 0.05;

export interface DoubtOptions {
  /** The detector's box threshold, for `unsure` (absent: scores are not judged). */
  threshold?: number;
}

/** The area of the union of some boxes: exact, on the grid their edges make. */
export function unionArea(boxes: readonly Box[]): number {
  return coveredArea([boxes]);
}

/** The area covered by every one of several unions of boxes at once (their intersection). */
function coveredArea(sets: readonly (readonly Box[])[]): number {
  if (sets.some((boxes) => boxes.length === 0)) return 0;
  const all = sets.flat();
  const xs = [...new Set(all.flatMap(([x0, , x1]) => [x0, x1]))].sort((a, b) => a - b);
  const ys = [...new Set(all.flatMap(([, y0, , y1]) => [y0, y1]))].sort((a, b) => a - b);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    for (let j = 0; j + 1 < ys.length; j++) {
      const [cx, cy] = [(xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2];
      const inside = (boxes: readonly Box[]) => boxes.some(([x0, y0, x1, y1]) => cx > x0 && cx < x1 && cy > y0 && cy < y1);
      if (sets.every(inside)) area += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j]);
    }
  }
  return area;
}

/** Every doubt about these regions, in the order people should read them. */
export function regionDoubts(regions: readonly RegionFacts[], options: DoubtOptions = {}): RegionDoubt[] {
  const doubts: RegionDoubt[] = [];
  for (const region of regions) {
    if (region.boxes.length === 0) {
      doubts.push({ kind: 'missing', phrase: region.phrase });
      continue;
    }
    const area = unionArea(region.boxes);
    if (area < TINY_AREA) doubts.push({ kind: 'tiny', phrase: region.phrase, area, count: region.boxes.length });
    if (region.boxes.length > 1) doubts.push({ kind: 'several', phrase: region.phrase, count: region.boxes.length });
    const { threshold } = options;
    const lowest = region.scores && region.scores.length > 0 ? Math.min(...region.scores) : undefined;
    if (threshold !== undefined && lowest !== undefined && lowest - threshold < UNSURE_MARGIN) {
      doubts.push({ kind: 'unsure', phrase: region.phrase, score: lowest, threshold });
    }
  }
  regions.forEach((a, i) => {
    regions.slice(i + 1).forEach((b) => {
      const [areaA, areaB] = [unionArea(a.boxes), unionArea(b.boxes)];
      const smaller = Math.min(areaA, areaB);
      if (smaller === 0) return;
      const share = coveredArea([a.boxes, b.boxes]) / smaller;
      if (share <= OVERLAP_SHARE) return;
      const [big, small] = areaA >= areaB ? [a, b] : [b, a];
      doubts.push({ kind: 'overlap', phrase: big.phrase, other: small.phrase, share });
    });
  });
  return doubts;
}
