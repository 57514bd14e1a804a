/**
 * A fake Hugging Face hub on 127.0.0.1 that speaks what @huggingface/hub and `gas models pull`
 * call: `GET /api/models/<repo>/revision/<rev>` (the commit a revision is), `GET
 * /api/models/<repo>/tree/<rev>[/<path>]?recursive=` (sizes, git oids, LFS oids), and
 * `GET <repo>/resolve/<rev>/<path>`, which for LFS files redirects, as the hub does, to a
 * content-addressed URL that honours Range and If-Range and sends a strong ETag. Faults on
 * request: cut a file's first response mid-body, serve a file with one byte flipped.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';

export interface FakeRepoFile {
  bytes: Buffer;
  sha256: string;
  gitOid: string;
  lfs: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
  authorization: string | undefined;
  status: number;
  /** Body bytes sent (before a cut). */
  sent: number;
}

export interface FakeHub {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Adds a repo with one commit (also its main) holding `files`; returns the commit. */
  addRepo(repo: string, files: Map<string, Buffer>): string;
  /** The file as the hub lists it. */
  file(repo: string, path: string): FakeRepoFile;
  /**
   * The next full-body response for this file stops after `afterBytes` and the connection is cut,
   * once `until()` holds (say, the client has those bytes on disk; a stream that errors drops
   * what its reader has not taken yet) or after 10 s.
   */
  cutNextDownload(repo: string, path: string, afterBytes: number, until?: () => boolean): void;
  /** Downloads of this file have one byte flipped (its listing keeps the true hashes) until `heal`. */
  corrupt(repo: string, path: string): void;
  heal(repo: string, path: string): void;
  close(): Promise<void>;
}

/** The colour-world files in a folder, relative paths with "/". */
export function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path).split(sep).join('/'), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

const isLfs = (path: string) => /\.(onnx|data|pb|bin|safetensors)$/.test(path);
const gitOidOf = (bytes: Buffer) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');

export async function startFakeHub(): Promise<FakeHub> {
  const repos = new Map<string, { commit: string; files: Map<string, FakeRepoFile> }>();
  const byOid = new Map<string, FakeRepoFile>();
  const cuts = new Map<string, { afterBytes: number; until: () => boolean }>();
  const corrupted = new Set<string>();
  const requests: RecordedRequest[] = [];

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  type Lookup = { error: 'RepoNotFound' | 'RevisionNotFound' } | { repo: { commit: string; files: Map<string, FakeRepoFile> } };
  const repoAt = (repo: string, rev: string): Lookup => {
    const found = repos.get(repo);
    if (!found) return { error: 'RepoNotFound' };
    if (rev !== 'main' && rev !== 'HEAD' && rev !== found.commit) return { error: 'RevisionNotFound' };
    return { repo: found };
  };

  /** A file's body with Range / If-Range, as a CDN serves it. */
  const serveBody = (req: IncomingMessage, res: ServerResponse, file: FakeRepoFile, record: RecordedRequest, extra: Record<string, string> = {}) => {
    const body = corrupted.has(file.sha256) ? Buffer.from(file.bytes) : file.bytes;
    if (corrupted.has(file.sha256) && body.length > 0) body[body.length >> 1] ^= 0xff;
    const etag = `"${file.lfs ? file.sha256 : file.gitOid}"`;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    let start = 0;
    let end = body.length - 1;
    let status = 200;
    if (range && (ifRange === undefined || ifRange === etag)) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      if (start >= body.length) {
        record.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}`, ETag: etag });
        res.end();
        return;
      }
      status = 206;
    }
    const slice = body.subarray(start, end + 1);
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(slice.length), ETag: etag, 'Accept-Ranges': 'bytes', ...extra };
    if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${body.length}`;
    record.status = status;
    res.writeHead(status, headers);
    const cut = cuts.get(file.sha256);
    if (cut !== undefined && slice.length > cut.afterBytes) {
      cuts.delete(file.sha256);
      record.sent = cut.afterBytes;
      const deadline = Date.now() + 10_000;
      const cutWhenReady = () => (cut.until() || Date.now() > deadline ? res.socket?.destroy() : setTimeout(cutWhenReady, 10));
      res.write(slice.subarray(0, cut.afterBytes), cutWhenReady);
      return;
    }
    record.sent = slice.length;
    res.end(req.method === 'HEAD' ? undefined : slice);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = decodeURIComponent(url.pathname);
    const record: RecordedRequest = { method: req.method ?? 'GET', path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, authorization: req.headers.authorization, status: 0, sent: 0 };
    requests.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      json(res, status, body, headers);
    };

    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    if (m) {
      const at = repoAt(m[1], m[2]);
      if ('error' in at) return reply(404, { error: at.error === 'RepoNotFound' ? 'Repository not found' : 'Invalid rev id' }, { 'X-Error-Code': at.error });
      return reply(200, { _id: m[1], id: m[1], sha: at.repo.commit, private: false, gated: false, downloads: 0, likes: 0, pipeline_tag: null, library_name: 'onnx', siblings: [...at.repo.files.keys()].map((rfilename) => ({ rfilename })) });
    }
    m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(path);
    if (m) {
      const at = repoAt(m[1], m[2]);
      if ('error' in at) return reply(404, { error: 'Invalid rev id' }, { 'X-Error-Code': at.error });
      const under = m[3] ? `${m[3]}/` : '';
      const recursive = url.searchParams.get('recursive') === 'true';
      const entries: unknown[] = [];
      const dirs = new Set<string>();
      for (const [filePath, file] of at.repo.files) {
        if (!filePath.startsWith(under)) continue;
        const rest = filePath.slice(under.length);
        if (!recursive && rest.includes('/')) {
          dirs.add(under + rest.split('/')[0]);
          continue;
        }
        const parts = filePath.split('/');
        for (let i = under.split('/').length; i < parts.length; i += 1) dirs.add(parts.slice(0, i).join('/'));
        entries.push({ type: 'file', path: filePath, size: file.bytes.length, oid: file.gitOid, ...(file.lfs ? { lfs: { oid: file.sha256, size: file.bytes.length, pointerSize: 134 } } : {}) });
      }
      return reply(200, [...[...dirs].filter((d) => d).map((d) => ({ type: 'directory', path: d, size: 0, oid: '0'.repeat(40) })), ...entries]);
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m) {
      const at = repoAt(m[1], m[2]);
      if ('error' in at) return reply(404, { error: 'Invalid rev id' }, { 'X-Error-Code': at.error });
      const file = at.repo.files.get(m[3]);
      if (!file) return reply(404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
      if (file.lfs) {
        // As the hub does for LFS files: a redirect to content-addressed storage, with the LFS ETag.
        record.status = 302;
        res.writeHead(302, { Location: `/lfs-store/${file.sha256}`, 'X-Linked-ETag': `"${file.sha256}"`, 'X-Linked-Size': String(file.bytes.length) });
        res.end();
        return;
      }
      return serveBody(req, res, file, record);
    }
    m = /^\/lfs-store\/([0-9a-f]{64})$/.exec(path);
    if (m) {
      const file = byOid.get(m[1]);
      if (!file) return reply(404, { error: 'not found' });
      return serveBody(req, res, file, record);
    }
    reply(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const fileOf = (repo: string, path: string) => {
    const file = repos.get(repo)?.files.get(path);
    if (!file) throw new Error(`fake hub: no ${repo}/${path}`);
    return file;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    addRepo(repo, files) {
      const entries = new Map<string, FakeRepoFile>();
      const commitHash = createHash('sha1').update(repo);
      for (const [path, bytes] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
        const file = { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), gitOid: gitOidOf(bytes), lfs: isLfs(path) };
        entries.set(path, file);
        if (file.lfs) byOid.set(file.sha256, file);
        commitHash.update(`${path}\0${file.gitOid}\n`);
      }
      const commit = commitHash.digest('hex');
      repos.set(repo, { commit, files: entries });
      return commit;
    },
    file: fileOf,
    cutNextDownload(repo, path, afterBytes, until = () => true) {
      cuts.set(fileOf(repo, path).sha256, { afterBytes, until });
    },
    corrupt(repo, path) {
      corrupted.add(fileOf(repo, path).sha256);
    },
    heal(repo, path) {
      corrupted.delete(fileOf(repo, path).sha256);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
