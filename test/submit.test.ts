/**
 * Submitting edits into threads (src/jobs/submit.ts), as `gas submit`/`gas undo` and the chat
 * adapters do: photo limits on what the person sent, the photo stored as sent, thread owners.
 * The real Redis under a prefix per test; the CLI as a child process where its exit code matters.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readImageFile } from '../src/cli/edit-command.js';
import { runSubmitCommand, runUndoCommand } from '../src/cli/queue-commands.js';
import { DEFAULT_MAX_PHOTO_BYTES, DEFAULT_MAX_PIXELS, decodePhoto } from '../src/image/decode.js';
import { blobRefOf } from '../src/jobs/blob-store.js';
import type { EditJob, JobEvent, Requester } from '../src/jobs/contracts.js';
import type { EditQueueConfig } from '../src/jobs/edit-queue.js';
import { submitEdit, undoThread, type EditSubmitterDeps } from '../src/edits/submit.js';
import { ThreadHistory, type ThreadId } from '../src/jobs/thread-history.js';
import { demoScenePng } from '../src/cli/demo-scene.js';
import { parsePlan } from '../src/plan/schema.js';
import { rejection } from './helpers/errors.js';
import { REQUEST, collectEvents, queueHarness, type QueueHarness } from './helpers/queue.js';

const MB = 1024 * 1024;

/**
 * What a phone sends: a 4000 × 3000 JPEG. Noise on a gradient keeps it near 3.7 MB, as a real
 * photo's detail does; as a PNG the same pixels are over 20 MB.
 */
async function phoneJpeg(): Promise<Buffer> {
  const [width, height] = [4000, 3000];
  const rgb = Buffer.alloc(width * height * 3);
  let state = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const noise = ((state >>> 16) % 48) - 24;
      const i = (y * width + x) * 3;
      rgb[i] = Math.max(0, Math.min(255, (x * 255) / width + noise));
      rgb[i + 1] = Math.max(0, Math.min(255, (y * 255) / height + noise));
      rgb[i + 2] = Math.max(0, Math.min(255, 128 + noise));
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

/** A valid image with more pixels than DEFAULT_MAX_PIXELS (7000 × 6000 = 42 MP), small on disk. */
const hugeJpeg = () => sharp({ create: { width: 7000, height: 6000, channels: 3, background: '#808080' } }).jpeg().toBuffer();

let photo: Buffer;
let scenePng: Buffer;
const dir = mkdtempSync(join(tmpdir(), 'gas-submit-test-'));
beforeAll(async () => {
  photo = await phoneJpeg();
  scenePng = await demoScenePng();
});

let harness: QueueHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function setup(config: Partial<EditQueueConfig> = {}): Promise<EditSubmitterDeps & { harness: QueueHarness }> {
  harness = await queueHarness(config);
  return { harness, queue: harness.queue, blobs: harness.blobs, threads: new ThreadHistory(harness.redis, harness.keys) };
}

let threads = 0;
/** A requester in a thread no other test uses. */
function inThread(user: string, thread = `t${++threads}`): Requester {
  return { platform: 'discord', user, channel: 'c1', thread };
}
const threadOf = (r: Requester): ThreadId => ({ platform: r.platform, channel: r.channel, thread: r.thread! });

async function jobData(deps: EditSubmitterDeps, jobId: string): Promise<EditJob> {
  return (await deps.queue.getJob(jobId))!.data as EditJob;
}

/** Keys of stored blobs under the harness's prefix. */
async function storedBlobs(h: QueueHarness): Promise<string[]> {
  return h.redis.keys(`${h.keys.prefix}:blob:*`);
}

describe('photo limits', () => {
  it('takes a 12-megapixel phone JPEG of about 3.7 MB and stores its bytes as sent, not as a PNG', async () => {
    expect(photo.length).toBeGreaterThan(3 * MB);
    expect(photo.length).toBeLessThan(4.5 * MB);
    const deps = await setup();
    const submitted = await submitEdit(deps, { requester: inThread('alice'), photo, request: REQUEST });
    expect(submitted.source).toBe(blobRefOf(photo));
    expect((await deps.blobs.get(submitted.source)).equals(photo)).toBe(true);
    expect(await jobData(deps, submitted.jobId)).toMatchObject({ source: submitted.source, requester: { user: 'alice' } });
    expect((await jobData(deps, submitted.jobId)).fromThread).toBeUndefined();
  });

  it('applies the same limits in gas edit (readImageFile) and in submitEdit: bytes as sent, pixels, decodable', async () => {
    const deps = await setup();
    const overBytes = Buffer.concat([photo, Buffer.alloc(DEFAULT_MAX_PHOTO_BYTES + 1 - photo.length)]);
    const cases: [string, Buffer, string][] = [
      ['over-bytes.jpg', overBytes, 'The image is 20.1 MB, over the 20 MB limit. Send a smaller one.'],
      ['huge.jpg', await hugeJpeg(), 'The image is too large: the limit is 40 megapixels. Send a smaller image.'],
      ['not-an-image.jpg', Buffer.from('this is not an image at all'), 'The image could not be read. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF file.'],
      ['truncated.jpg', photo.subarray(0, photo.length >> 1), 'The image could not be read. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF file.'],
    ];
    expect(DEFAULT_MAX_PIXELS).toBe(40_000_000);
    for (const [name, bytes, message] of cases) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      for (const refuse of [() => readImageFile(file), () => submitEdit(deps, { requester: inThread('alice'), photo: bytes, request: REQUEST })]) {
        const error = await rejection(refuse());
        expect(error.code, name).toBe('bad_image');
        expect(error.message, name).toBe(message);
      }
    }
    expect(await storedBlobs(deps.harness)).toEqual([deps.harness.keys.blob(deps.harness.scene.slice('blob:sha256:'.length))]);
    expect(await deps.queue.depth()).toMatchObject({ waiting: 0, held: 0 });

    // At the limits exactly, both accept: gas edit gets the pixels, submitEdit stores the bytes.
    const file = join(dir, 'phone.jpg');
    writeFileSync(file, photo);
    expect(await readImageFile(file)).toMatchObject({ width: 4000, height: 3000 });
    expect(await decodePhoto(photo, { maxBytes: photo.length, maxPixels: 4000 * 3000 })).toMatchObject({ width: 4000, height: 3000 });
    expect((await rejection(decodePhoto(photo, { maxBytes: photo.length - 1 }))).code).toBe('bad_image');
  });

  it('enqueues the phone JPEG with gas submit, which refused it as over 20 MB when it converted to PNG first', async () => {
    const deps = await setup();
    const file = join(dir, 'IMG_0001.JPG');
    writeFileSync(file, photo);
    const printed: string[] = [];
    await runSubmitCommand(file, REQUEST, { redisUrl: 'redis://127.0.0.1:6379', prefix: deps.harness.keys.prefix, user: 'alice', channel: 'shell', thread: 'trip', wait: false }, (line) => printed.push(line));
    const submitted = JSON.parse(printed[0]) as { jobId: string; source: string };
    expect(submitted.source).toBe(blobRefOf(photo));
    expect(await jobData(deps, submitted.jobId)).toMatchObject({ requester: { platform: 'cli', user: 'alice', channel: 'shell', thread: 'trip' }, source: blobRefOf(photo) });
    expect(await deps.threads.owner({ platform: 'cli', channel: 'shell', thread: 'trip' })).toBe('alice');
  });

  it('edits the phone JPEG end to end: a worker decodes the stored JPEG and returns a result at its resolution', async () => {
    const deps = await setup();
    await deps.harness.startWorker();
    // An explicit box: the colour world's detector knows colours, and a gradient has none of its words.
    const plan = parsePlan({
      subtasks: [{ source: 'the sky', target: 'the snow', box: [0, 0, 1, 0.3] }],
      full: { source: 'a photo of the sky', target: 'a photo of the snow' },
    });
    const { jobId } = await submitEdit(deps, { requester: inThread('alice'), photo, plan, options: { steps: 5 } });
    const events = await collectEvents(deps.queue, jobId, undefined, 150_000);
    const done = events.at(-1) as Extract<JobEvent, { type: 'done' }>;
    expect(done, JSON.stringify(events.filter((e) => e.type !== 'progress'))).toMatchObject({ type: 'done' });
    expect(await sharp(await deps.blobs.get(done.result)).metadata()).toMatchObject({ width: 4000, height: 3000 });
  }, 180_000);
});

describe('submitting into a thread', () => {
  it('continues a thread from its latest result when no photo comes with the request', async () => {
    const deps = await setup();
    const alice = inThread('alice');
    const first = await submitEdit(deps, { requester: alice, photo: scenePng, request: REQUEST });
    expect(first.parent).toBeUndefined();
    await deps.threads.push(threadOf(alice), { jobId: first.jobId, result: deps.harness.scene });

    const reply = await submitEdit(deps, { requester: alice, request: 'make the sky grey', options: { steps: 7 }, priority: 3 });
    expect(reply).toMatchObject({ source: deps.harness.scene, parent: first.jobId, held: false });
    expect(await jobData(deps, reply.jobId)).toMatchObject({
      source: deps.harness.scene,
      parent: first.jobId,
      fromThread: true,
      request: 'make the sky grey',
      options: { steps: 7 },
      priority: 3,
    });
  });

  it('refuses a reply without a photo in a thread that has no image yet, and one outside any thread', async () => {
    const deps = await setup();
    const empty = await rejection(submitEdit(deps, { requester: inThread('alice'), request: REQUEST }));
    expect(empty.code).toBe('bad_input');
    expect(empty.message).toBe('This thread has no image yet: send a photo with your request to start it.');
    const nowhere = await rejection(submitEdit(deps, { requester: { platform: 'slack', user: 'alice', channel: 'c1' }, request: REQUEST }));
    expect(nowhere.code).toBe('bad_input');
    expect(await deps.queue.depth()).toMatchObject({ waiting: 0 });
  });

  it('checks the request before storing anything: empty, too long, too many edits, no plan', async () => {
    const deps = await setup();
    const requests = ['   ', 'x'.repeat(1001), Array.from({ length: 9 }, (_, i) => `turn the dog${i} into a cat`).join(', ')];
    for (const request of requests) {
      expect((await rejection(submitEdit(deps, { requester: inThread('alice'), photo: scenePng, request }))).code).toBe('bad_input');
    }
    expect((await rejection(submitEdit(deps, { requester: inThread('alice'), photo: scenePng }))).code).toBe('bad_input');
    expect(await storedBlobs(deps.harness)).toHaveLength(1);
  });
});

describe('thread owners', () => {
  it("refuses someone else's photo in a thread it belongs to: nothing is stored, queued or changed", async () => {
    const deps = await setup();
    const alice = inThread('alice');
    await submitEdit(deps, { requester: alice, photo: scenePng, request: REQUEST });
    const error = await rejection(submitEdit(deps, { requester: { ...alice, user: 'mallory' }, photo, request: REQUEST }));
    expect(error.code).toBe('not_allowed');
    expect(error.message).toBe('Only alice (who started this thread) or an admin can replace its photo; post yours outside this thread to start a new one.');
    expect(await deps.blobs.has(blobRefOf(photo))).toBe(false);
    expect(await deps.threads.origin(threadOf(alice))).toBe(blobRefOf(scenePng));
    expect(await deps.queue.depth()).toMatchObject({ waiting: 1 });
  });

  it('lets anyone in the thread add an edit from its latest result, under their own name', async () => {
    const deps = await setup();
    const alice = inThread('alice');
    await submitEdit(deps, { requester: alice, photo: scenePng, request: REQUEST });
    const bob = await submitEdit(deps, { requester: { ...alice, user: 'bob' }, request: 'make the sky grey' });
    expect(await jobData(deps, bob.jobId)).toMatchObject({ requester: { user: 'bob' }, fromThread: true, source: blobRefOf(scenePng) });
    expect(await deps.threads.owner(threadOf(alice))).toBe('alice');
  });

  it('undoes only for the owner or an admin, and returns what the next edit starts from', async () => {
    const deps = await setup({ admins: ['ops'] });
    const alice = inThread('alice');
    const thread = threadOf(alice);
    await submitEdit(deps, { requester: alice, photo: scenePng, request: REQUEST });
    const [first, second] = [blobRefOf(Buffer.from('first')), blobRefOf(Buffer.from('second'))];
    for (const [i, bytes] of ['first', 'second', 'third'].entries()) {
      await deps.threads.push(thread, { jobId: `j${i + 1}`, result: await deps.blobs.put(Buffer.from(bytes)) });
    }

    const refused = await rejection(undoThread(deps, thread, 'mallory'));
    expect(refused.code).toBe('not_allowed');
    expect(refused.message).toBe('Only alice (who started this thread) or an admin can undo edits in this thread.');
    expect(await deps.threads.chain(thread)).toHaveLength(3);

    expect(await undoThread(deps, thread, 'alice')).toBe(second);
    expect(await undoThread(deps, thread, 'ops')).toBe(first); // GAS_ADMINS
    expect(await undoThread(deps, thread, 'moderator', true)).toBe(blobRefOf(scenePng)); // a platform admin
    const nothing = await rejection(undoThread(deps, thread, 'alice'));
    expect(nothing.code).toBe('bad_input');
    expect(nothing.message).toBe('This thread has no edit to undo.');
    expect((await rejection(undoThread(deps, thread, 'mallory'))).code).toBe('not_allowed');
  });

  it("lets an admin replace the photo in someone else's thread, which stays the owner's", async () => {
    const deps = await setup({ admins: ['ops'] });
    const alice = inThread('alice');
    await submitEdit(deps, { requester: alice, photo: scenePng, request: REQUEST });
    const byConfig = await submitEdit(deps, { requester: { ...alice, user: 'ops' }, photo, request: REQUEST });
    expect(await deps.threads.origin(threadOf(alice))).toBe(byConfig.source);
    await submitEdit(deps, { requester: { ...alice, user: 'moderator' }, isAdmin: true, photo: scenePng, request: REQUEST });
    expect(await deps.threads.origin(threadOf(alice))).toBe(blobRefOf(scenePng));
    expect(await deps.threads.owner(threadOf(alice))).toBe('alice');
  });

  it('refuses gas undo and gas submit into a thread for another --user, with exit code 2 and the reason', async () => {
    const deps = await setup();
    const prefix = deps.harness.keys.prefix;
    const flags = { redisUrl: 'redis://127.0.0.1:6379', prefix, channel: 'shell', thread: 'walk' };
    const file = join(dir, 'scene.png');
    writeFileSync(file, scenePng);
    await runSubmitCommand(file, REQUEST, { ...flags, user: 'alice', wait: false }, () => {});
    await deps.threads.push({ platform: 'cli', channel: 'shell', thread: 'walk' }, { jobId: 'j1', result: await deps.blobs.put(Buffer.from('edit')) });
    expect((await rejection(runUndoCommand({ ...flags, user: 'mallory' }))).code).toBe('not_allowed');

    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENAI_|GAS_)/.test(k))), GAS_PREFIX: prefix };
    const gas = (...args: string[]) => spawnSync(process.execPath, [resolve('dist/src/cli.js'), ...args], { env, encoding: 'utf8', timeout: 60_000 });
    const undo = gas('undo', '--thread', 'walk', '--user', 'mallory');
    expect(undo.status, undo.stderr).toBe(2);
    expect(undo.stderr).toContain('Only alice (who started this thread) or an admin can undo edits in this thread.');
    const submit = gas('submit', file, REQUEST, '--thread', 'walk', '--user', 'mallory');
    expect(submit.status, submit.stderr).toBe(2);
    expect(submit.stderr).toContain('Only alice (who started this thread) or an admin can replace its photo');
    expect(await deps.threads.chain({ platform: 'cli', channel: 'shell', thread: 'walk' })).toHaveLength(1);

    const ownUndo = gas('undo', '--thread', 'walk', '--user', 'alice');
    expect(ownUndo.status, ownUndo.stderr).toBe(0);
    expect(ownUndo.stdout.trim()).toBe(blobRefOf(scenePng));
  }, 240_000);
});
