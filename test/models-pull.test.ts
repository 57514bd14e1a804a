/**
 * `gas models pull` and `gas models list` against a fake Hugging Face hub on 127.0.0.1
 * (HF_ENDPOINT) that carries the colour-world bundle and detector: the real @huggingface/hub
 * client, real downloads over HTTP, real ONNX Runtime for the load check and the edit.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildColourWorld } from '../models/colour-world/build.js';
import { buildColourWorldDetector } from '../models/colour-world/detector.js';
import { DEMO_PLAN, demoScenePng } from '../src/cli/demo-scene.js';
import { downloadResumable } from '../src/models/pull-download.js';
import { byteProgress, formatBytes } from '../src/models/pull-progress.js';
import { readTree, startFakeHub, type FakeHub } from './fakes/hf-hub/index.js';
import { gas } from './helpers/cli.js';

const BUNDLE_REPO = 'test-org/colour-world-ONNX';
const DETECTOR_REPO = 'test-org/colour-world-detector-ONNX';
const TOKEN = 'hf_fakeTokenThatMustNeverBePrinted';


const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('gas models pull', () => {
  const work = mkdtempSync(join(tmpdir(), 'gas-pull-'));
  const built = join(work, 'built');
  const builtDetector = join(work, 'built-detector');
  let hub: FakeHub;
  let bundleCommit: string;
  let bundleFiles: Map<string, Buffer>;
  let detectorFiles: Map<string, Buffer>;
  let manifest: string;
  const savedEnv = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_TOKEN: process.env.HF_TOKEN };

  beforeAll(async () => {
    buildColourWorld(built);
    buildColourWorldDetector(builtDetector);
    bundleFiles = readTree(built);
    detectorFiles = readTree(builtDetector);
    hub = await startFakeHub();
    bundleCommit = hub.addRepo(BUNDLE_REPO, bundleFiles);
    hub.addRepo(DETECTOR_REPO, detectorFiles);
    const pinnedEntry = (name: string, commit: string) => ({
      name,
      description: 'the colour world, from the fake hub',
      kind: 'diffusion',
      repo: BUNDLE_REPO,
      commit,
      providers: ['cpu'],
      predictionType: 'epsilon',
      // Real values, computed here: a verified entry.
      files: [...bundleFiles].map(([path, bytes]) => ({ path, size: bytes.length, sha256: sha256(bytes) })),
      provenance: 'computed by the test from the built colour world',
    });
    manifest = join(work, 'manifest.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        models: [
          pinnedEntry('colour-world', bundleCommit),
          pinnedEntry('colour-world-gone', 'f'.repeat(40)),
          {
            name: 'colour-world-detector',
            description: 'the colour-world detector, unpinned and without hashes',
            kind: 'detector',
            repo: DETECTOR_REPO,
            providers: ['cpu'],
            files: [...detectorFiles.keys()].map((path) => ({ path })),
            provenance: 'file names only',
          },
        ],
      }),
    );
    process.env.HF_ENDPOINT = hub.url;
    process.env.HF_TOKEN = TOKEN;
  });

  afterAll(async () => {
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await hub?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const pull = (name: string, dir: string) => gas(['models', 'pull', name, '--dir', dir, '--manifest', manifest]);

  it('pulls a pinned entry at its commit, byte for byte, checks it, opens it, and never prints the token', async () => {
    const dir = join(work, 'pulled');
    const run = await pull('colour-world', dir);
    expect(run.code, run.stderr).toBe(0);
    for (const [path, bytes] of bundleFiles) expect(sha256(readFileSync(join(dir, path))), path).toBe(sha256(bytes));
    expect(run.stdout.trim()).toBe(dir);
    expect(run.stderr).toContain(`at commit ${bundleCommit} (pinned by the manifest)`);
    expect(run.stderr).toContain('unet/model.onnx');
    expect(run.stderr).toMatch(/unet\/model\.onnx: .*sha256 \(manifest\) ok/);
    expect(run.stderr).toContain('done: use it with --bundle');
    const record = JSON.parse(readFileSync(join(dir, 'gas-pull.json'), 'utf8')) as { commit: string; files: { path: string }[] };
    expect(record.commit).toBe(bundleCommit);
    expect(record.files).toHaveLength(bundleFiles.size);
    // Every file came from the commit, not from a moving branch.
    const resolves = hub.requests.filter((r) => r.path.includes('/resolve/'));
    expect(resolves.length).toBeGreaterThan(0);
    expect(resolves.every((r) => r.path.includes(`/resolve/${bundleCommit}/`))).toBe(true);
    expect(hub.requests.filter((r) => r.path.startsWith('/api/')).every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it('pulls an unpinned entry from main, says so, and checks files against the hub listing', async () => {
    const dir = join(work, 'detector');
    const run = await pull('colour-world-detector', dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('the manifest pins no commit, so this pulls main');
    expect(run.stderr).toContain('note: this manifest entry is not verified');
    expect(run.stderr).toMatch(/onnx\/model\.onnx: .*sha256 \(hub listing\) ok/);
    expect(run.stderr).toMatch(/config\.json: .*git oid \(hub listing\) ok/);
    for (const [path, bytes] of detectorFiles) expect(readFileSync(join(dir, path)).equals(bytes), path).toBe(true);
  });

  it('resumes a cut connection with a Range request and does not download the first bytes again', async () => {
    const dir = join(work, 'resumed');
    const path = 'unet/model.onnx';
    const file = hub.file(BUNDLE_REPO, path);
    const cutAt = Math.floor(file.bytes.length / 2);
    const partial = join(dir, `${path}.partial`);
    hub.cutNextDownload(BUNDLE_REPO, path, cutAt, () => existsSync(partial) && statSync(partial).size === cutAt);
    const before = hub.requests.length;
    const run = await pull('colour-world', dir);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(dir, path)).equals(file.bytes)).toBe(true);
    const bodies = hub.requests.slice(before).filter((r) => r.path === `/lfs-store/${file.sha256}` && r.range !== 'bytes=0-0');
    expect(bodies.map((r) => ({ range: r.range, status: r.status, sent: r.sent }))).toEqual([
      { range: undefined, status: 200, sent: cutAt },
      { range: `bytes=${cutAt}-`, status: 206, sent: file.bytes.length - cutAt },
    ]);
    expect(existsSync(join(dir, `${path}.partial`))).toBe(false);
  });

  it('resumes the partial file an interrupted pull left, from where it stopped', async () => {
    const dir = join(work, 'interrupted');
    const path = 'unet/model.onnx';
    const file = hub.file(BUNDLE_REPO, path);
    const kept = Math.floor(file.bytes.length / 3);
    mkdirSync(join(dir, 'unet'), { recursive: true });
    writeFileSync(join(dir, `${path}.partial`), file.bytes.subarray(0, kept));
    writeFileSync(join(dir, `${path}.partial.etag`), `"${file.sha256}"`);
    const before = hub.requests.length;
    const run = await pull('colour-world', dir);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(dir, path)).equals(file.bytes)).toBe(true);
    expect(run.stderr).toContain(`${path}: ${formatBytes(file.bytes.length)} (resumed after ${formatBytes(kept)}), sha256 (manifest) ok`);
    const bodies = hub.requests.slice(before).filter((r) => r.path === `/lfs-store/${file.sha256}` && r.range !== 'bytes=0-0');
    expect(bodies.map((r) => ({ range: r.range, status: r.status, sent: r.sent }))).toEqual([{ range: `bytes=${kept}-`, status: 206, sent: file.bytes.length - kept }]);
    expect(existsSync(join(dir, `${path}.partial.etag`))).toBe(false);
  });

  it('starts over when the partial file was downloaded for another version of the file', async () => {
    const dir = join(work, 'stale');
    const path = 'unet/model.onnx';
    const file = hub.file(BUNDLE_REPO, path);
    mkdirSync(join(dir, 'unet'), { recursive: true });
    writeFileSync(join(dir, `${path}.partial`), Buffer.alloc(100, 7));
    writeFileSync(join(dir, `${path}.partial.etag`), '"an-older-version"');
    const before = hub.requests.length;
    const run = await pull('colour-world', dir);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(dir, path)).equals(file.bytes)).toBe(true);
    const bodies = hub.requests.slice(before).filter((r) => r.path === `/lfs-store/${file.sha256}` && r.range !== 'bytes=0-0');
    expect(bodies.map((r) => ({ range: r.range, status: r.status }))).toEqual([{ range: undefined, status: 200 }]);
  });

  it('keeps files already pulled and checked, downloading nothing again', async () => {
    const before = hub.requests.length;
    const run = await pull('colour-world', join(work, 'pulled'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/unet\/model\.onnx: already here, .*sha256 \(manifest\) ok/);
    expect(hub.requests.slice(before).filter((r) => r.path.includes('/resolve/') || r.path.startsWith('/lfs-store/'))).toEqual([]);
  });

  it('refuses a file whose sha256 is wrong and leaves neither it nor its partial', async () => {
    const dir = join(work, 'corrupt');
    const path = 'vae_decoder/model.onnx';
    hub.corrupt(BUNDLE_REPO, path);
    try {
      const run = await pull('colour-world', dir);
      expect(run.code, run.stderr).toBe(3);
      expect(run.stderr).toContain(`${path} failed its sha256 (manifest) check (expected ${hub.file(BUNDLE_REPO, path).sha256}`);
      expect(run.stderr).toContain('the download was deleted');
      expect(existsSync(join(dir, path))).toBe(false);
      expect(existsSync(join(dir, `${path}.partial`))).toBe(false);
    } finally {
      hub.heal(BUNDLE_REPO, path);
    }
  });

  it('says clearly when the pinned revision is not on the hub', async () => {
    const run = await pull('colour-world-gone', join(work, 'gone'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`The hub has no revision ${'f'.repeat(40)} of ${BUNDLE_REPO}`);
    expect(run.stderr).toContain('The manifest entry "colour-world-gone" is out of date');
    expect(run.stderr).not.toContain('    at ');
    expect(existsSync(join(work, 'gone'))).toBe(false);
  });

  it('refuses an unknown model name, naming the known ones', async () => {
    const run = await pull('sd99', join(work, 'sd99'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('No model named "sd99" in the manifest. Known: sd15, sd15-fp16');
  });

  it('edits the same bytes with the pulled bundle as with the built one', async () => {
    const scene = join(work, 'scene.png');
    writeFileSync(scene, await demoScenePng());
    const plan = join(work, 'plan.json');
    writeFileSync(plan, JSON.stringify(DEMO_PLAN));
    const edit = async (bundle: string, out: string) => {
      const run = await gas(['edit', scene, '--plan', plan, '--bundle', bundle, '--steps', '30', '--seed', '7', '--out', out]);
      expect(run.code, run.stderr).toBe(0);
      return readFileSync(join(out, 'edit.png'));
    };
    const fromBuilt = await edit(built, join(work, 'out-built'));
    const fromPulled = await edit(join(work, 'pulled'), join(work, 'out-pulled'));
    expect(fromPulled.equals(fromBuilt)).toBe(true);
  });

  it('lists names, sizes, verification and what is on disk', async () => {
    const run = await gas(['models', 'list', '--manifest', manifest]);
    expect(run.code, run.stderr).toBe(0);
    const line = (name: string) => run.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    expect(line('sd15')).toMatch(/^sd15\s+≥4\.07 GB\s+diffusion\s+cpu,cuda,webgpu\s+unverified \(main; no sha256\)\s+models\/sd15: not here$/);
    expect(line('sd15-fp16')).toContain('unverified (commit pinned; no sha256)');
    expect(line('grounding-dino-tiny-fp16')).toMatch(/≈361 MB\s+detector/);
    const total = [...bundleFiles.values()].reduce((sum, b) => sum + b.length, 0);
    expect(line('colour-world')).toMatch(new RegExp(`^colour-world\\s+${formatBytes(total).replace('.', '\\.')}\\s+diffusion\\s+cpu\\s+verified\\s`));
    expect(line('colour-world-detector')).toContain('unverified (main; no sha256)');
  });
});

describe('pull progress', () => {
  it('writes a first line and then one every 10% with bytes and time left when the output is not a terminal', () => {
    let text = '';
    let clock = 0;
    const progress = byteProgress({ write: (t: string) => (text += t) }, 'unet/weights.pb', 1_000_000, () => clock);
    for (let i = 0; i < 20; i += 1) {
      clock += 500;
      progress.add(50_000);
    }
    progress.done();
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('unet/weights.pb: 50.0 kB of 1.00 MB (0%), 10 s left');
    expect(lines[1]).toBe('unet/weights.pb: 100 kB of 1.00 MB (10%), 9 s left');
    expect(lines[10]).toBe('unet/weights.pb: 1.00 MB of 1.00 MB (100%), done');
  });

  it('redraws one bar with bytes and time left on a terminal, counting resumed bytes as there but not as speed', () => {
    let text = '';
    let clock = 0;
    const progress = byteProgress({ write: (t: string) => (text += t), isTTY: true }, 'model.onnx', 4_000_000_000, () => clock);
    progress.resumed(2_000_000_000);
    clock += 10_000;
    progress.add(100_000_000);
    progress.done();
    const frames = text.split('\r').filter(Boolean);
    expect(frames.at(-1)).toBe(`model.onnx [${'#'.repeat(16)}${' '.repeat(14)}] 2.10 GB/4.00 GB  3 min 10 s left \n`);
  });
});

describe('a download that keeps failing', () => {
  it('gives up after the tries that bring no byte, keeps its partial, and says how to resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gas-pull-fail-'));
    let requests = 0;
    // Answers the first request with its first 10 bytes only (a complete 206), then cuts every connection.
    const server = createServer((req, res) => {
      requests += 1;
      if (requests > 1) return void res.socket?.destroy();
      res.writeHead(206, { 'Content-Length': '10', 'Content-Range': 'bytes 0-9/1000' });
      res.end(Buffer.alloc(10, 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const target = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f`, size: 1000, etag: '"e"', finalPath: join(dir, 'f.onnx'), label: 'f.onnx' };
      const failure = await downloadResumable(target, { onResumed: () => {}, onBytes: () => {}, retryDelayMs: 10, maxFruitlessTries: 3 }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: 'service_unavailable' });
      expect((failure as Error).message).toMatch(/^Downloading f\.onnx failed 3 times in a row \(.+\); run the pull again to resume it\.$/);
      expect(requests).toBe(4);
      expect(readFileSync(join(dir, 'f.onnx.partial')).equals(Buffer.alloc(10, 1))).toBe(true);
      expect(existsSync(join(dir, 'f.onnx'))).toBe(false);
    } finally {
      server.closeAllConnections();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
