/**
 * Where Discord attachments may come from, and what a person is told when one cannot be
 * downloaded; the checks themselves are the shared ones (src/chat/download.ts).
 */
import { downloadFile, type DownloadWords, type FileSource } from '../../src/chat/download.js';
import { DEFAULT_DISCORD_API_URL } from './config.js';

export const DISCORD_CDN_HOSTS = ['cdn.discordapp.com', 'media.discordapp.net'];

const WORDS: DownloadWords = {
  noAddress: 'The attachment has no valid address.',
  notHosted: 'That attachment is not hosted by Discord; attach the image to your message.',
  unreachable: 'The image could not be downloaded from Discord; try again.',
  refused: 'The image could not be downloaded from Discord; try again.',
  verb: 'attach',
};

/** The hosts attachments may come from: the CDN, plus DISCORD_API_URL's host when it is not Discord's. */
export function attachmentHosts(apiUrl: string): string[] {
  return apiUrl === DEFAULT_DISCORD_API_URL ? DISCORD_CDN_HOSTS : [...DISCORD_CDN_HOSTS, new URL(apiUrl).host];
}

export function attachmentSource(hosts: readonly string[], fetcher?: typeof fetch): FileSource {
  return { hosts, platformHosts: DISCORD_CDN_HOSTS, words: WORDS, ...(fetcher ? { fetch: fetcher } : {}) };
}

export const downloadAttachment = (url: string, maxBytes: number, hosts: readonly string[]): Promise<Buffer> => downloadFile(url, maxBytes, attachmentSource(hosts));
