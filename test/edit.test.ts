/** Colour-world edits end to end through the pipeline: the acceptance numbers. */
import { describe, expect, it } from 'vitest';
import { loadDiffusionBundle } from '../src/models/bundle.js';
import { DEFAULT_EDIT_OPTIONS, editImage, type EditOptions } from '../src/pipeline/edit.js';
import { isGasError } from '../src/errors.js';
import type { RgbImage } from '../src/image/decode.js';
import {
  PALETTE, SCALAR_BUNDLE, SCENE_PLAN, STANDARD_BUNDLE, fractionOfWay, maxDifference, meanColour, pngToRgb, sceneImage,
} from './helpers/colour-world.js';

const options = (overrides: Partial<EditOptions> = {}): EditOptions => ({ ...DEFAULT_EDIT_OPTIONS, steps: 200, seed: 1, ...overrides });

function expectTheEditLanded(scene: RgbImage, edit: RgbImage): void {
  const dog = fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange);
  const grass = fractionOfWay(meanColour(edit, 'grass'), PALETTE.green, PALETTE.white);
  expect(dog).toBeGreaterThanOrEqual(0.8);
  expect(dog).toBeLessThanOrEqual(1.2);
  expect(grass).toBeGreaterThanOrEqual(0.8);
  expect(grass).toBeLessThanOrEqual(1.2);
  expect(maxDifference(scene, edit, 'sky')).toBeLessThanOrEqual(2);
}

describe('editing the colour-world scene: dog → tiger, grass → snow', async () => {
  const scene = await sceneImage();
  const standard = await loadDiffusionBundle(STANDARD_BUNDLE);
  const scalar = await loadDiffusionBundle(SCALAR_BUNDLE);

  for (const [name, bundle] of [['int64 timestep, latent_sample, ε', standard], ['scalar timestep, latent_parameters, v', scalar]] as const) {
    for (const schedule of ['aggregated', 'official'] as const) {
      it(`moves each region 80–120% of the way and keeps the sky (${schedule}; ${name})`, async () => {
        const result = await editImage(bundle, scene, SCENE_PLAN, options({ schedule, composite: false }));
        expectTheEditLanded(scene, await pngToRgb(result.image));
      });
    }
  }

  it('keeps pixels away from every region exactly as they were when compositing', async () => {
    const edit = await pngToRgb((await editImage(standard, scene, SCENE_PLAN, options())).image);
    expectTheEditLanded(scene, edit);
    expect(edit.width).toBe(scene.width);
    // The feather reaches ~3σ = 12 px past a region; beyond 16 px the sky is byte-identical.
    expect(maxDifference(scene, edit, 'sky', 16)).toBe(0);
  });

  it('changes the sky with the "no masks" ablation', async () => {
    const edit = await pngToRgb((await editImage(standard, scene, SCENE_PLAN, options({ ablation: 'no-masks' }))).image);
    const sky = meanColour(edit, 'sky');
    const drift = Math.max(...sky.map((v, c) => Math.abs(v - PALETTE.blue[c])));
    expect(drift).toBeGreaterThan(30);
  });

  it('gives identical bytes for the same seed and different bytes for another', async () => {
    const run = (seed: number) => editImage(standard, scene, SCENE_PLAN, options({ steps: 30, seed }));
    const [a, b, c] = [await run(9), await run(9), await run(10)];
    expect(a.image.equals(b.image)).toBe(true);
    expect(a.image.equals(c.image)).toBe(false);
    expect(a.seed).toBe(9);
  });

  it('emits previews at latent resolution ×8 on preview iterations', async () => {
    const previews: number[] = [];
    await editImage(standard, scene, SCENE_PLAN, options({
      steps: 20,
      previewAt: (i) => i % 5 === 0,
      onProgress: (p) => {
        if (p.preview) {
          previews.push(p.iteration);
          expect([p.preview.width, p.preview.height]).toEqual([512, 512]);
        }
      },
    }));
    expect(previews).toEqual([5, 10, 15]);
  });

  it.each([64, 128, 256])('lands the edit at a working size of %i px too: the step per latent cell is the reference\'s at every size', async (maxSide) => {
    const edit = await pngToRgb((await editImage(standard, scene, SCENE_PLAN, options({ maxSide }))).image);
    expect(fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(edit, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    // One latent cell is 8 working pixels: at a small working size the regions' edges are that coarse in the output.
    const cell = (8 * scene.width) / maxSide;
    expect(maxDifference(scene, edit, 'sky', cell)).toBeLessThanOrEqual(2);
  });

  it('edits a non-square image at its own resolution', async () => {
    const wide = { width: 640, height: 320, data: Buffer.alloc(640 * 320 * 3, 200) };
    const plan = { ...SCENE_PLAN, subtasks: [{ ...SCENE_PLAN.subtasks[0], box: [0.1, 0.1, 0.4, 0.9] as [number, number, number, number] }] };
    const result = await editImage(standard, wide, plan, options({ steps: 5 }));
    const edit = await pngToRgb(result.image);
    expect([edit.width, edit.height]).toEqual([640, 320]);
  });

  it('refuses a plan whose subtask has no box, and intensities that do not fit the plan', async () => {
    const noBox = { ...SCENE_PLAN, subtasks: [{ ...SCENE_PLAN.subtasks[0], box: undefined }] };
    const e1 = await editImage(standard, scene, noBox, options()).catch((e: unknown) => e);
    expect(isGasError(e1, 'bad_plan')).toBe(true);
    expect((e1 as Error).message).toContain('Subtask 1 ("a dog → a tiger") has no box');
    const e2 = await editImage(standard, scene, SCENE_PLAN, options({ intensity: [1] })).catch((e: unknown) => e);
    expect((e2 as Error).message).toBe('Give one intensity per subtask: the plan has 2, the option has 1.');
  });
});
