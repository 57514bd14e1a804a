import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, encodePng, resizeRgb, type RgbImage } from '../src/image/decode.js';
import { imageToTensor, tensorToImage, workingSize } from '../src/image/tensor.js';
import { compositeOver, featheredAlpha } from '../src/image/composite.js';
import { overlaySvg, regionColour, renderMaskOverlay } from '../src/image/overlay.js';
import { latentPreview } from '../src/image/preview.js';
import { GasError, isGasError } from '../src/errors.js';
import { latentMaskFromBox } from '../src/distill/masks.js';
import { rejection } from './helpers/errors.js';

type Rgb = readonly [number, number, number];

const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];

/** A raw RGB image whose pixel (x, y) is `colour(x, y)`. */
function rgbImage(width: number, height: number, colour: (x: number, y: number) => Rgb): RgbImage {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 3 * (y * width + x);
      const [r, g, b] = colour(x, y);
      data[o] = r;
      data[o + 1] = g;
      data[o + 2] = b;
    }
  }
  return { data, width, height };
}

function solid(width: number, height: number, rgb: Rgb): RgbImage {
  return rgbImage(width, height, () => rgb);
}

/** Left half red, right half blue. */
function halves(width: number, height: number): RgbImage {
  return rgbImage(width, height, (x) => (x < width / 2 ? RED : BLUE));
}

function toSharp(image: RgbImage): ReturnType<typeof sharp> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const o = 3 * (y * image.width + x);
  return [image.data[o], image.data[o + 1], image.data[o + 2]];
}

function expectColourNear(actual: readonly number[], expected: readonly number[], tolerance: number): void {
  expect(actual).toHaveLength(3);
  actual.forEach((v, c) => {
    expect(Math.abs(v - expected[c]), `channel ${c}: got ${v}, expected ${expected[c]} ± ${tolerance}`).toBeLessThanOrEqual(tolerance);
  });
}


function caught(fn: () => unknown): GasError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GasError);
    return error as GasError;
  }
  throw new Error('expected the call to throw');
}

const canEncodeHeif = Boolean(sharp.format.heif?.output?.buffer);

describe('decodeImage', () => {
  it('decodes a PNG to its exact size and pixels', async () => {
    const source = halves(32, 16);
    const png = await toSharp(source).png().toBuffer();
    const image = await decodeImage(png);
    expect([image.width, image.height]).toEqual([32, 16]);
    expect(image.data.length).toBe(32 * 16 * 3);
    expect(image.data.equals(source.data)).toBe(true);
  });

  it('decodes a JPEG to its size and colours (within lossy tolerance)', async () => {
    const jpeg = await toSharp(halves(32, 16)).jpeg({ quality: 95 }).toBuffer();
    const image = await decodeImage(jpeg);
    expect([image.width, image.height]).toEqual([32, 16]);
    expect(image.data.length).toBe(32 * 16 * 3);
    expectColourNear(pixel(image, 3, 8), RED, 12);
    expectColourNear(pixel(image, 28, 8), BLUE, 12);
  });

  it('decodes a lossy WebP to its size and colours (within lossy tolerance)', async () => {
    const webp = await toSharp(halves(32, 16)).webp({ quality: 90 }).toBuffer();
    const image = await decodeImage(webp);
    expect([image.width, image.height]).toEqual([32, 16]);
    expectColourNear(pixel(image, 3, 8), RED, 12);
    expectColourNear(pixel(image, 28, 8), BLUE, 12);
  });

  it('decodes a lossless WebP exactly', async () => {
    const source = halves(32, 16);
    const webp = await toSharp(source).webp({ lossless: true }).toBuffer();
    const image = await decodeImage(webp);
    expect([image.width, image.height]).toEqual([32, 16]);
    expect(image.data.equals(source.data)).toBe(true);
  });

  it('decodes only the first frame of an animated GIF', async () => {
    const red = await toSharp(solid(8, 6, RED)).png().toBuffer();
    const blue = await toSharp(solid(8, 6, BLUE)).png().toBuffer();
    const gif = await sharp([red, blue], { join: { animated: true } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2); // the fixture really has two frames

    const image = await decodeImage(gif);
    expect([image.width, image.height]).toEqual([8, 6]); // not 8×12: frames are not stacked
    for (const [x, y] of [[0, 0], [7, 5], [4, 3]]) expectColourNear(pixel(image, x, y), RED, 2);
  });

  it.skipIf(!canEncodeHeif)('decodes an AVIF (HEIF/AV1) to its size and colours (within lossy tolerance)', async () => {
    const avif = await toSharp(halves(32, 16)).avif({ quality: 90 }).toBuffer();
    expect((await sharp(avif).metadata()).format).toBe('heif');
    const image = await decodeImage(avif);
    expect([image.width, image.height]).toEqual([32, 16]);
    expectColourNear(pixel(image, 3, 8), RED, 16);
    expectColourNear(pixel(image, 28, 8), BLUE, 16);
  });

  it('decodes a TIFF exactly', async () => {
    const source = halves(10, 6);
    const tiff = await toSharp(source).tiff({ compression: 'lzw' }).toBuffer(); // sharp's default TIFF compression is lossy JPEG
    const image = await decodeImage(tiff);
    expect([image.width, image.height]).toEqual([10, 6]);
    expect(image.data.equals(source.data)).toBe(true);
  });

  it('applies the EXIF orientation (6: rotate 90° clockwise), so a 40×20 JPEG decodes as 20×40', async () => {
    const jpeg = await toSharp(halves(40, 20)).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const meta = await sharp(jpeg).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([40, 20, 6]);

    const image = await decodeImage(jpeg);
    expect([image.width, image.height]).toEqual([20, 40]);
    // Rotating clockwise takes the left (red) half to the top and the right (blue) half to the bottom.
    expectColourNear(pixel(image, 10, 3), RED, 12);
    expectColourNear(pixel(image, 10, 36), BLUE, 12);
  });

  it('flattens alpha on white: a fully transparent pixel decodes as 255,255,255', async () => {
    const rgba = Buffer.alloc(4 * 3 * 4);
    for (let p = 0; p < 12; p++) rgba.set([255, 0, 0, 255], 4 * p);
    rgba.set([0, 0, 0, 0], 0); // pixel (0, 0): black, fully transparent
    rgba.set([0, 0, 255, 128], 4 * 5); // pixel (1, 1): blue, half transparent
    const png = await sharp(rgba, { raw: { width: 4, height: 3, channels: 4 } }).png().toBuffer();

    const image = await decodeImage(png);
    expect([image.width, image.height]).toEqual([4, 3]);
    expect(image.data.length).toBe(4 * 3 * 3); // three channels, alpha removed
    expect(pixel(image, 0, 0)).toEqual([255, 255, 255]);
    expect(pixel(image, 1, 0)).toEqual([255, 0, 0]);
    expectColourNear(pixel(image, 1, 1), [127, 127, 255], 1); // blended half-way with white
  });

  it('rejects an image above maxPixels with bad_image and a message about the limit', async () => {
    const png = await toSharp(solid(20, 20, RED)).png().toBuffer(); // 400 pixels
    const error = await rejection(decodeImage(png, { maxPixels: 100 }));
    expect(error.code).toBe('bad_image');
    expect(isGasError(error, 'bad_image')).toBe(true);
    expect(error.message).toMatch(/too large/i);
    expect(error.message).toMatch(/limit is 100 pixels/);
  });

  it('accepts an image exactly at maxPixels', async () => {
    const png = await toSharp(solid(10, 10, RED)).png().toBuffer(); // 100 pixels
    const image = await decodeImage(png, { maxPixels: 100 });
    expect([image.width, image.height]).toEqual([10, 10]);
  });

  it('states the default 40 MP limit in the message', async () => {
    // A PNG header claiming 8000×8000 (64 MP) is refused from its header, before decoding.
    const big = await sharp({ create: { width: 8000, height: 8000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
    const error = await rejection(decodeImage(big));
    expect(error.code).toBe('bad_image');
    expect(error.message).toContain('the limit is 40 megapixels');
  });

  it('states a limit under one megapixel in pixels, not as 0 megapixels', async () => {
    const png = await toSharp(solid(20, 20, RED)).png().toBuffer();
    const error = await rejection(decodeImage(png, { maxPixels: 100 }));
    expect(error.message).toBe('The image is too large: the limit is 100 pixels. Send a smaller image.');
  });

  it('rejects garbage bytes with bad_image and a message naming the supported formats', async () => {
    const error = await rejection(decodeImage(Buffer.from('this is not an image, just some bytes')));
    expect(error.code).toBe('bad_image');
    expect(error.message).toBe('The image could not be read. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF file.');
    expect(typeof error.details?.cause).toBe('string');
  });

  it('rejects a truncated PNG with bad_image', async () => {
    const png = await toSharp(halves(64, 64)).png().toBuffer();
    const error = await rejection(decodeImage(png.subarray(0, Math.floor(png.length / 2))));
    expect(error.code).toBe('bad_image');
  });

  it('rejects a missing file path with bad_input naming the path', async () => {
    const error = await rejection(decodeImage('/nonexistent/dir/missing-image.png'));
    expect(error.code).toBe('bad_input');
    expect(error.message).toBe('No image at /nonexistent/dir/missing-image.png.');
  });
});

describe('encodePng and resizeRgb', () => {
  it('encodes a PNG that decodes back to identical bytes', async () => {
    const source = rgbImage(7, 5, (x, y) => [x * 30, y * 50, (x + y) * 10]);
    const png = await encodePng(source);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    const back = await decodeImage(png);
    expect([back.width, back.height]).toEqual([7, 5]);
    expect(back.data.equals(source.data)).toBe(true);
  });

  it('resizes to exactly the asked size, and returns the same image when the size already matches', async () => {
    const source = solid(16, 8, [10, 200, 30]);
    expect(await resizeRgb(source, 16, 8)).toBe(source);
    const resized = await resizeRgb(source, 8, 12);
    expect([resized.width, resized.height]).toEqual([8, 12]);
    expect(resized.data.length).toBe(8 * 12 * 3);
    expectColourNear(pixel(resized, 4, 6), [10, 200, 30], 1);
  });
});

describe('workingSize', () => {
  it('brings the longer side to 512 and keeps the aspect ratio: 1024×768 → 512×384', () => {
    expect(workingSize(1024, 768)).toEqual({ width: 512, height: 384 });
  });

  it('rounds the shorter side to a multiple of 64 and never below 64: 100×1000 → 64×512', () => {
    // scale 0.512: 51.2 → round(0.8)·64 = 64; 1000 → 512
    expect(workingSize(100, 1000)).toEqual({ width: 64, height: 512 });
    // 10×1000: 5.12 → round(0.08)·64 = 0, raised to the 64 minimum
    expect(workingSize(10, 1000)).toEqual({ width: 64, height: 512 });
  });

  it('keeps 512×512 as is and scales a small square image up to 512×512', () => {
    expect(workingSize(512, 512)).toEqual({ width: 512, height: 512 });
    expect(workingSize(100, 100)).toEqual({ width: 512, height: 512 });
  });

  it('rounds to the nearest multiple of 64: 640×480 → 512×384, 1000×700 → 512×384', () => {
    expect(workingSize(640, 480)).toEqual({ width: 512, height: 384 });
    // 700·0.512 = 358.4 → 5.6 → 6·64 = 384
    expect(workingSize(1000, 700)).toEqual({ width: 512, height: 384 });
  });

  it('honours another maxSide: 256', () => {
    expect(workingSize(1024, 768, 256)).toEqual({ width: 256, height: 192 });
    expect(workingSize(100, 1000, 256)).toEqual({ width: 64, height: 256 });
    expect(workingSize(300, 300, 256)).toEqual({ width: 256, height: 256 });
  });

  it('returns sides that are multiples of 64, at least 64 and at most maxSide', () => {
    for (const [w, h] of [[1, 1], [3000, 17], [17, 3000], [1920, 1080], [333, 777], [4096, 4095]]) {
      for (const maxSide of [64, 256, 512, 768]) {
        const size = workingSize(w, h, maxSide);
        for (const side of [size.width, size.height]) {
          expect(side % 64).toBe(0);
          expect(side).toBeGreaterThanOrEqual(64);
          expect(side).toBeLessThanOrEqual(maxSide);
        }
        expect(Math.max(size.width, size.height)).toBe(maxSide);
      }
    }
  });

  it('throws bad_input for a maxSide that is not a positive multiple of 64', () => {
    for (const maxSide of [500, 32, 0, -64, 512.5, Number.NaN]) {
      const error = caught(() => workingSize(1024, 768, maxSide));
      expect(error.code).toBe('bad_input');
      expect(error.message).toContain('multiple of 64');
    }
  });
});

describe('imageToTensor / tensorToImage', () => {
  it('round-trips every byte value to identical bytes', () => {
    // 16×16×3 = 768 bytes: every value 0..255 appears in each of R, G and B positions.
    const data = Buffer.from(Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 7) % 256));
    const image: RgbImage = { data, width: 16, height: 16 };
    const tensor = imageToTensor(image);
    expect([tensor.width, tensor.height, tensor.data.length]).toEqual([16, 16, 3 * 256]);
    const back = tensorToImage(tensor);
    expect([back.width, back.height]).toEqual([16, 16]);
    expect(back.data.equals(data)).toBe(true);
  });

  it('maps 0 to -1 and 255 to 1, channel-major ([1, 3, H, W])', () => {
    // 2×1 image: pixel 0 = (0, 255, 0), pixel 1 = (255, 0, 255)
    const tensor = imageToTensor({ data: Buffer.from([0, 255, 0, 255, 0, 255]), width: 2, height: 1 });
    expect(Array.from(tensor.data)).toEqual([-1, 1, 1, -1, -1, 1]); // R plane, G plane, B plane
  });

  it('clamps out-of-range tensor values to 0 and 255', () => {
    const image = tensorToImage({ data: Float32Array.from([2, -3, 0]), width: 1, height: 1 });
    expect(Array.from(image.data)).toEqual([255, 0, 128]); // (0+1)·127.5 = 127.5 rounds to 128
  });
});

describe('featheredAlpha and compositeOver', () => {
  const grid = { height: 8, width: 8 };
  const leftHalf = latentMaskFromBox([0, 0, 0.5, 1], grid); // columns 0..3 of the latent grid

  it('is exactly 1 far inside the mask, exactly 0 far outside, and strictly between at the edge', async () => {
    const alpha = await featheredAlpha(leftHalf, grid, 64, 64, 2);
    expect(alpha).toBeInstanceOf(Float32Array);
    expect(alpha.length).toBe(64 * 64);
    const at = (x: number, y: number) => alpha[y * 64 + x];
    for (const y of [0, 20, 63]) {
      for (const x of [0, 5, 20, 26]) expect(at(x, y)).toBe(1);
      for (const x of [38, 45, 63]) expect(at(x, y)).toBe(0);
      // The mask edge lies between pixels 31 and 32 (latent column 4 starts at pixel 32).
      for (const x of [30, 31, 32, 33]) {
        expect(at(x, y)).toBeGreaterThan(0);
        expect(at(x, y)).toBeLessThan(1);
      }
      // Falls monotonically across the edge.
      for (let x = 1; x < 64; x++) expect(at(x, y)).toBeLessThanOrEqual(at(x - 1, y));
      expect(at(31, y)).toBeGreaterThan(at(32, y));
    }
  });

  it('only depends on x for a mask that spans the full height', async () => {
    const alpha = await featheredAlpha(leftHalf, grid, 64, 64, 2);
    for (let y = 1; y < 64; y++) expect(Array.from(alpha.subarray(y * 64, y * 64 + 64))).toEqual(Array.from(alpha.subarray(0, 64)));
  });

  it('feathers by default at 1/128 of the shorter side (256×256: sigma 2)', async () => {
    const alpha = await featheredAlpha(leftHalf, grid, 256, 256);
    const row = alpha.subarray(0, 256);
    expect(row[0]).toBe(1);
    expect(row[120]).toBe(1);
    expect(row[140]).toBe(0);
    expect(row[255]).toBe(0);
    for (const x of [127, 128]) {
      expect(row[x]).toBeGreaterThan(0);
      expect(row[x]).toBeLessThan(1);
    }
  });

  // sharp's blur does nothing below sigma ≈ 0.6, so the default sigma has a floor of 1.
  it('feathers the edge with the default sigma at 64×64 too', async () => {
    const alpha = await featheredAlpha(leftHalf, grid, 64, 64);
    expect(alpha[31]).toBeLessThan(1);
    expect(alpha[32]).toBeGreaterThan(0);
  });

  it('leaves pixels outside the feather byte-identical to the original and inside identical to the edit', async () => {
    const alpha = await featheredAlpha(leftHalf, grid, 64, 64, 2);
    const original = rgbImage(64, 64, (x, y) => [x * 3, 200, y * 3]);
    const edit = rgbImage(64, 64, (x, y) => [250 - y * 2, 13, x * 2]);
    const out = compositeOver(original, edit, alpha);
    expect([out.width, out.height]).toEqual([64, 64]);
    for (const y of [0, 31, 63]) {
      for (const x of [40, 50, 63]) expect(pixel(out, x, y)).toEqual(pixel(original, x, y));
      for (const x of [0, 10, 25]) expect(pixel(out, x, y)).toEqual(pixel(edit, x, y));
      // At the edge: the rounded blend of the two, strictly between for a channel that differs.
      for (const x of [31, 32]) {
        const a = alpha[y * 64 + x];
        const expected = [0, 1, 2].map((c) => Math.round(pixel(original, x, y)[c] * (1 - a) + pixel(edit, x, y)[c] * a));
        expect(pixel(out, x, y)).toEqual(expected);
        expect(pixel(out, x, y)[1]).toBeGreaterThan(13);
        expect(pixel(out, x, y)[1]).toBeLessThan(200);
      }
    }
  });

  it('blends with the given alpha: 0.25 of the way from the original to the edit', () => {
    const original = solid(2, 1, [0, 100, 200]);
    const edit = solid(2, 1, [200, 100, 0]);
    const out = compositeOver(original, edit, Float32Array.from([0.25, 1]));
    expect(Array.from(out.data)).toEqual([50, 100, 150, 200, 100, 0]);
  });
});

describe('renderMaskOverlay and overlaySvg', () => {
  const grey: Rgb = [100, 100, 100];

  it('returns a PNG of the input size, tinting pixels inside a region and leaving pixels outside unchanged', async () => {
    const image = solid(128, 96, grey);
    const png = await renderMaskOverlay(image, [{ label: 'x', boxes: [[0.5, 0.5, 1, 1]] }]);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 96]);

    const out = await decodeImage(png);
    // Inside the box, away from its outline and its label (top-left corner of the box).
    const inside = pixel(out, 110, 85);
    expect(inside).not.toEqual([...grey]);
    // #E69F00 at 28 % over grey 100: 100·0.72 + (230, 159, 0)·0.28 ≈ (136, 117, 72)
    expectColourNear(inside, [136, 117, 72], 3);
    // Outside every region: untouched.
    for (const [x, y] of [[5, 5], [40, 30], [10, 90], [120, 10]]) expect(pixel(out, x, y)).toEqual([...grey]);
  });

  it('tints each region in its own colour', async () => {
    const image = solid(128, 128, grey);
    const png = await renderMaskOverlay(image, [
      { label: 'a', boxes: [[0, 0.5, 0.5, 1]] },
      { label: 'b', boxes: [[0.5, 0.5, 1, 1]] },
    ]);
    const out = await decodeImage(png);
    const first = pixel(out, 40, 120);
    const second = pixel(out, 110, 120);
    expect(first).not.toEqual([...grey]);
    expect(second).not.toEqual([...grey]);
    expect(first).not.toEqual(second);
    // #56B4E9 at 28 % over grey 100: 100·0.72 + (86, 180, 233)·0.28 ≈ (96, 122, 137)
    expectColourNear(second, [96, 122, 137], 3);
    expect(pixel(out, 64, 20)).toEqual([...grey]);
  });

  it('escapes XML in labels and numbers the regions from 1', () => {
    const svg = overlaySvg(200, 100, [
      { label: 'a <dog> & cat', boxes: [[0.25, 0.25, 0.5, 0.75]] },
      { label: `"big" 'tree'`, boxes: [[0.5, 0.2, 0.9, 0.9]] },
    ]);
    expect(svg).toContain('1 · a &lt;dog&gt; &amp; cat');
    expect(svg).not.toContain('<dog>');
    expect(svg).not.toContain('& cat');
    expect(svg).toContain('2 · &quot;big&quot; &apos;tree&apos;');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="200" height="100">/);
    expect(svg).toContain('<rect x="50" y="25" width="50" height="50" fill="#E69F00"');
    expect(svg).toContain('fill="#56B4E9"');
  });

  it('draws labels with control characters, U+FFFE and lone surrogates by dropping what XML cannot hold', async () => {
    const label = 'a \x1b[31mdog\x00 → a\ttiger\uFFFE\uFFFF \uD800cat\nfox 🐯';
    const svg = overlaySvg(128, 128, [{ label, boxes: [[0, 0, 1, 1]] }]);
    expect(svg).toContain('1 · a [31mdog → a tiger cat fox 🐯</text>');
    const png = await renderMaskOverlay(solid(128, 128, grey), [{ label, boxes: [[0, 0, 1, 1]] }]);
    expect((await sharp(png).metadata()).width).toBe(128);
  });

  it('draws one rectangle per box of a region, and cycles colours after eight regions', () => {
    const svg = overlaySvg(100, 100, [{ label: 'dogs', boxes: [[0, 0, 0.2, 0.2], [0.5, 0.5, 0.7, 0.7]] }]);
    expect(svg.match(/fill-opacity="0.28"/g)).toHaveLength(2);
    expect(svg.match(/<text /g)).toHaveLength(1);
    expect(regionColour(0)).toBe('#E69F00');
    expect(regionColour(8)).toBe(regionColour(0));
    expect(regionColour(9)).toBe(regionColour(1));
  });
});

describe('latentPreview', () => {
  it('maps a 1×1 latent through custom factors and upsamples it 8× to 64 identical pixels', () => {
    const factors = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0, 0, 0],
    ];
    // R = 0.5 → 191.25 → 191; G = -0.5 → 63.75 → 64; B = 0 → 127.5 → 128; channel 3 has no weight.
    const preview = latentPreview({ data: Float32Array.from([0.5, -0.5, 0, 9]), height: 1, width: 1 }, factors);
    expect([preview.width, preview.height]).toEqual([8, 8]);
    expect(preview.data.length).toBe(64 * 3);
    for (let p = 0; p < 64; p++) expect(Array.from(preview.data.subarray(3 * p, 3 * p + 3))).toEqual([191, 64, 128]);
  });

  it('sums all four channels with their factors and clamps to [-1, 1]', () => {
    const factors = [
      [1, 1, 0.5],
      [1, -1, 0],
      [0, 0, 0.25],
      [-1, 0, 0],
    ];
    // R = 0.4 + 0.4 - 0.1 = 0.7 → 216.75 → 217; G = 0.4 - 0.4 = 0 → 128; B = 0.2 + 0.5 = 0.7 → 217
    const a = latentPreview({ data: Float32Array.from([0.4, 0.4, 2, 0.1]), height: 1, width: 1 }, factors);
    expect(Array.from(a.data.subarray(0, 3))).toEqual([217, 128, 217]);
    // Far out of range: clamped.
    const b = latentPreview({ data: Float32Array.from([5, 0, 0, 0]), height: 1, width: 1 }, factors);
    expect(Array.from(b.data.subarray(0, 3))).toEqual([255, 255, 255]); // (5, 5, 2.5) clamped to 1
    const c = latentPreview({ data: Float32Array.from([-5, 0, 0, 0]), height: 1, width: 1 }, factors);
    expect(Array.from(c.data.subarray(0, 3))).toEqual([0, 0, 0]); // (-5, -5, -2.5) clamped to -1
  });

  it('places each latent cell in its own 8×8 block (channel-major latent)', () => {
    const factors = [
      [1, 1, 1],
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ];
    // 2 wide × 1 high: channel 0 = [1, -1] → cell 0 white, cell 1 black.
    const preview = latentPreview({ data: Float32Array.from([1, -1, 0, 0, 0, 0, 0, 0]), height: 1, width: 2 }, factors);
    expect([preview.width, preview.height]).toEqual([16, 8]);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 16; x++) expect(pixel(preview, x, y)).toEqual(x < 8 ? [255, 255, 255] : [0, 0, 0]);
    }
  });

  it('gives mid-grey 128,128,128 for an all-zero latent with the default SD1 factors', () => {
    const preview = latentPreview({ data: new Float32Array(4 * 2 * 3), height: 2, width: 3 });
    expect([preview.width, preview.height]).toEqual([24, 16]);
    expect(preview.data.length).toBe(24 * 16 * 3);
    expect(preview.data.every((v) => v === 128)).toBe(true);
  });

  it('honours another upscale factor', () => {
    const preview = latentPreview({ data: new Float32Array(4), height: 1, width: 1 }, undefined, 2);
    expect([preview.width, preview.height]).toEqual([2, 2]);
    expect(Array.from(preview.data)).toEqual(new Array(12).fill(128));
  });
});
