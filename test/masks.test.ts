import { describe, expect, it } from 'vitest';
import { applyOverlapRule, boxesArea, latentMaskFromBox, latentMaskFromBoxes, OVERLAP_YIELD, unionMask } from '../src/distill/masks.js';

const grid = { height: 4, width: 8 };
const rows = (mask: Float32Array) => Array.from({ length: grid.height }, (_, y) => Array.from(mask.subarray(y * grid.width, (y + 1) * grid.width)));

describe('latent masks', () => {
  it('rounds both corners of a box onto the latent grid', () => {
    // x: round(0.2·8)=2 … round(0.56·8)=4; y: round(0.3·4)=1 … round(0.8·4)=3
    expect(rows(latentMaskFromBox([0.2, 0.3, 0.56, 0.8], grid))).toEqual([
      [0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 1, 1, 0, 0, 0, 0],
      [0, 0, 1, 1, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
    ]);
  });

  it('makes one region of several boxes (several instances of a phrase)', () => {
    const mask = latentMaskFromBoxes([[0, 0, 0.25, 0.5], [0.75, 0.5, 1, 1]], grid);
    expect(rows(mask)).toEqual([
      [1, 1, 0, 0, 0, 0, 0, 0],
      [1, 1, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 1, 1],
      [0, 0, 0, 0, 0, 0, 1, 1],
    ]);
  });

  it('sets the larger region to 0.3 where a smaller one overlaps it, and leaves the smaller one whole', () => {
    const big = latentMaskFromBox([0, 0, 1, 1], grid); // 32 cells
    const small = latentMaskFromBox([0.5, 0.5, 0.75, 1], grid); // 4 cells, inside big
    const [bigOut, smallOut] = applyOverlapRule([big, small]);
    const y = OVERLAP_YIELD;
    expect(rows(bigOut)).toEqual([
      [1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, y, y, 1, 1],
      [1, 1, 1, 1, y, y, 1, 1],
    ].map((r) => r.map((v) => Math.fround(v))));
    expect(Array.from(smallOut)).toEqual(Array.from(small));
  });

  it('lowers neither of two equal regions that overlap', () => {
    const a = latentMaskFromBox([0, 0, 0.5, 1], grid);
    const b = latentMaskFromBox([0.25, 0, 0.75, 1], grid);
    const [aOut, bOut] = applyOverlapRule([a, b]);
    expect(Array.from(aOut)).toEqual(Array.from(a));
    expect(Array.from(bOut)).toEqual(Array.from(b));
  });

  it('unites masks into the full-prompt mask', () => {
    const union = unionMask([latentMaskFromBox([0, 0, 0.25, 0.5], grid), latentMaskFromBox([0.125, 0.25, 0.5, 0.75], grid)], grid);
    expect(rows(union)[0]).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    expect(rows(union)[1]).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    expect(rows(union)[2]).toEqual([0, 1, 1, 1, 0, 0, 0, 0]);
    expect(rows(union)[3]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('measures the exact area of overlapping boxes once', () => {
    expect(boxesArea([[0, 0, 0.5, 0.5]])).toBeCloseTo(0.25, 12);
    expect(boxesArea([[0, 0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]])).toBeCloseTo(0.4375, 12);
    expect(boxesArea([[0, 0, 0.2, 0.2], [0.8, 0.8, 1, 1]])).toBeCloseTo(0.08, 12);
  });
});
