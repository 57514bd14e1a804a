/**
 * Downloading a file a person attached, for every platform: only from the hosts the adapter names
 * (the platform's own over https only), never following a redirect, within a time limit, and never
 * holding more than the cap in memory. Adapters pass their hosts, credentials and words; what the
 * checks are is decided here.
 */
import { GasError } from '../errors.js';
import type { IncomingFile } from './transport.js';

const DOWNLOAD_TIMEOUT_MS = 30_000;

/** What a person is told, in the platform's words, when a download goes wrong. */
export interface DownloadWords {
  /** The file's address is not a URL. */
  noAddress: string;
  /** The file is not on an allowed host. */
  notHosted: string;
  /** The request failed (network, timeout, a redirect). */
  unreachable: string;
  /** The platform answered with an error status. */
  refused: string;
  /** How people give the bot a file ("attach", "share"): "…; attach a smaller one." */
  verb: string;
  /**
   * Set: the platform answers a missing permission with a web page (status 200), so a download
   * that is HTML, or not an image at all, is refused with these words.
   */
  webPage?: { page: string; notAnImage: string };
}

/** Where an adapter's files come from, and how to ask for them. */
export interface FileSource {
  /** Every host a file may come from (the platform's, plus a configured API host for proxies and test servers). */
  hosts: readonly string[];
  /** The platform's own hosts, reached over https only. */
  platformHosts: readonly string[];
  /** Sent as `Authorization: Bearer …` (Slack's private files need the bot token). Never logged. */
  bearer?: string;
  words: DownloadWords;
  /** The HTTP client; the global fetch unless a test injects one. */
  fetch?: typeof fetch;
}

/** A file as the platform describes it. */
export interface RemoteFile {
  name: string;
  url: string;
  contentType?: string | null;
  size?: number;
}

/**
 * Reads a body under a size cap: the declared length is checked first, then the stream is counted
 * as it arrives and cut past `maxBytes`, so a person cannot make the bot hold more than the cap.
 */
export async function readCapped(body: ReadableStream<Uint8Array>, headers: Headers, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const declared = Number(headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await body.cancel();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/** Whether the bytes start like an image format sharp reads (PNG, JPEG, GIF, WebP, AVIF/HEIF, TIFF, BMP). */
export function looksLikeImage(bytes: Buffer): boolean {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47) || starts(0xff, 0xd8, 0xff) || starts(0x47, 0x49, 0x46, 0x38)) return true;
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return true;
  if (bytes.subarray(4, 8).toString('latin1') === 'ftyp') return true; // AVIF / HEIF
  return starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a) || starts(0x42, 0x4d);
}

/** Whether an attached file says it is an image (its declared type, else its extension). */
export function isImageFile(file: { name: string; contentType?: string | null }): boolean {
  if (file.contentType) return file.contentType.startsWith('image/');
  return /\.(png|jpe?g|webp|gif|bmp|tiff?|avif|heic|heif)$/i.test(file.name);
}

const tooLarge = (maxBytes: number, words: DownloadWords) =>
  new GasError('bad_image', `The image is larger than ${(maxBytes / 1024 / 1024).toFixed(1)} MB; ${words.verb} a smaller one.`);

/** The file's bytes, checked as this module's header says; errors are GasErrors with no URL or token in them. */
export async function downloadFile(url: string, maxBytes: number, source: FileSource): Promise<Buffer> {
  const { words } = source;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GasError('bad_input', words.noAddress);
  }
  const secureOnly = source.platformHosts.includes(parsed.host);
  if (!source.hosts.includes(parsed.host) || (secureOnly && parsed.protocol !== 'https:') || !/^https?:$/.test(parsed.protocol)) {
    throw new GasError('bad_input', words.notHosted, { host: parsed.host });
  }
  const headers: Record<string, string> = source.bearer ? { authorization: `Bearer ${source.bearer}` } : {};
  const response = await (source.fetch ?? fetch)(parsed, { headers, redirect: 'error', signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) }).catch((error: unknown) => {
    throw new GasError('bad_image', words.unreachable, { cause: String(error) });
  });
  if (!response.ok || !response.body) throw new GasError('bad_image', words.refused, { status: response.status });
  const { webPage } = words;
  if (webPage && (response.headers.get('content-type') ?? '').startsWith('text/html')) {
    await response.body.cancel();
    throw new GasError('bad_image', webPage.page);
  }
  const bytes = await readCapped(response.body, response.headers, maxBytes, () => tooLarge(maxBytes, words));
  if (webPage && !looksLikeImage(bytes)) {
    if (/^\s*</.test(bytes.subarray(0, 64).toString('latin1'))) throw new GasError('bad_image', webPage.page);
    throw new GasError('bad_image', webPage.notAnImage);
  }
  return bytes;
}

/** A platform's file as the flow sees it: a declared size over the cap is refused before any download. */
export function incomingFile(file: RemoteFile, source: FileSource): IncomingFile {
  return {
    name: file.name,
    ...(file.contentType ? { contentType: file.contentType } : {}),
    ...(file.size !== undefined ? { size: file.size } : {}),
    download: async (maxBytes) => {
      if (file.size !== undefined && file.size > maxBytes) throw tooLarge(maxBytes, source.words);
      return downloadFile(file.url, maxBytes, source);
    },
  };
}
