/**
 * `gas models list` and `gas models pull <name>`: the one place `gas` downloads anything, and
 * only when asked. The hub is HF_ENDPOINT (default https://huggingface.co); HF_TOKEN is sent to
 * it and never printed.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeEntrySize, findEntry, isVerified, loadManifest, localPath, type ManifestEntry } from '../models/manifest.js';
import type { ExecutionProvider } from '../models/providers.js';
import { pullModel, PULL_RECORD } from '../models/pull.js';
import { formatBytes } from '../models/pull-progress.js';
import type { CliIo } from './io.js';

export interface ModelsFlags {
  manifest?: string;
}

export interface PullFlags extends ModelsFlags {
  dir?: string;
  provider: ExecutionProvider;
}

/** The folder a model is pulled to unless --dir says otherwise. */
export const defaultModelDir = (name: string) => join('models', name);

/** Where `gas models pull` downloads from (HF_ENDPOINT) and the token it sends (HF_TOKEN), from the configuration. */
export interface HubSettings {
  endpoint: string;
  token?: string;
}

export async function runModelsPull(name: string, flags: PullFlags, hub: HubSettings, io: CliIo): Promise<void> {
  const entry = findEntry(loadManifest(flags.manifest), name);
  const dir = flags.dir ?? defaultModelDir(entry.name);
  io.stderr.write(`pulling ${entry.name} (${entry.description}, ${describeEntrySize(entry, formatBytes)}) from ${hub.endpoint} into ${dir}\n`);
  if (!isVerified(entry)) io.stderr.write(`note: this manifest entry is not verified: ${entry.provenance}\n`);
  const report = await pullModel(entry, { dir, hubUrl: hub.endpoint, token: hub.token, provider: flags.provider, out: io.stderr });
  const sizeOnly = report.files.filter((f) => f.check === 'size only').map((f) => f.path);
  if (sizeOnly.length > 0) io.stderr.write(`note: no hash known for ${sizeOnly.join(', ')}: checked by size only\n`);
  const option = entry.kind === 'diffusion' ? '--bundle' : '--detector';
  io.stdout.write(`${report.dir}\n`);
  io.stderr.write(`done: use it with ${option} ${dir}${entry.providers.length ? ` (runs on: ${entry.providers.join(', ')})` : ''}\n`);
}

/** What is on disk for an entry: pulled (with the commit), partly there, or nothing. */
function onDisk(entry: ManifestEntry, dir: string): string {
  const record = join(dir, PULL_RECORD);
  if (existsSync(record)) {
    try {
      const parsed = JSON.parse(readFileSync(record, 'utf8')) as { commit?: string; repo?: string };
      if (parsed.repo === entry.repo && typeof parsed.commit === 'string') return `pulled (${parsed.commit.slice(0, 7)})`;
    } catch {
      return 'unreadable pull record';
    }
  }
  let present = 0;
  let bytes = 0;
  for (const file of entry.files) {
    const path = join(dir, localPath(file));
    if (existsSync(path)) {
      present += 1;
      bytes += statSync(path).size;
    } else if (existsSync(`${path}.partial`)) bytes += statSync(`${path}.partial`).size;
  }
  if (present === 0 && bytes === 0) return 'not here';
  return `partial: ${present}/${entry.files.length} files, ${formatBytes(bytes)}`;
}

export function runModelsList(flags: ModelsFlags, io: CliIo): void {
  const rows = loadManifest(flags.manifest).map((entry) => {
    const dir = defaultModelDir(entry.name);
    return [
      entry.name,
      describeEntrySize(entry, formatBytes),
      entry.kind,
      entry.providers.join(','),
      isVerified(entry) ? 'verified' : entry.commit ? 'unverified (commit pinned; no sha256)' : 'unverified (main; no sha256)',
      `${dir}: ${onDisk(entry, dir)}`,
    ];
  });
  const header = ['name', 'size', 'kind', 'providers', 'manifest', 'on disk'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) io.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()}\n`);
  io.stdout.write('\nUnverified entries were written from the hub\'s public pages: a pull checks each file against the hub\'s own listing at the commit it pulls, and says when only a size could be checked.\n');
}
