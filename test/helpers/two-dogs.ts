/** The check step's scene: two brown dogs on the grass, left and right, and how far a box of an image moved in colour. */
import { TWO_DOGS_REGIONS, twoDogsScenePng } from '../../src/cli/demo-scene.js';
import { decodeImage, type RgbImage } from '../../src/image/decode.js';

export { TWO_DOGS_REGIONS, twoDogsScenePng };

export async function twoDogsImage(): Promise<RgbImage> {
  return decodeImage(await twoDogsScenePng());
}

type Box = readonly [number, number, number, number];

/** Pixels inside a box, `margin` pixels in from its border. */
function boxPixels(image: RgbImage, box: Box, margin: number): number[] {
  const [x0, y0, x1, y1] = [box[0] * image.width, box[1] * image.height, box[2] * image.width, box[3] * image.height];
  const pixels: number[] = [];
  for (let y = Math.ceil(y0 + margin); y < y1 - margin; y++) for (let x = Math.ceil(x0 + margin); x < x1 - margin; x++) pixels.push(y * image.width + x);
  return pixels;
}

export function meanColourIn(image: RgbImage, box: Box, margin = 8): [number, number, number] {
  const pixels = boxPixels(image, box, margin);
  const sum = [0, 0, 0];
  for (const p of pixels) for (let c = 0; c < 3; c++) sum[c] += image.data[3 * p + c];
  return sum.map((v) => v / pixels.length) as [number, number, number];
}

/** The largest per-channel difference of two images inside a box. */
export function maxDifferenceIn(a: RgbImage, b: RgbImage, box: Box, margin = 0): number {
  let max = 0;
  for (const p of boxPixels(a, box, margin)) for (let c = 0; c < 3; c++) max = Math.max(max, Math.abs(a.data[3 * p + c] - b.data[3 * p + c]));
  return max;
}
