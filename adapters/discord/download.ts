/**
 * Downloading a person's attachment: only from Discord's CDN hosts (or the configured API's host,
 * for proxies and the test server), never following redirects, and never holding more than
 * `maxBytes` in memory.
 */
import { GasError } from '../../src/errors.js';
import { readCapped } from '../../src/chat/download.js';
import type { IncomingFile } from '../../src/chat/transport.js';
import { DEFAULT_DISCORD_API_URL } from './config.js';

export const DISCORD_CDN_HOSTS = ['cdn.discordapp.com', 'media.discordapp.net'];
const DOWNLOAD_TIMEOUT_MS = 30_000;

/** The hosts attachments may come from: the CDN, plus DISCORD_API_URL's host when it is not Discord's. */
export function attachmentHosts(apiUrl: string): string[] {
  return apiUrl === DEFAULT_DISCORD_API_URL ? DISCORD_CDN_HOSTS : [...DISCORD_CDN_HOSTS, new URL(apiUrl).host];
}

function tooLarge(maxBytes: number): GasError {
  return new GasError('bad_image', `The image is larger than ${(maxBytes / 1024 / 1024).toFixed(1)} MB; attach a smaller one.`);
}

export async function downloadAttachment(url: string, maxBytes: number, hosts: readonly string[]): Promise<Buffer> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GasError('bad_input', 'The attachment has no valid address.', { url });
  }
  const cdn = DISCORD_CDN_HOSTS.includes(parsed.host);
  if (!hosts.includes(parsed.host) || (cdn && parsed.protocol !== 'https:') || !/^https?:$/.test(parsed.protocol)) {
    throw new GasError('bad_input', 'That attachment is not hosted by Discord; attach the image to your message.', { host: parsed.host });
  }
  const response = await fetch(parsed, { redirect: 'error', signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) }).catch((error: unknown) => {
    throw new GasError('bad_image', 'The image could not be downloaded from Discord; try again.', { cause: String(error) });
  });
  if (!response.ok || !response.body) {
    throw new GasError('bad_image', 'The image could not be downloaded from Discord; try again.', { status: response.status });
  }
  return readCapped(response.body, response.headers, maxBytes, () => tooLarge(maxBytes));
}

/** An attachment as the flow sees it. */
export function incomingFile(
  attachment: { name: string; url: string; contentType?: string | null; size?: number },
  hosts: readonly string[],
): IncomingFile {
  return {
    name: attachment.name,
    ...(attachment.contentType ? { contentType: attachment.contentType } : {}),
    ...(attachment.size !== undefined ? { size: attachment.size } : {}),
    download: async (maxBytes) => {
      if (attachment.size !== undefined && attachment.size > maxBytes) throw tooLarge(maxBytes);
      return downloadAttachment(attachment.url, maxBytes, hosts);
    },
  };
}

/** Whether an attachment looks like an image (declared type, else its extension). */
export function isImageAttachment(attachment: { name: string; contentType?: string | null }): boolean {
  if (attachment.contentType) return attachment.contentType.startsWith('image/');
  return /\.(png|jpe?g|webp|gif|bmp|tiff?|avif)$/i.test(attachment.name);
}
