/**
 * Decoding what people post: JPEG, PNG, WebP, GIF (first frame), AVIF/HEIF and TIFF where
 * sharp's build reads them; EXIF orientation applied; alpha flattened on white.
 */
import sharp from 'sharp';
import { GasError } from '../errors.js';

/** 8-bit sRGB pixels, 3 channels, row-major. */
export interface RgbImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/** Refuse larger inputs before decoding them (decompression bombs): 40 megapixels by default. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

export interface DecodeOptions {
  maxPixels?: number;
}

const MB = 1024 * 1024;
/** The largest photo accepted, as sent (bytes on the wire, not decoded or re-encoded): 20 MB. */
export const DEFAULT_MAX_PHOTO_BYTES = 20 * MB;

export interface PhotoLimits extends DecodeOptions {
  maxBytes?: number;
}

/**
 * Checks a photo as the person sent it, the one check `gas edit`, `gas submit` and the chat
 * adapters share: at most `maxBytes` as sent, at most `maxPixels`, and decodable. Returns its pixels.
 */
export async function decodePhoto(bytes: Buffer, limits: PhotoLimits = {}): Promise<RgbImage> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_PHOTO_BYTES;
  if (bytes.length === 0) throw new GasError('bad_image', 'The image is empty; send it again.');
  if (bytes.length > maxBytes) {
    throw new GasError('bad_image', `The image is ${formatSize(bytes.length, 'up')}, over the ${formatSize(maxBytes, 'down')} limit. Send a smaller one.`, {
      bytes: bytes.length,
      maxBytes,
    });
  }
  return decodeImage(bytes, limits);
}

/**
 * A size in MB (KB below 1 MB) with one decimal; `up` rounds up, so that a file just over the
 * limit never reads as the limit itself.
 */
function formatSize(bytes: number, round: 'up' | 'down'): string {
  const [unit, size] = bytes >= MB ? ['MB', bytes / MB] : ['KB', bytes / 1024];
  const tenths = round === 'up' ? Math.ceil(size * 10) : Math.floor(size * 10);
  return `${tenths / 10} ${unit}`;
}

export async function decodeImage(input: Buffer | string, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'error', pages: 1 })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (error) {
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      const limit = maxPixels >= 1e6 ? `${Number((maxPixels / 1e6).toFixed(1))} megapixels` : `${maxPixels} pixels`;
      throw new GasError('bad_image', `The image is too large: the limit is ${limit}. Send a smaller image.`, { cause: message });
    }
    if (/no such file|ENOENT/i.test(message) || (typeof input === 'string' && /Input file is missing/i.test(message))) {
      throw new GasError('bad_input', `No image at ${String(input)}.`, { cause: message });
    }
    throw new GasError(
      'bad_image',
      'The image could not be read. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF file.',
      { cause: message },
    );
  }
}

/** The RGB image as a PNG. */
export async function encodePng(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}

/** Resizes with sharp's default (Lanczos) kernel to exactly width × height. */
export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { data, width, height };
}
