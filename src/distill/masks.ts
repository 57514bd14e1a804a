/**
 * Regions → latent masks (docs/algorithm.md §7, and §8 for the full-prompt union).
 * A mask is [h·w] row-major on the latent grid and broadcasts over the 4 channels.
 */

/** A box normalised to [0, 1]²: [x0, y0, x1, y1], x0 < x1 and y0 < y1. */
export type Box = readonly [number, number, number, number];

/** Mask value on an intersection that a larger region must yield to a smaller one. */
export const OVERLAP_YIELD = 0.3;

export interface LatentGrid {
  readonly height: number;
  readonly width: number;
}

/** Python's round(): halves go to the even neighbour, as in the reference's box → grid step (docs/algorithm.md §7.1). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Box → latent grid: round(x·W), round(y·H) for both corners; 1 inside, 0 outside. Ours: a box
 * thinner than one latent cell keeps one cell, so a tiny object is edited rather than silently skipped
 * (docs/algorithm.md §7.1).
 */
export function latentMaskFromBox(box: Box, grid: LatentGrid): Float32Array {
  const { height: H, width: W } = grid;
  const mask = new Float32Array(H * W);
  const x0 = Math.min(roundHalfEven(box[0] * W), W - 1);
  const x1 = Math.max(roundHalfEven(box[2] * W), x0 + 1);
  const y0 = Math.min(roundHalfEven(box[1] * H), H - 1);
  const y1 = Math.max(roundHalfEven(box[3] * H), y0 + 1);
  for (let y = y0; y < y1; y++) mask.fill(1, y * W + x0, y * W + x1);
  return mask;
}

/** One region made of several boxes (several instances of one phrase): their union (docs/algorithm.md §7.2). */
export function latentMaskFromBoxes(boxes: readonly Box[], grid: LatentGrid): Float32Array {
  return unionMask(boxes.map((box) => latentMaskFromBox(box, grid)), grid);
}

/** Union of binary masks: 1 wherever any mask is non-zero (docs/algorithm.md §7.2, §8, §11.3). */
export function unionMask(masks: readonly Float32Array[], grid: LatentGrid): Float32Array {
  const union = new Float32Array(grid.height * grid.width);
  for (const mask of masks) for (let i = 0; i < union.length; i++) if (mask[i] > 0) union[i] = 1;
  return union;
}

/** The mask of the whole latent grid: the `no-subtasks` and `no-masks` ablations (docs/algorithm.md §13). */
export function wholeImageMask(grid: LatentGrid): Float32Array {
  return new Float32Array(grid.height * grid.width).fill(1);
}

/**
 * The overlap rule: where masks A and B intersect and B is the more covered one
 * (|A∩B|/|B| > |A∩B|/|A|, i.e. A is larger), A is set to 0.3 on the intersection, so a big
 * region's gradient does not overwrite a small object inside it. Inputs are binary masks;
 * returns new masks (docs/algorithm.md §7.3).
 */
export function applyOverlapRule(masks: readonly Float32Array[]): Float32Array[] {
  const areas = masks.map((m) => m.reduce((s, v) => s + (v > 0 ? 1 : 0), 0));
  return masks.map((a, i) => {
    const out = a.slice();
    masks.forEach((b, j) => {
      if (i === j || areas[i] <= areas[j]) return;
      for (let p = 0; p < out.length; p++) if (a[p] > 0 && b[p] > 0) out[p] = OVERLAP_YIELD;
    });
    return out;
  });
}

/** Exact area of a union of normalised boxes, as a fraction of the image (coordinate compression): γ's area rule (docs/algorithm.md §6). */
export function boxesArea(boxes: readonly Box[]): number {
  const xs = [...new Set(boxes.flatMap((b) => [b[0], b[2]]))].sort((p, q) => p - q);
  const ys = [...new Set(boxes.flatMap((b) => [b[1], b[3]]))].sort((p, q) => p - q);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    for (let j = 0; j + 1 < ys.length; j++) {
      const cx = (xs[i] + xs[i + 1]) / 2;
      const cy = (ys[j] + ys[j + 1]) / 2;
      if (boxes.some((b) => cx > b[0] && cx < b[2] && cy > b[1] && cy < b[3])) {
        area += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j]);
      }
    }
  }
  return area;
}
