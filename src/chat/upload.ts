/**
 * Fitting images to a platform's upload limits, in one place and at one JPEG quality: a PNG or JPEG
 * within the limit as it is, else a JPEG, else a smaller JPEG; and the one line that tells people
 * their image was changed. Any format sharp reads is accepted (a thread's original photo is stored
 * as it was sent).
 */
import sharp from 'sharp';
import type { ChatImage, ChatMessage, UploadLimits } from './transport.js';

export interface FittedImage {
  data: Buffer;
  contentType: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
  /** How the image was made to fit, if it had to be. */
  shrunk?: 'jpeg' | 'downscaled';
}

/** A message whose images fit, and the line saying how they were made to, which the adapter places where its length limit keeps it. */
export interface FittedMessage {
  message: ChatMessage;
  note?: string;
}

const JPEG_QUALITY = 90;
/** Attempts at downscaling before giving up on a limit that is absurdly small. */
const MAX_DOWNSCALES = 8;
/** How every resize note begins, so that a message re-fitted later carries only the newest one. */
const OVER_LIMIT = 'The PNG is over the upload limit here, so this is a JPEG';
const SENT_SMALLER = 'The image was sent as a smaller JPEG';

/** How large one image may be: a byte count, or a platform's limits for an image alone in its message. */
export function imageLimit(limit: number | UploadLimits): number {
  return typeof limit === 'number' ? limit : Math.min(limit.fileBytes, limit.messageBytes ?? Infinity);
}

export async function fitForUpload(image: Buffer, limit: number | UploadLimits): Promise<FittedImage> {
  const maxBytes = imageLimit(limit);
  const { width = 0, height = 0, format } = await sharp(image).metadata();
  if (image.length <= maxBytes && (format === 'png' || format === 'jpeg')) return { data: image, contentType: `image/${format}`, width, height };
  // Transparency becomes white, as people expect of a picture, not JPEG's default black.
  const jpeg = (size?: { w: number; h: number }) =>
    (size ? sharp(image).resize(size.w, size.h, { fit: 'fill' }) : sharp(image)).flatten({ background: '#ffffff' }).jpeg({ quality: JPEG_QUALITY }).toBuffer();
  let data = await jpeg();
  if (data.length <= maxBytes) return { data, contentType: 'image/jpeg', width, height, shrunk: 'jpeg' };
  let scale = 1;
  for (let attempt = 0; attempt < MAX_DOWNSCALES; attempt++) {
    // JPEG size grows about with the pixel count: shrink both sides by the square root, with a margin.
    scale *= Math.min(0.9, Math.sqrt(maxBytes / data.length) * 0.95);
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    data = await jpeg({ w, h });
    if (data.length <= maxBytes) return { data, contentType: 'image/jpeg', width: w, height: h, shrunk: 'downscaled' };
  }
  throw new Error(`Could not fit a ${width}×${height} image under ${maxBytes} bytes.`);
}

/** The line a status message carries when its image had to be made smaller; undefined when it did not. */
export function resizeNote(fitted: FittedImage): string | undefined {
  if (fitted.shrunk === 'jpeg') return `${OVER_LIMIT} of it.`;
  if (fitted.shrunk === 'downscaled') return `${OVER_LIMIT} at ${fitted.width}×${fitted.height}.`;
  return undefined;
}

const isResizeNote = (line: string) => line.startsWith(OVER_LIMIT) || line.startsWith(SENT_SMALLER);

function asFitted(image: ChatImage, fitted: FittedImage): ChatImage {
  const name = fitted.contentType === 'image/jpeg' ? `${image.name.replace(/\.[a-z0-9]+$/i, '')}.jpg` : image.name;
  return { ...image, name, data: fitted.data, contentType: fitted.contentType };
}

/**
 * Makes a message's images fit `limits`: each within the per-file limit, all together within the
 * per-message total (shared in proportion to their sizes). A message that fits comes back as it
 * is. Otherwise its text loses any earlier resize note and `note` says what was done to the result
 * (or the first image changed). `refusedBy`: the platform refused the message although it was
 * within its declared limits (Discord's 413), and the note names it. Throws when nothing fits.
 */
export async function fitMessage(message: ChatMessage, limits: UploadLimits, refusedBy?: string): Promise<FittedMessage> {
  const total = message.images.reduce((sum, image) => sum + image.data.length, 0);
  const share = limits.messageBytes !== undefined && total > limits.messageBytes ? limits.messageBytes / total : 1;
  const budgets = message.images.map((image) => Math.floor(Math.min(limits.fileBytes, image.data.length * share)));
  if (message.images.every((image, i) => image.data.length <= budgets[i])) return { message };
  const fitted = await Promise.all(message.images.map((image, i) => (image.data.length <= budgets[i] ? undefined : fitForUpload(image.data, budgets[i]))));
  const result = message.images.findIndex((image) => image.placement === 'result');
  const described = fitted[result] ?? fitted.find((image) => image !== undefined)!;
  const note = refusedBy ? `${SENT_SMALLER} (${described.width}×${described.height}) to fit ${refusedBy}’s upload limit.` : resizeNote(described);
  return {
    message: {
      ...message,
      text: message.text.split('\n').filter((line) => !isResizeNote(line)).join('\n'),
      images: message.images.map((image, i) => (fitted[i] ? asFitted(image, fitted[i]) : image)),
    },
    ...(note ? { note } : {}),
  };
}
