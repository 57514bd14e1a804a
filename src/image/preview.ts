/**
 * A cheap progress preview straight from a latent, without the VAE: a fixed linear map from
 * the 4 latent channels to RGB, upsampled 8× (nearest) to image size.
 */
import type { Latent } from '../distill/types.js';
import type { RgbImage } from './decode.js';

/**
 * Latent → RGB in [-1, 1] for SD 1.x scaled latents, [channel][r, g, b]: a least-squares fit
 * of decoded colours on latents, as used by common SD front-ends for live previews.
 */
export const SD1_LATENT_RGB_FACTORS: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

export function latentPreview(latent: Latent, factors: readonly (readonly number[])[] = SD1_LATENT_RGB_FACTORS, upscale = 8): RgbImage {
  const { height, width, data } = latent;
  const plane = height * width;
  const W = width * upscale;
  const out = Buffer.alloc(3 * W * height * upscale);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const rgb = [0, 1, 2].map((k) => {
        let v = 0;
        for (let c = 0; c < 4; c++) v += data[c * plane + p] * factors[c][k];
        return Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);
      });
      for (let dy = 0; dy < upscale; dy++) {
        for (let dx = 0; dx < upscale; dx++) {
          const o = 3 * ((y * upscale + dy) * W + x * upscale + dx);
          out[o] = rgb[0];
          out[o + 1] = rgb[1];
          out[o + 2] = rgb[2];
        }
      }
    }
  }
  return { data: out, width: W, height: height * upscale };
}
