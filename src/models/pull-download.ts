/**
 * One file of a model pull, downloaded resumably: streamed to `<file>.partial`, resumed with an
 * HTTP Range, hashed as it arrives, and renamed into place only once its hashes are checked.
 * A partial is resumed only for the same hub ETag (kept beside it in `.partial.etag`), and the
 * URL names a commit, so the bytes cannot change under it. No If-Range: the hub's ETag (the LFS
 * sha256) is not the storage CDN's, which it redirects to, so a CDN would answer every resume in
 * full; the final hash check catches what a range could splice wrongly.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, rmSync, statSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { GasError } from '../errors.js';

export interface DownloadTarget {
  /** The file's resolve URL (redirects are followed). */
  url: string;
  /** Exact bytes, from the hub's listing. */
  size: number;
  /** The hub's ETag: a partial is resumed only against the same one. */
  etag: string;
  finalPath: string;
  /** A name for messages (the path inside the repo). */
  label: string;
}

export interface DownloadOptions {
  /** Sent as a bearer token; never written anywhere else. */
  token?: string;
  /** Bytes kept from an earlier try, reported once at the start. */
  onResumed(count: number): void;
  /** Bytes that arrived (negative: a restart threw some away). */
  onBytes(count: number): void;
  /** Pause before retrying a cut connection. */
  retryDelayMs?: number;
  /** Consecutive tries that bring no new byte before the download gives up. */
  maxFruitlessTries?: number;
}

export interface DownloadResult {
  sha256: string;
  /** The git blob id (sha1 of "blob <size>\0" + content): what the hub lists for files not in LFS. */
  gitOid: string;
  /** Bytes found in a `.partial` from an earlier try and not downloaded again. */
  resumedBytes: number;
  /** HTTP requests made for the body. */
  requests: number;
}

/** The two digests a file is checked by, fed as its bytes arrive. */
class Hashes {
  private sha256!: Hash;
  private git!: Hash;
  constructor(private readonly size: number) {
    this.reset();
  }
  reset(): void {
    this.sha256 = createHash('sha256');
    this.git = createHash('sha1').update(`blob ${this.size}\0`);
  }
  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.git.update(chunk);
  }
  digest(): { sha256: string; gitOid: string } {
    return { sha256: this.sha256.digest('hex'), gitOid: this.git.digest('hex') };
  }
}

const partialOf = (finalPath: string) => `${finalPath}.partial`;
const etagFileOf = (finalPath: string) => `${finalPath}.partial.etag`;

/** sha256 and git blob id of a file on disk. */
export async function hashFile(path: string): Promise<{ sha256: string; gitOid: string }> {
  const hashes = new Hashes(statSync(path).size);
  for await (const chunk of createReadStream(path)) hashes.update(chunk as Buffer);
  return hashes.digest();
}

/** The bytes of an earlier try that may be kept: same ETag, not longer than the file. */
function keptPartial(target: DownloadTarget): number {
  const partial = partialOf(target.finalPath);
  const etagFile = etagFileOf(target.finalPath);
  if (!existsSync(partial)) return 0;
  const sameEtag = existsSync(etagFile) && readFileSync(etagFile, 'utf8') === target.etag;
  const bytes = statSync(partial).size;
  if (sameEtag && bytes <= target.size) return bytes;
  rmSync(partial, { force: true });
  return 0;
}

export function discardPartial(finalPath: string): void {
  rmSync(partialOf(finalPath), { force: true });
  rmSync(etagFileOf(finalPath), { force: true });
}

/** Downloads to `.partial` and returns its hashes; the caller checks them and calls `keepDownload`. */
export async function downloadResumable(target: DownloadTarget, options: DownloadOptions): Promise<DownloadResult> {
  const partial = partialOf(target.finalPath);
  const resumedBytes = keptPartial(target);
  writeFileSync(etagFileOf(target.finalPath), target.etag);
  const hashes = new Hashes(target.size);
  if (resumedBytes > 0) {
    for await (const chunk of createReadStream(partial)) hashes.update(chunk as Buffer);
    options.onResumed(resumedBytes);
  }
  let offset = resumedBytes;
  let requests = 0;
  let fruitless = 0;
  const maxFruitless = options.maxFruitlessTries ?? 5;
  // At least one request, so that an empty file is created too.
  while (requests === 0 || offset < target.size) {
    const before = offset;
    requests += 1;
    let failure: unknown;
    try {
      offset = await fetchFrom(target, offset, hashes, options);
    } catch (error) {
      if (error instanceof GasError) throw error;
      failure = error;
      offset = existsSync(partial) ? statSync(partial).size : 0;
    }
    if (offset >= target.size) break;
    // A try that brought bytes resets the count: a flaky link still finishes a large file.
    fruitless = offset > before ? 0 : fruitless + 1;
    if (fruitless >= maxFruitless) {
      const why = failure === undefined ? 'the connection closed early' : describeNetworkError(failure);
      throw new GasError('service_unavailable', `Downloading ${target.label} failed ${maxFruitless} times in a row (${why}); run the pull again to resume it.`);
    }
    if (failure !== undefined) await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 1000));
  }
  if (offset !== target.size) {
    throw new GasError('bundle_invalid', `${target.label}: the hub sent ${offset} bytes, its listing says ${target.size}.`);
  }
  return { ...hashes.digest(), resumedBytes, requests };
}

/** Moves a checked download into place. */
export function keepDownload(finalPath: string): void {
  renameSync(partialOf(finalPath), finalPath);
  rmSync(etagFileOf(finalPath), { force: true });
}

/** One request from `offset`; appends what arrives and returns the new offset. */
async function fetchFrom(target: DownloadTarget, offset: number, hashes: Hashes, options: DownloadOptions): Promise<number> {
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (offset > 0) headers.Range = `bytes=${offset}-`;
  const response = await fetch(target.url, { headers, redirect: 'follow' });
  if (response.status === 416 && offset === target.size) return offset;
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    const words = response.status === 401 || response.status === 403 ? 'access refused: set HF_TOKEN to a token that may read this repo' : `HTTP ${response.status}`;
    throw new GasError('service_unavailable', `Downloading ${target.label} failed (${words}).`);
  }
  if (response.status === 206) {
    const start = Number(/^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1]);
    if (start !== offset) {
      await response.body?.cancel();
      throw new GasError('service_unavailable', `Downloading ${target.label} failed: asked for bytes from ${offset}, the server sent them from ${start}.`);
    }
  } else if (offset > 0) {
    // The server ignored the range and sends the whole file: start over.
    hashes.reset();
    options.onBytes(-offset);
    offset = 0;
  }
  const file: FileHandle = await open(partialOf(target.finalPath), offset === 0 ? 'w' : 'a');
  try {
    if (!response.body) return offset;
    for await (const chunk of response.body) {
      await file.write(chunk);
      hashes.update(chunk);
      offset += chunk.byteLength;
      options.onBytes(chunk.byteLength);
      if (offset > target.size) throw new GasError('bundle_invalid', `${target.label}: the hub sent more than the ${target.size} bytes its listing says.`);
    }
  } finally {
    await file.close();
  }
  return offset;
}

/** A network failure in words, without URLs (which may carry credentials) or stack frames. */
export function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  const message = (error as Error).message ?? String(error);
  return message.replace(/\w+:\/\/\S+/g, '<url>').slice(0, 120);
}
