/** The status message of a job in each state: text, images and buttons, from its events alone. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { applyEvent, newJobView, renderStatus, type JobView, type StatusImages } from '../src/chat/render.js';
import { fitForUpload } from '../src/chat/upload.js';
import type { JobEvent, JobEventBody } from '../src/jobs/contracts.js';
import { SCENE_PLAN } from './helpers/colour-world.js';
import { testFormat } from './helpers/chat-transport.js';

const T0 = 1_800_000_000_000;
const REF = (c: string) => `blob:sha256:${c.repeat(64)}`;
const png = (tag: number) => Buffer.from([0x89, 0x50, 0x4e, 0x47, tag]);

function viewAfter(...bodies: JobEventBody[]): JobView {
  const start = newJobView({ jobId: 'j1', request: 'turn the dog into a *tiger* @everyone' });
  return bodies.reduce<JobView>((view, body, i) => applyEvent(view, { jobId: 'j1', seq: i + 1, at: T0 + i * 1000, ...body } as JobEvent), start);
}

const queued = (position: number, place?: number): JobEventBody => ({ type: 'queued', position, ...(place ? { place } : {}), startsInMs: 120_000, etaMs: 150_000 });
const planned: JobEventBody = { type: 'planned', plan: SCENE_PLAN };
const grounded = (missing: string[] = []): JobEventBody => ({ type: 'grounded', regions: [], missing, overlay: REF('a') });
const progress = (iteration: number, preview?: string): JobEventBody => ({ type: 'progress', iteration, total: 500, etaMs: 60_000, ...(preview ? { preview } : {}) });
const done: JobEventBody = { type: 'done', result: REF('c'), overlay: REF('a'), plan: SCENE_PLAN, seed: 1234, timings: { totalMs: 12_345 } };
const images: StatusImages = { overlay: png(1), preview: png(2), result: { data: png(3), contentType: 'image/png', width: 512, height: 512 } };

const HEADER = '**Edit**: turn the dog into a \\*tiger\\* @\u200beveryone';
const PLAN_LINES = ['1 · a dog → a tiger', '2 · the grass → the snow'];

describe('renderStatus', () => {
  const cases: [string, JobView, string[], string[], string[]][] = [
    ['queued behind others: the place in line and the start time', viewAfter(queued(2)), [HEADER, `Queued · 3rd in line · starts <t:${(T0 + 120_000) / 1000}:R>`], [], ['cancel']],
    ['queued behind a running edit: 2nd in line, not "Starting…"', viewAfter(queued(0, 2)), [HEADER, `Queued · 2nd in line · starts <t:${(T0 + 120_000) / 1000}:R>`], [], ['cancel']],
    ['next in line: queued until a worker takes it', viewAfter(queued(0)), [HEADER, `Queued · next in line · starts <t:${(T0 + 120_000) / 1000}:R>`], [], ['cancel']],
    ['planned: the subtasks, numbered', viewAfter(queued(0), planned), [HEADER, 'Finding the objects…', ...PLAN_LINES], [], ['cancel']],
    ['grounded: the masks image', viewAfter(queued(0), planned, grounded()), [HEADER, 'Editing · starting…', ...PLAN_LINES], ['masks.png:inline'], ['cancel']],
    [
      'progress: iteration, finish time and the latest preview',
      viewAfter(queued(0), planned, grounded(), progress(60, REF('b')), progress(120)),
      [HEADER, `Editing · 120/500 · done <t:${(T0 + 4000 + 60_000) / 1000}:R>`, ...PLAN_LINES],
      ['masks.png:inline', 'preview.png:inline'],
      ['cancel'],
    ],
    [
      'done: the result, the plan, the seed and the time taken',
      viewAfter(queued(0), planned, grounded(), progress(120, REF('b')), done),
      [HEADER, 'Done in 12 s · seed 1234', ...PLAN_LINES],
      ['edit.png:result'],
      ['retry', 'undo', 'masks'],
    ],
    [
      'not found: the phrase named, what to do and the masks, without a Retry that would fail the same way',
      viewAfter(queued(0), planned, grounded(['cat']), { type: 'failed', code: 'not_found', details: { missing: ['cat'], detector: true } }),
      [HEADER, 'I could not find "cat" in the image. The masks show what I found; name it as it appears in the photo, or leave it out, and try again.', ...PLAN_LINES],
      ['masks.png:inline'],
      ['masks'],
    ],
    [
      'timed out: the limit from the details',
      viewAfter(queued(0), { type: 'failed', code: 'timeout', details: { limitMs: 900_000 } }),
      [HEADER, 'The edit took longer than 15 min and was stopped. Try fewer steps or a smaller image.'],
      [],
      ['retry'],
    ],
    ['cancelled: by whom, and what to try', viewAfter(queued(1), { type: 'cancelled', by: 'u1' }), [HEADER, 'Cancelled by <@u1>. Press Retry to run it again.'], [], ['retry']],
    [
      'restarted: says the worker stopped and drops the old progress',
      viewAfter(queued(0), planned, progress(300, REF('b')), { type: 'restarted', attempt: 2, reason: 'crash' }),
      [HEADER, 'Finding the objects…', ...PLAN_LINES, 'A worker stopped, so the edit started again (attempt 2).'],
      [],
      ['cancel'],
    ],
  ];

  it.each(cases)('%s', (_name, view, lines, shown, buttons) => {
    const message = renderStatus(view, testFormat, images);
    expect(message.text.split('\n')).toEqual(lines);
    expect(message.images.map((i) => `${i.name}:${i.placement}`)).toEqual(shown);
    expect(message.buttons.map((b) => b.action)).toEqual(buttons);
    expect(message.buttons.every((b) => b.jobId === 'j1')).toBe(true);
    expect(message.final).toBe(['done', 'failed', 'cancelled'].includes(view.phase));
    // Job ids are for operators: only a failure they may look up carries one, in the footer.
    expect(message.text).not.toContain('j1');
    expect(message.footer).toBe(view.failure === 'timeout' ? 'ref j1' : undefined);
  });

  it('shortens long requests and phrases so the message stays inside platform limits', () => {
    const long = `turn the dog into ${'a very '.repeat(60)}big tiger`;
    const plan = { subtasks: [{ ...SCENE_PLAN.subtasks[0], target: 'x'.repeat(300) }], full: SCENE_PLAN.full };
    const view = applyEvent({ ...newJobView({ jobId: 'j1', request: long }) }, { jobId: 'j1', seq: 1, at: T0, type: 'planned', plan });
    const [header, , planLine] = renderStatus(view, testFormat).text.split('\n');
    expect(header).toBe(`**Edit**: ${long.slice(0, 199)}…`);
    expect(planLine).toBe(`1 · a dog → ${'x'.repeat(79)}…`);
  });

  it('shows the bytes it was given for each image', () => {
    const message = renderStatus(viewAfter(queued(0), planned, grounded()), testFormat, images);
    expect(message.images[0].data).toBe(images.overlay);
    expect(message.images[0].contentType).toBe('image/png');
  });

  it('says an image has expired instead of showing nothing silently', () => {
    const message = renderStatus(viewAfter(queued(0), planned, grounded()), testFormat, {});
    expect(message.images).toEqual([]);
    expect(message.text.split('\n').at(-1)).toBe('(The image has expired.)');
  });

  it('says the result was re-encoded or downscaled to fit the upload limit', () => {
    const view = viewAfter(queued(0), done);
    const jpeg = renderStatus(view, testFormat, { result: { data: png(4), contentType: 'image/jpeg', width: 512, height: 512, shrunk: 'jpeg' } });
    expect(jpeg.text.split('\n').at(-1)).toBe('The PNG is over the upload limit here, so this is a JPEG of it.');
    expect(jpeg.images.map((i) => [i.name, i.contentType])).toEqual([['edit.jpg', 'image/jpeg']]);
    const small = renderStatus(view, testFormat, { result: { data: png(4), contentType: 'image/jpeg', width: 300, height: 200, shrunk: 'downscaled' } });
    expect(small.text.split('\n').at(-1)).toBe('The PNG is over the upload limit here, so this is a JPEG at 300×200.');
  });
});

describe('applyEvent', () => {
  it('ignores an event it already folded in and anything after the terminal event', () => {
    const view = viewAfter(queued(0), planned, grounded(), progress(120));
    const again = applyEvent(view, { jobId: 'j1', seq: 3, at: T0, type: 'progress', iteration: 10, total: 500, etaMs: 0 });
    expect(again).toBe(view);
    const ended = viewAfter(queued(0), done);
    expect(applyEvent(ended, { jobId: 'j1', seq: 9, at: T0, type: 'cancelled' })).toBe(ended);
  });

  it('keeps the latest preview when a progress event carries none', () => {
    expect(viewAfter(queued(0), progress(50, REF('b')), progress(100)).preview).toBe(REF('b'));
  });
});

describe('fitForUpload', () => {
  it('keeps a PNG under the limit, re-encodes one over it as JPEG, and downscales when JPEG is not enough', async () => {
    // A gradient with grain, like a photo: PNG compresses it badly, JPEG well.
    const pixels = Buffer.alloc(256 * 256 * 3);
    let state = 1;
    for (let i = 0; i < pixels.length; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      pixels[i] = Math.min(255, ((i / 3) % 256) / 2 + (state % 24));
    }
    const big = await sharp(pixels, { raw: { width: 256, height: 256, channels: 3 } }).png().toBuffer();

    expect(await fitForUpload(big, big.length)).toMatchObject({ data: big, contentType: 'image/png', width: 256, height: 256 });

    const jpegSize = (await sharp(big).jpeg({ quality: 90 }).toBuffer()).length;
    expect(jpegSize).toBeLessThan(big.length);
    const asJpeg = await fitForUpload(big, jpegSize);
    expect(asJpeg).toMatchObject({ contentType: 'image/jpeg', width: 256, height: 256, shrunk: 'jpeg' });
    expect((await sharp(asJpeg.data).metadata()).format).toBe('jpeg');

    const limit = Math.round(jpegSize / 4);
    const small = await fitForUpload(big, limit);
    expect(small.shrunk).toBe('downscaled');
    expect(small.data.length).toBeLessThanOrEqual(limit);
    const meta = await sharp(small.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', small.width, small.height]);
    expect(small.width).toBeLessThan(256);
    expect(small.width).toBe(small.height);
  });
});
