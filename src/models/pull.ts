/**
 * `gas models pull`: one manifest entry from a Hugging Face hub (or HF_ENDPOINT) into a folder.
 * The revision is resolved to a commit first and every file is fetched at that commit, so a pull
 * never mixes two versions; each file is checked against the manifest and the hub's listing,
 * and the folder is then opened the way `gas` opens it.
 */
import { mkdirSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileDownloadInfo, listFiles, modelInfo, HubApiError, type ListFileEntry } from '@huggingface/hub';
import { GasError } from '../errors.js';
import type { Output } from '../output.js';
import type { ExecutionProvider } from './providers.js';
import { localPath, type ManifestEntry, type ManifestFile } from './manifest.js';
import { describeNetworkError, discardPartial, downloadResumable, hashFile, keepDownload } from './pull-download.js';
import { byteProgress, formatBytes } from './pull-progress.js';
import { checkPulledModel } from './pull-check.js';

export interface PullOptions {
  dir: string;
  /** The hub's root, e.g. https://huggingface.co (HF_ENDPOINT). */
  hubUrl: string;
  token?: string;
  provider: ExecutionProvider;
  /** Where progress and per-file lines go. */
  out: Output;
  retryDelayMs?: number;
}

/** What a pull checked each file against. */
export type FileCheck = 'sha256 (manifest)' | 'sha256 (hub listing)' | 'git oid (hub listing)' | 'size only';

export interface PulledFile {
  path: string;
  bytes: number;
  sha256: string;
  check: FileCheck;
  /** Already on disk and checked: not downloaded. */
  kept: boolean;
  resumedBytes: number;
}

export interface PullReport {
  dir: string;
  commit: string;
  /** The manifest pinned this commit (else main was resolved to it at pull time). */
  pinned: boolean;
  files: PulledFile[];
}

/** The file a pull leaves in the folder: what was pulled, from where, checked how. */
export const PULL_RECORD = 'gas-pull.json';

export async function pullModel(entry: ManifestEntry, options: PullOptions): Promise<PullReport> {
  const dir = resolve(options.dir);
  const hub = { hubUrl: options.hubUrl, accessToken: options.token };
  const say = (line: string) => options.out.write(`${line}\n`);

  const commit = await resolveCommit(entry, hub);
  say(entry.commit ? `${entry.repo} at commit ${commit} (pinned by the manifest)` : `${entry.repo}: the manifest pins no commit, so this pulls main, now commit ${commit}`);
  const listing = await listRepo(entry, commit, hub);

  mkdirSync(dir, { recursive: true });
  const files: PulledFile[] = [];
  for (const file of entry.files) {
    const listed = checkAgainstListing(entry, file, listing, commit);
    files.push(await pullFile(entry, file, listed, commit, dir, options));
  }
  say(`checking that ${dir} opens as a ${entry.kind === 'diffusion' ? 'diffusion bundle' : 'GroundingDINO detector'} (${options.provider})…`);
  await checkPulledModel(entry, dir, options.provider);
  // Written only once the folder opens, so `gas models list` never calls a broken pull "pulled".
  writeFileSync(
    join(dir, PULL_RECORD),
    `${JSON.stringify({ name: entry.name, repo: entry.repo, commit, pinned: entry.commit !== undefined, files: files.map(({ path, bytes, sha256, check }) => ({ path, bytes, sha256, check })) }, null, 2)}\n`,
  );
  return { dir, commit, pinned: entry.commit !== undefined, files };
}

async function hubCall<T>(what: string, entry: ManifestEntry, revision: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof HubApiError) {
      if (error.statusCode === 401 || error.statusCode === 403) {
        throw new GasError('bad_input', `The hub refused access to ${entry.repo} (HTTP ${error.statusCode}): set HF_TOKEN to a token that may read it, and accept the model's terms on its page if it is gated.`);
      }
      if (error.statusCode === 404) {
        throw new GasError('bad_input', `The hub has no revision ${revision} of ${entry.repo} (or no such repo) (${what}: HTTP 404). The manifest entry "${entry.name}" is out of date, or HF_ENDPOINT points at another hub.`);
      }
      throw new GasError('service_unavailable', `The hub answered HTTP ${error.statusCode} to ${what} for ${entry.repo}; try again later.`);
    }
    if (error instanceof TypeError && /hf_/.test(error.message)) {
      throw new GasError('bad_input', 'HF_TOKEN is not a Hugging Face token (they start with "hf_"); its value is not shown.');
    }
    throw new GasError('service_unavailable', `Cannot reach the model hub (${describeNetworkError(error)}): check HF_ENDPOINT and the network.`);
  }
}

async function resolveCommit(entry: ManifestEntry, hub: { hubUrl: string; accessToken?: string }): Promise<string> {
  const revision = entry.commit ?? 'main';
  const info = await hubCall('the revision lookup', entry, revision, () => modelInfo({ name: entry.repo, revision, additionalFields: ['sha'], ...hub }));
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) {
    throw new GasError('service_unavailable', `The hub did not say which commit ${revision} of ${entry.repo} is.`);
  }
  if (entry.commit && sha !== entry.commit) {
    throw new GasError('bad_input', `The hub resolved commit ${entry.commit} of ${entry.repo} to ${sha}; the manifest entry "${entry.name}" is wrong.`);
  }
  return sha;
}

async function listRepo(entry: ManifestEntry, commit: string, hub: { hubUrl: string; accessToken?: string }): Promise<Map<string, ListFileEntry>> {
  return hubCall('the file listing', entry, commit, async () => {
    const listing = new Map<string, ListFileEntry>();
    for await (const item of listFiles({ repo: entry.repo, revision: commit, recursive: true, ...hub })) {
      if (item.type === 'file') listing.set(item.path, item);
    }
    return listing;
  });
}

interface Expected {
  size: number;
  sha256?: string;
  gitOid?: string;
  check: FileCheck;
}

/** What a file must be: the manifest's values, which the hub's listing at the commit must agree with. */
function checkAgainstListing(entry: ManifestEntry, file: ManifestFile, listing: Map<string, ListFileEntry>, commit: string): Expected {
  const listed = listing.get(file.path);
  if (!listed) throw new GasError('bad_input', `${entry.repo} at ${commit} has no ${file.path}; the manifest entry "${entry.name}" is out of date.`);
  const size = listed.lfs?.size ?? listed.size;
  if (file.size !== undefined && file.size !== size) {
    throw new GasError('bad_input', `${file.path}: the manifest says ${file.size} bytes, the hub lists ${size} at ${commit}; the manifest entry "${entry.name}" is wrong.`);
  }
  const hubSha = listed.lfs?.oid;
  if (file.sha256 && hubSha && file.sha256 !== hubSha) {
    throw new GasError('bad_input', `${file.path}: the manifest's sha256 differs from the hub's at ${commit}; the manifest entry "${entry.name}" is wrong.`);
  }
  if (file.sha256) return { size, sha256: file.sha256, check: 'sha256 (manifest)' };
  if (hubSha) return { size, sha256: hubSha, check: 'sha256 (hub listing)' };
  if (listed.oid && /^[0-9a-f]{40}$/.test(listed.oid)) return { size, gitOid: listed.oid, check: 'git oid (hub listing)' };
  return { size, check: 'size only' };
}

function matches(expected: Expected, actual: { sha256: string; gitOid: string }): boolean {
  if (expected.sha256) return expected.sha256 === actual.sha256;
  if (expected.gitOid) return expected.gitOid === actual.gitOid;
  return true;
}

async function pullFile(entry: ManifestEntry, file: ManifestFile, expected: Expected, commit: string, dir: string, options: PullOptions): Promise<PulledFile> {
  const target = join(dir, localPath(file));
  const say = (line: string) => options.out.write(`${line}\n`);
  if (existsSync(target) && statSync(target).size === expected.size) {
    const hashes = await hashFile(target);
    if (matches(expected, hashes)) {
      say(`${file.path}: already here, ${formatBytes(expected.size)}, ${expected.check} ok`);
      return { path: file.path, bytes: expected.size, sha256: hashes.sha256, check: expected.check, kept: true, resumedBytes: 0 };
    }
  }
  mkdirSync(dirname(target), { recursive: true });
  const info = await hubCall('the download', entry, commit, () =>
    fileDownloadInfo({ repo: entry.repo, path: file.path, revision: commit, hubUrl: options.hubUrl, accessToken: options.token }),
  );
  if (!info) throw new GasError('bad_input', `${entry.repo} at ${commit} has no ${file.path}; the manifest entry "${entry.name}" is out of date.`);
  const progress = byteProgress(options.out, file.path, expected.size);
  const result = await downloadResumable(
    { url: info.url, size: expected.size, etag: info.etag, finalPath: target, label: file.path },
    { token: options.token, onResumed: (n) => progress.resumed(n), onBytes: (n) => progress.add(n), retryDelayMs: options.retryDelayMs },
  ).finally(() => progress.done());
  if (!matches(expected, result)) {
    discardPartial(target);
    const [want, got] = expected.sha256 ? [expected.sha256, result.sha256] : [expected.gitOid, result.gitOid];
    throw new GasError('bundle_invalid', `${file.path} failed its ${expected.check} check (expected ${want}, got ${got}); the download was deleted. Run the pull again; if it fails again, the hub or a proxy serves a corrupted file.`);
  }
  keepDownload(target);
  say(`${file.path}: ${formatBytes(expected.size)}${result.resumedBytes > 0 ? ` (resumed after ${formatBytes(result.resumedBytes)})` : ''}, ${expected.check} ok`);
  return { path: file.path, bytes: expected.size, sha256: result.sha256, check: expected.check, kept: false, resumedBytes: result.resumedBytes };
}
