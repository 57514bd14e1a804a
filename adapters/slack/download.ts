/**
 * Downloading a file a person shared: `url_private_download` with the bot token, only from Slack's
 * file host (or SLACK_API_URL's host, for proxies and the test server), never following redirects,
 * never holding more than `maxBytes`. Slack answers a missing token or scope with its HTML sign-in
 * page and status 200, so the bytes are checked to be an image.
 */
import { GasError } from '../../src/errors.js';
import { readCapped } from '../../src/chat/download.js';
import type { IncomingFile } from '../../src/chat/transport.js';
import { DEFAULT_SLACK_API_URL } from './config.js';

export const SLACK_FILE_HOST = 'files.slack.com';
const DOWNLOAD_TIMEOUT_MS = 30_000;

/** A file as Slack describes it in message events (the fields the adapter reads). */
export interface SlackFileObject {
  id: string;
  name?: string;
  title?: string;
  mimetype?: string;
  filetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
}

/** The hosts files may come from: files.slack.com, plus SLACK_API_URL's host when it is not Slack's. */
export function fileHosts(apiUrl: string): string[] {
  return apiUrl === DEFAULT_SLACK_API_URL ? [SLACK_FILE_HOST] : [SLACK_FILE_HOST, new URL(apiUrl).host];
}

const tooLarge = (maxBytes: number) => new GasError('bad_image', `The image is larger than ${(maxBytes / 1024 / 1024).toFixed(1)} MB; share a smaller one.`);
const notAnImage = () =>
  new GasError('bad_image', 'Slack sent a web page instead of the image: the bot needs the files:read scope (reinstall the app after adding it).');

/** Whether the bytes start like an image format sharp reads (PNG, JPEG, GIF, WebP, AVIF/HEIF, TIFF, BMP). */
export function looksLikeImage(bytes: Buffer): boolean {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47) || starts(0xff, 0xd8, 0xff) || starts(0x47, 0x49, 0x46, 0x38)) return true;
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return true;
  if (bytes.subarray(4, 8).toString('latin1') === 'ftyp') return true; // AVIF / HEIF
  return starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a) || starts(0x42, 0x4d);
}

export async function downloadSlackFile(url: string, token: string, maxBytes: number, hosts: readonly string[]): Promise<Buffer> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GasError('bad_input', 'The shared file has no valid address.');
  }
  const slackHost = parsed.host === SLACK_FILE_HOST;
  if (!hosts.includes(parsed.host) || (slackHost && parsed.protocol !== 'https:') || !/^https?:$/.test(parsed.protocol)) {
    throw new GasError('bad_input', 'That file is not hosted by Slack; share the image in your message.', { host: parsed.host });
  }
  const response = await fetch(parsed, {
    headers: { authorization: `Bearer ${token}` },
    redirect: 'error',
    signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS),
  }).catch((error: unknown) => {
    // Redirects land here too: Slack redirects to its sign-in page when the token is refused.
    throw new GasError('bad_image', 'The image could not be downloaded from Slack (check that the bot has the files:read scope); try again.', { cause: String(error) });
  });
  if (!response.ok || !response.body) {
    throw new GasError('bad_image', 'The image could not be downloaded from Slack; try again.', { status: response.status });
  }
  if ((response.headers.get('content-type') ?? '').startsWith('text/html')) {
    await response.body.cancel();
    throw notAnImage();
  }
  const bytes = await readCapped(response.body, response.headers, maxBytes, () => tooLarge(maxBytes));
  if (!looksLikeImage(bytes)) {
    if (/^\s*</.test(bytes.subarray(0, 64).toString('latin1'))) throw notAnImage();
    throw new GasError('bad_image', 'That file is not an image. Share a JPEG, PNG, WebP, GIF or AVIF/HEIF photo.');
  }
  return bytes;
}

/** Whether a shared file looks like an image (declared type, else its extension). */
export function isImageFile(file: SlackFileObject): boolean {
  if (file.mimetype) return file.mimetype.startsWith('image/');
  return /\.(png|jpe?g|webp|gif|bmp|tiff?|avif|heic|heif)$/i.test(file.name ?? '');
}

/** A shared file as the flow sees it. */
export function incomingFile(file: SlackFileObject, token: string, hosts: readonly string[]): IncomingFile {
  const url = file.url_private_download ?? file.url_private ?? '';
  return {
    name: file.name ?? file.title ?? file.id,
    ...(file.mimetype ? { contentType: file.mimetype } : {}),
    ...(file.size !== undefined ? { size: file.size } : {}),
    download: async (maxBytes) => {
      if (file.size !== undefined && file.size > maxBytes) throw tooLarge(maxBytes);
      return downloadSlackFile(url, token, maxBytes, hosts);
    },
  };
}
