/**
 * Compositing the edit over the original through the feathered union of the edited regions,
 * so pixels away from every region are exactly the original's (docs/algorithm.md §11.3).
 */
import sharp from 'sharp';
import type { LatentGrid } from '../distill/masks.js';
import type { RgbImage } from './decode.js';

/**
 * A latent-grid mask [h·w] → per-pixel alpha [H·W] in [0, 1] at the output size: upsampled
 * (nearest) then Gaussian-blurred by `featherSigma` pixels (default: 1/128 of the shorter side, at least 1:
 * sharp's blur does nothing below about 0.6).
 */
export async function featheredAlpha(
  mask: Float32Array,
  grid: LatentGrid,
  width: number,
  height: number,
  featherSigma = Math.max(1, Math.min(width, height) / 128),
): Promise<Float32Array> {
  const bytes = Buffer.from(Array.from(mask, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255)));
  const alpha = await sharp(bytes, { raw: { width: grid.width, height: grid.height, channels: 1 } })
    .resize(width, height, { kernel: 'nearest', fit: 'fill' })
    .blur(featherSigma)
    .extractChannel(0) // the blur hands back sRGB
    .raw()
    .toBuffer();
  return Float32Array.from(alpha, (v) => v / 255);
}

/** out = original·(1 − α) + edit·α, per pixel. */
export function compositeOver(original: RgbImage, edit: RgbImage, alpha: Float32Array): RgbImage {
  const out = Buffer.alloc(original.data.length);
  for (let p = 0; p < alpha.length; p++) {
    const a = alpha[p];
    for (let c = 0; c < 3; c++) {
      const i = 3 * p + c;
      out[i] = a === 0 ? original.data[i] : Math.round(original.data[i] * (1 - a) + edit.data[i] * a);
    }
  }
  return { data: out, width: original.width, height: original.height };
}
