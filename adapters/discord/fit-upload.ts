/**
 * Making a message's images fit an upload limit: first JPEG, then smaller, until they fit, so a
 * person gets their result (with a line saying so) instead of an error.
 */
import sharp from 'sharp';
import type { ChatImage, ChatMessage } from '../../src/chat/transport.js';
import { MAX_CONTENT_CHARS, truncateContent } from './payload.js';

const JPEG_QUALITY = 85;
const DOWNSCALE_STEP = 0.7;
const MAX_ROUNDS = 8;

export const totalImageBytes = (images: readonly ChatImage[]) => images.reduce((sum, image) => sum + image.data.length, 0);

async function asJpeg(image: ChatImage, scale: number): Promise<ChatImage> {
  const { width = 1, height = 1 } = await sharp(image.data).metadata();
  const resized = sharp(image.data)
    .flatten({ background: '#ffffff' })
    .resize(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)));
  return {
    ...image,
    name: image.name.replace(/\.[a-z0-9]+$/i, '') + '.jpg',
    contentType: 'image/jpeg',
    data: await resized.jpeg({ quality: JPEG_QUALITY, mozjpeg: true }).toBuffer(),
  };
}

/**
 * Re-encodes the message's images (as JPEG, then scaled down step by step) until they total at
 * most `limitBytes`, and appends a line saying what changed. Returns undefined when even the
 * smallest step does not fit.
 */
export async function fitImages(message: ChatMessage, limitBytes: number): Promise<ChatMessage | undefined> {
  if (message.images.length === 0) return undefined;
  const result = message.images.find((image) => image.placement === 'result');
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const scale = DOWNSCALE_STEP ** round;
    const images = await Promise.all(message.images.map((image) => asJpeg(image, scale)));
    if (totalImageBytes(images) <= limitBytes) {
      const shown = result ? await sharp(images[message.images.indexOf(result)].data).metadata() : undefined;
      const note =
        round === 0
          ? 'The image was sent as JPEG to fit Discord’s upload limit.'
          : `The image was sent as a smaller JPEG${shown ? ` (${shown.width}×${shown.height})` : ''} to fit Discord’s upload limit.`;
      // The note must survive the 2000-character cut, so the text makes room for it.
      return { ...message, images, text: `${truncateContent(message.text, MAX_CONTENT_CHARS - note.length - 1)}\n${note}` };
    }
  }
  return undefined;
}
