/** A person's photo, downloaded through the platform under the flow's size limit. */
import { GasError, isGasError } from '../errors.js';
import type { Logger } from '../log.js';
import type { IncomingFile } from './transport.js';

/** The photo's bytes, refused early when the platform already says it is too big or not an image. */
export async function downloadPhoto(file: IncomingFile, maxBytes: number, logger: Logger): Promise<Buffer> {
  if (file.contentType && !file.contentType.startsWith('image/')) {
    throw new GasError('bad_image', `${file.name} is not an image. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF photo.`);
  }
  const tooBig = () => new GasError('bad_image', `The image is over the ${formatMb(maxBytes)} MB limit; send a smaller one.`);
  if (file.size !== undefined && file.size > maxBytes) throw tooBig();
  let bytes: Buffer;
  try {
    bytes = await file.download(maxBytes);
  } catch (error) {
    if (isGasError(error)) throw error;
    logger.warn({ err: error, file: file.name }, 'could not download an image');
    throw new GasError('bad_image', 'The image could not be downloaded; post it again.');
  }
  if (bytes.length > maxBytes) throw tooBig();
  return bytes;
}

function formatMb(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return String(mb >= 1 ? Math.round(mb * 10) / 10 : Number(mb.toPrecision(2)));
}
