/** Between 8-bit RGB images and the engine's [1, 3, H, W] tensors in [-1, 1]. */
import { GasError } from '../errors.js';
import type { RgbImage } from './decode.js';
import type { ImageTensor } from '../distill/types.js';

/** Both sides of the working image are multiples of this (SD's UNet downsamples latents 3×). */
export const SIDE_MULTIPLE = 64;
export const DEFAULT_MAX_SIDE = 512;

export type { ImageTensor };

/**
 * The size the model works at: the aspect ratio kept, the longer side brought to `maxSide`
 * (the model's native size; small images are scaled up, as the reference's 512² resize does),
 * both sides rounded to multiples of 64 (docs/algorithm.md §2.1).
 */
export function workingSize(width: number, height: number, maxSide = DEFAULT_MAX_SIDE): { width: number; height: number } {
  if (!Number.isInteger(maxSide) || maxSide < SIDE_MULTIPLE || maxSide % SIDE_MULTIPLE !== 0) {
    throw new GasError('bad_input', `The working size must be a multiple of ${SIDE_MULTIPLE} of at least ${SIDE_MULTIPLE} (got ${maxSide}).`);
  }
  const scale = maxSide / Math.max(width, height);
  const side = (v: number) => Math.max(SIDE_MULTIPLE, Math.min(maxSide, Math.round((v * scale) / SIDE_MULTIPLE) * SIDE_MULTIPLE));
  return { width: side(width), height: side(height) };
}

/** RGB bytes → [1, 3, H, W] in [-1, 1]: x = rgb/127.5 − 1 (docs/algorithm.md §2.2). */
export function imageToTensor(image: RgbImage): ImageTensor {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    out[p] = data[3 * p] / 127.5 - 1;
    out[plane + p] = data[3 * p + 1] / 127.5 - 1;
    out[2 * plane + p] = data[3 * p + 2] / 127.5 - 1;
  }
  return { data: out, width, height };
}

/** Clamps to [-1, 1] and maps to [0, 255] (docs/algorithm.md §11.1). */
export function tensorToImage(tensor: ImageTensor): RgbImage {
  const { width, height, data } = tensor;
  const plane = width * height;
  const out = Buffer.alloc(3 * plane);
  const byte = (v: number) => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);
  for (let p = 0; p < plane; p++) {
    out[3 * p] = byte(data[p]);
    out[3 * p + 1] = byte(data[plane + p]);
    out[3 * p + 2] = byte(data[2 * plane + p]);
  }
  return { data: out, width, height };
}
