/**
 * The check step's small parts: the doubts that make an `unsure` check ask (a detector score near
 * its threshold among them), the lettered grid on the masks, and the check as its status shows it.
 */
import { describe, expect, it } from 'vitest';
import { applyEvent, newJobView, renderStatus, type JobView } from '../src/chat/render.js';
import { regionDoubts } from '../src/ground/region-checks.js';
import { decodeImage } from '../src/image/decode.js';
import { overlaySvg, renderMaskOverlay } from '../src/image/overlay.js';
import type { JobEvent, JobEventBody } from '../src/jobs/contracts.js';
import { planFromText } from '../src/plan/offline.js';
import { testFormat } from './helpers/chat-transport.js';

describe('regionDoubts', () => {
  it('doubts a detector score within 0.05 of its threshold, the lowest of a region counting', () => {
    const sure = { phrase: 'dog', boxes: [[0.1, 0.1, 0.5, 0.5]] as const, scores: [0.9] };
    const unsure = { phrase: 'cat', boxes: [[0.6, 0.1, 0.9, 0.5], [0.6, 0.6, 0.9, 0.9]] as const, scores: [0.9, 0.38] };
    expect(regionDoubts([sure, unsure], { threshold: 0.35 })).toEqual([
      { kind: 'several', phrase: 'cat', count: 2 },
      { kind: 'unsure', phrase: 'cat', score: 0.38, threshold: 0.35 },
    ]);
    // Exactly at the margin is sure; without a threshold, scores are not judged.
    expect(regionDoubts([{ ...sure, scores: [0.4] }], { threshold: 0.35 })).toEqual([]);
    expect(regionDoubts([unsure]).map((d) => d.kind)).toEqual(['several']);
  });
});

describe('the grid on the masks', () => {
  it('draws the lines between eight columns and eight rows, and their letters and numbers, only when asked', () => {
    const plain = overlaySvg(800, 400, [{ label: 'dog', boxes: [[0.1, 0.1, 0.2, 0.2]] }]);
    const grid = overlaySvg(800, 400, [{ label: 'dog', boxes: [[0.1, 0.1, 0.2, 0.2]] }], { grid: true });
    expect(plain).not.toContain('<line');
    expect(grid.match(/<line /g)).toHaveLength(14);
    expect(grid).toContain('x1="100" y1="0" x2="100" y2="400"');
    expect(grid).toContain('x1="0" y1="50" x2="800" y2="50"');
    for (const mark of ['A', 'H', '1', '8']) expect(grid).toContain(`>${mark}</text>`);
    // Under the region's label: the label is drawn last.
    expect(grid.lastIndexOf('<line')).toBeLessThan(grid.indexOf('1 · dog'));
  });

  it('lightens the image along the lines', async () => {
    const image = { data: Buffer.alloc(160 * 160 * 3, 40), width: 160, height: 160 };
    const masks = await decodeImage(await renderMaskOverlay(image, [], { grid: true }));
    const at = (x: number, y: number) => masks.data[3 * (y * 160 + x)];
    expect(at(20, 90)).toBeGreaterThan(80); // on the line between columns A and B
    expect(at(30, 90)).toBe(40); // inside cell B5
  });
});

describe('a check as its status shows it', () => {
  const plan = planFromText('turn the unicorn into a horse and the dog into a tiger');
  const REF = `blob:sha256:${'a'.repeat(64)}`;
  const checking = (extra: Partial<Extract<JobEventBody, { type: 'checking' }>> = {}): JobEventBody => ({
    type: 'checking',
    round: 1,
    plan,
    regions: [
      { phrase: 'unicorn', label: 'the unicorn → a horse', boxes: [], source: null, found: 0 },
      { phrase: 'dog', label: 'the dog → a tiger', boxes: [[0.1, 0.5, 0.3, 0.8]], source: 'detector', found: 2 },
    ],
    missing: ['unicorn'],
    overlay: REF,
    reasons: [{ kind: 'missing', phrase: 'unicorn' }, { kind: 'tiny', phrase: 'dog', area: 0.004, count: 1 }],
    deadline: 1_800_000_600_000,
    ...extra,
  });
  const view = (...bodies: JobEventBody[]): JobView =>
    bodies.reduce<JobView>((v, body, i) => applyEvent(v, { jobId: 'j1', seq: i + 1, at: 1_800_000_000_000, ...body } as JobEvent), newJobView({ jobId: 'j1', request: 'turn the unicorn into a horse and the dog into a tiger', step: 2 }));

  it('shows the masks, what was found of each part, why it asks, the question of a phrase not found, Go and Cancel', () => {
    const message = renderStatus(view({ type: 'queued', position: 0, startsInMs: 0, etaMs: 0 }, checking()), testFormat, { overlay: Buffer.from('png') });
    expect(message.text.split('\n')).toEqual([
      '**Edit 2**: turn the unicorn into a horse and the dog into a tiger',
      'Check the masks: press Go to edit, or reply to fix a region · expires <t:1800000600:R>',
      '1 · the unicorn → a horse (not found)',
      '2 · the dog → a tiger (1 of the 2 found)',
      'Why I ask: "dog" was found only as a small spot (0.4% of the image).',
      'I could not find "unicorn". I did find: the dog.',
      'Reply "1 is …" with what to edit instead, "drop 1", or press Go to edit the rest.',
      'To fix a region, reply "1 is the dog on the left", "1 is the fence", "drop 1", "also turn the car into a tank", or a box on the grid: "1 is B3 to D5".',
    ]);
    expect(message.buttons.map((b) => `${b.action}:${b.label}`)).toEqual(['go:Go', 'cancel:Cancel']);
    expect(message.images.map((i) => i.name)).toEqual(['masks.png']);
    expect(message.images[0].alt).toContain('grid of cells A1 to H8');
    expect(message.final).toBe(false);
  });

  it('says which reply it could not apply, and why, in the words of the fix rules', () => {
    const text = renderStatus(view(checking({ round: 2, unread: { text: 'make it *pop*', reason: 'I could not read "make it pop" as an edit to add.' } })), testFormat).text;
    expect(text).toContain('I could not apply "make it \\*pop\\*". I could not read "make it pop" as an edit to add.');
  });

  it('keeps the masks and plan while the edit waits after Go, and drops the check', () => {
    const message = renderStatus(view(checking(), { type: 'queued', position: 1, place: 2, startsInMs: 30_000, etaMs: 60_000 }), testFormat, { overlay: Buffer.from('png') });
    expect(message.text.split('\n').slice(1)).toEqual(['Queued · 2nd in line · starts <t:1800000030:R>', '1 · the unicorn → a horse', '2 · the dog → a tiger']);
    expect(message.images.map((i) => i.name)).toEqual(['masks.png']);
    expect(message.buttons.map((b) => b.action)).toEqual(['cancel']);
  });
});
