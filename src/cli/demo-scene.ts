/**
 * The demo's synthetic scene for the colour world, drawn with sharp: a brown "dog" on green
 * "grass" under a blue "sky". Region edges sit on the 8-pixel latent grid.
 */
import sharp from 'sharp';
import { PALETTE } from '../../models/colour-world/world.js';
import type { Plan } from '../plan/schema.js';

export const DEMO_SIZE = 512;
/** Normalised regions of the scene. */
export const DEMO_REGIONS = {
  sky: [0, 0, 1, 0.375],
  grass: [0, 0.375, 1, 1],
  dog: [0.25, 0.4375, 0.625, 0.8125],
} as const;

/** What the demo asks for, in words. */
export const DEMO_REQUEST = 'turn the dog into a tiger and the grass into snow';

/** The same edit as an explicit plan with boxes. */
export const DEMO_PLAN: Plan = {
  subtasks: [
    { source: 'a dog', target: 'a tiger', grounding: 'dog', preserveForm: false, box: [...DEMO_REGIONS.dog] },
    { source: 'the grass', target: 'the snow', grounding: 'grass', preserveForm: false, box: [...DEMO_REGIONS.grass] },
  ],
  full: { source: 'a photo of a dog lying on the grass', target: 'a photo of a tiger lying on the snow' },
};

function rect(box: readonly number[], colour: readonly number[], size: number) {
  const [x0, y0, x1, y1] = box.map((v) => Math.round(v * size));
  return {
    input: { create: { width: x1 - x0, height: y1 - y0, channels: 3 as const, background: { r: colour[0], g: colour[1], b: colour[2] } } },
    left: x0,
    top: y0,
  };
}

/** The scene as a PNG. */
export async function demoScenePng(size = DEMO_SIZE): Promise<Buffer> {
  const [r, g, b] = PALETTE.blue;
  return sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
    .composite([rect(DEMO_REGIONS.grass, PALETTE.green, size), rect(DEMO_REGIONS.dog, PALETTE.brown, size)])
    .png()
    .toBuffer();
}

/** A scene with two brown "dogs" on the grass, one on the left and one on the right (the check step's example). */
export const TWO_DOGS_REGIONS = {
  sky: [0, 0, 1, 0.375],
  grass: [0, 0.375, 1, 1],
  leftDog: [0.125, 0.5, 0.375, 0.8125],
  rightDog: [0.625, 0.5, 0.875, 0.8125],
} as const;

/** The two-dogs scene as a PNG. */
export async function twoDogsScenePng(size = DEMO_SIZE): Promise<Buffer> {
  const [r, g, b] = PALETTE.blue;
  return sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
    .composite([
      rect(TWO_DOGS_REGIONS.grass, PALETTE.green, size),
      rect(TWO_DOGS_REGIONS.leftDog, PALETTE.brown, size),
      rect(TWO_DOGS_REGIONS.rightDog, PALETTE.brown, size),
    ])
    .png()
    .toBuffer();
}
