/**
 * Fits an image under a platform's upload limit: a PNG or JPEG as is, else a JPEG, else a smaller
 * JPEG. Any format sharp reads is accepted (a thread's original photo is stored as it was sent).
 */
import sharp from 'sharp';

export interface FittedImage {
  data: Buffer;
  contentType: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
  /** How the image was made to fit, if it had to be. */
  shrunk?: 'jpeg' | 'downscaled';
}

const JPEG_QUALITY = 90;
/** Attempts at downscaling before giving up on a limit that is absurdly small. */
const MAX_DOWNSCALES = 8;

export async function fitForUpload(png: Buffer, maxBytes: number): Promise<FittedImage> {
  const { width = 0, height = 0, format } = await sharp(png).metadata();
  if (png.length <= maxBytes && (format === 'png' || format === 'jpeg')) return { data: png, contentType: `image/${format}`, width, height };
  let data = await sharp(png).jpeg({ quality: JPEG_QUALITY }).toBuffer();
  if (data.length <= maxBytes) return { data, contentType: 'image/jpeg', width, height, shrunk: 'jpeg' };
  let scale = 1;
  for (let attempt = 0; attempt < MAX_DOWNSCALES; attempt++) {
    // JPEG size grows about with the pixel count: shrink both sides by the square root, with a margin.
    scale *= Math.min(0.9, Math.sqrt(maxBytes / data.length) * 0.95);
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    data = await sharp(png).resize(w, h, { fit: 'fill' }).jpeg({ quality: JPEG_QUALITY }).toBuffer();
    if (data.length <= maxBytes) return { data, contentType: 'image/jpeg', width: w, height: h, shrunk: 'downscaled' };
  }
  throw new Error(`Could not fit a ${width}×${height} image under ${maxBytes} bytes.`);
}
