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

/** The photo formats an edit takes, as people read them: what the pipeline decodes (docs/operations.md, "Photos"). */
export const PHOTO_FORMATS = 'JPEG, PNG, WebP, GIF, AVIF/HEIF or TIFF';

/** Declared types of those formats. */
const PHOTO_TYPES = new Set(['image/jpeg', 'image/jpg', 'image/pjpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/heic', 'image/heif', 'image/tiff']);
const PHOTO_EXTENSIONS = /\.(png|jpe?g|webp|gif|tiff?|avif|heic|heif)$/i;
const OTHER_IMAGE_EXTENSIONS = /\.(svg|bmp|ico|psd|jxl)$/i;

/** What image bytes are by their signature: one of the photo formats, another image format people send (SVG, BMP), or undefined. */
export function imageFormat(bytes: Buffer): 'png' | 'jpeg' | 'gif' | 'webp' | 'heif' | 'tiff' | 'svg' | 'bmp' | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'png';
  if (starts(0xff, 0xd8, 0xff)) return 'jpeg';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  if (bytes.subarray(4, 8).toString('latin1') === 'ftyp') return 'heif'; // AVIF / HEIF
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  if (starts(0x42, 0x4d)) return 'bmp';
  // SVG is XML: a declaration or comments may come before the root element.
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(bytes.subarray(0, 4096).toString('utf8'))) return 'svg';
  return undefined;
}

/** Whether the bytes start like an image format sharp reads (PNG, JPEG, GIF, WebP, AVIF/HEIF, TIFF, BMP). */
export function looksLikeImage(bytes: Buffer): boolean {
  const format = imageFormat(bytes);
  return format !== undefined && format !== 'svg';
}

/** Whether an attached file says it is an image (its declared type, else its extension), of any format. */
export function isImageFile(file: { name: string; contentType?: string | null }): boolean {
  if (file.contentType) return file.contentType.startsWith('image/');
  return PHOTO_EXTENSIONS.test(file.name) || OTHER_IMAGE_EXTENSIONS.test(file.name);
}

/**
 * How people name a declared image whose format an edit does not take ("an SVG image"), so that
 * it is refused with the formats that are; undefined for a photo format, or a file that is no image.
 */
export function unsupportedImage(file: { name: string; contentType?: string | null }): string | undefined {
  const type = file.contentType?.split(';')[0].trim().toLowerCase();
  if (type) {
    if (!type.startsWith('image/') || PHOTO_TYPES.has(type)) return undefined;
    return withArticle(type.slice('image/'.length).replace(/^(x-|vnd\.(ms-|adobe\.)?)/, '').replace(/\+xml$/, ''));
  }
  const extension = OTHER_IMAGE_EXTENSIONS.exec(file.name)?.[1];
  return extension ? withArticle(extension) : undefined;
}

/** "an SVG image", "a BMP image": a format's name is spelled out letter by letter, so its article follows the first letter's name. */
const withArticle = (format: string) => `${/^[aefhilmnorsx]/i.test(format) ? 'an' : 'a'} ${format.toUpperCase()} image`;

/** Whether a file is an image of a format an edit takes. */
export const isPhotoFile = (file: { name: string; contentType?: string | null }): boolean => isImageFile(file) && unsupportedImage(file) === undefined;

/** What a person is told about an image of a format an edit does not take: what it is, and the formats that work. */
export const unsupportedWords = (name: string, kind: string): string => `${name} is ${kind}, which cannot be edited. Send a ${PHOTO_FORMATS} photo.`;

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
  // Redirects are never followed (the token must not travel to another host); one is answered as a refusal.
  const response = await (source.fetch ?? fetch)(parsed, { headers, redirect: 'manual', signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) }).catch((error: unknown) => {
    throw new GasError('bad_image', words.unreachable, { cause: String(error) });
  });
  const { webPage } = words;
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    // A platform that answers a missing permission with a web page may also redirect to it (Slack's sign-in page).
    throw new GasError('bad_image', webPage?.page ?? words.unreachable, { status: response.status });
  }
  if (!response.ok || !response.body) throw new GasError('bad_image', words.refused, { status: response.status });
  if (webPage && (response.headers.get('content-type') ?? '').startsWith('text/html')) {
    await response.body.cancel();
    throw new GasError('bad_image', webPage.page);
  }
  const bytes = await readCapped(response.body, response.headers, maxBytes, () => tooLarge(maxBytes, words));
  const format = imageFormat(bytes);
  if (format === 'svg' || format === 'bmp') throw new GasError('bad_image', unsupportedWords(basename(parsed), `${format === 'svg' ? 'an SVG' : 'a BMP'} image`));
  if (webPage && format === undefined) {
    if (/^\s*</.test(bytes.subarray(0, 64).toString('latin1'))) throw new GasError('bad_image', webPage.page);
    throw new GasError('bad_image', webPage.notAnImage);
  }
  return bytes;
}

/** The file name at the end of a URL, for people ("drawing.svg"). */
function basename(url: URL): string {
  const last = url.pathname.split('/').filter(Boolean).at(-1) ?? '';
  try {
    return decodeURIComponent(last) || 'The file';
  } catch {
    return last || 'The file';
  }
}

/** A platform's file as the flow sees it: a declared size over the cap is refused before any download. */
export function incomingFile(file: RemoteFile, source: FileSource): IncomingFile {
  return {
    name: file.name,
    ...(file.contentType ? { contentType: file.contentType } : {}),
    ...(file.size !== undefined ? { size: file.size } : {}),
    download: async (maxBytes) => {
      const unsupported = unsupportedImage(file);
      if (unsupported) throw new GasError('bad_image', unsupportedWords(file.name, unsupported));
      if (file.size !== undefined && file.size > maxBytes) throw tooLarge(maxBytes, source.words);
      return downloadFile(file.url, maxBytes, source);
    },
  };
}
