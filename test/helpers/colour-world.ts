/** Shared pieces of the colour-world tests: bundles, the scene, and how far a region moved. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildColourWorld, COLOUR_WORLD_VARIANTS, type ColourWorldVariant } from '../../models/colour-world/build.js';
import { colourWorldBundleDir } from '../../models/colour-world/paths.js';
import { PALETTE } from '../../models/colour-world/world.js';
import { DEMO_PLAN, DEMO_REGIONS, demoScenePng } from '../../src/cli/demo-scene.js';
import { decodeImage, type RgbImage } from '../../src/image/decode.js';

export { DEMO_PLAN as SCENE_PLAN, DEMO_REGIONS as SCENE_REGIONS, PALETTE };

export const STANDARD_BUNDLE = colourWorldBundleDir('standard');
export const SCALAR_BUNDLE = colourWorldBundleDir('scalar');

/** Builds a variant of the colour world into a fresh temporary folder. */
export function buildVariant(overrides: Partial<ColourWorldVariant>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'gas-cw-')), 'bundle');
  buildColourWorld(dir, { ...COLOUR_WORLD_VARIANTS.standard, ...overrides });
  return dir;
}

/** The 512×512 scene: a brown dog on green grass under a blue sky. */
export async function sceneImage(): Promise<RgbImage> {
  return decodeImage(await demoScenePng());
}

export async function pngToRgb(png: Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

type Region = keyof typeof DEMO_REGIONS;

/** Pixels of a region, excluding a margin inside its border and any region drawn over it (with that margin). */
function regionPixels(image: RgbImage, region: Region, margin: number): number[] {
  const [x0, y0, x1, y1] = DEMO_REGIONS[region].map((v) => v * image.width);
  const dog = DEMO_REGIONS.dog.map((v) => v * image.width);
  const pixels: number[] = [];
  for (let y = Math.ceil(y0 + margin); y < y1 - margin; y++) {
    for (let x = Math.ceil(x0 + margin); x < x1 - margin; x++) {
      const inDog = x >= dog[0] - margin && x < dog[2] + margin && y >= dog[1] - margin && y < dog[3] + margin;
      if (region !== 'dog' && inDog) continue;
      pixels.push(y * image.width + x);
    }
  }
  return pixels;
}

export function meanColour(image: RgbImage, region: Region, margin = 8): [number, number, number] {
  const pixels = regionPixels(image, region, margin);
  const sum = [0, 0, 0];
  for (const p of pixels) for (let c = 0; c < 3; c++) sum[c] += image.data[3 * p + c];
  return sum.map((s) => s / pixels.length) as [number, number, number];
}

/** How far a colour went from `from` to `to`, projected on that line: 0 = not at all, 1 = all the way. */
export function fractionOfWay(colour: readonly number[], from: readonly number[], to: readonly number[]): number {
  let dot = 0;
  let norm = 0;
  for (let c = 0; c < 3; c++) {
    dot += (colour[c] - from[c]) * (to[c] - from[c]);
    norm += (to[c] - from[c]) ** 2;
  }
  return dot / norm;
}

/** Largest per-channel difference between two images over a region's pixels. */
export function maxDifference(a: RgbImage, b: RgbImage, region: Region, margin = 0): number {
  let max = 0;
  for (const p of regionPixels(a, region, margin)) {
    for (let c = 0; c < 3; c++) max = Math.max(max, Math.abs(a.data[3 * p + c] - b.data[3 * p + c]));
  }
  return max;
}
