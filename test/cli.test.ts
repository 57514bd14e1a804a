/** The built `gas` command, run as a person would: exit codes, messages, files. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoScenePng, DEMO_PLAN } from '../src/cli/demo-scene.js';
import { STANDARD_BUNDLE, fractionOfWay, meanColour, pngToRgb, PALETTE } from './helpers/colour-world.js';
import { readFileSync } from 'node:fs';
import { colourWorldDetectorDir } from '../models/colour-world/paths.js';

const DETECTOR = colourWorldDetectorDir();

const CLI = resolve('dist/src/cli.js');

/** The environment without the variables that choose planners, models or keys: each test says what it wants. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENAI_|GAS_)/.test(k)));

function gas(args: string[], cwd = process.cwd()) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('gas', async () => {
  const work = mkdtempSync(join(tmpdir(), 'gas-cli-'));
  const scene = join(work, 'scene.png');
  writeFileSync(scene, await demoScenePng());
  const planFile = (name: string, plan: unknown) => {
    const file = join(work, name);
    writeFileSync(file, typeof plan === 'string' ? plan : JSON.stringify(plan));
    return file;
  };
  const goodPlan = planFile('plan.json', DEMO_PLAN);
  const base = ['--bundle', STANDARD_BUNDLE, '--steps', '150', '--seed', '3'];

  it('has the build it runs from', () => {
    expect(existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  });

  it('edits with an explicit plan and writes the edit, the overlay and previews', async () => {
    const out = join(work, 'out-edit');
    const run = gas(['edit', scene, '--plan', goodPlan, '--out', out, '--previews', ...base]);
    expect(run.stderr).toContain('editing: 150/150 iterations');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('seed 3');
    expect(readdirSync(out).sort()).toEqual([
      'edit.png', 'masks.png',
      ...[15, 30, 45, 60, 75, 90, 105, 120, 135].map((i) => `preview-${String(i).padStart(4, '0')}.png`),
    ]);
    const edit = await pngToRgb(readFileSync(join(out, 'edit.png')));
    expect(fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThan(0.8);
  });

  it('runs the demo from a sentence and prints the plan and where the files are', () => {
    const out = join(work, 'demo');
    const run = gas(['demo', '--out', out, '--steps', '20']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"turn the dog into a tiger and the grass into snow"');
    expect(run.stdout).toContain('1. the dog → a tiger');
    for (const name of ['edit.png', 'masks.png']) expect(run.stdout).toContain(join(out, name));
    expect(existsSync(join(out, 'scene.png'))).toBe(true);
  });

  it('edits from a sentence with the detector', async () => {
    const out = join(work, 'out-sentence');
    const run = gas(['edit', scene, 'turn the dog into a tiger and the grass into snow', '--detector', DETECTOR, '--out', out, ...base]);
    expect(run.code).toBe(0);
    const edit = await pngToRgb(readFileSync(join(out, 'edit.png')));
    expect(fractionOfWay(meanColour(edit, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThan(0.8);
  });

  it('prints the plan as JSON and writes the overlay with `gas plan`, without editing', () => {
    const out = join(work, 'out-plan');
    const run = gas(['plan', scene, 'Turn the dog into a tiger; make the sky cloudy.', '--detector', DETECTOR, '--out', out]);
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as { subtasks: { source: string; target: string; boxes: number[][] }[] };
    expect(plan.subtasks.map((s) => `${s.source} → ${s.target}`)).toEqual(['the dog → a tiger', 'the sky → the cloudy sky']);
    expect(plan.subtasks[0].boxes).toEqual([[0.25, 0.4375, 0.625, 0.8125]]);
    expect(readdirSync(out)).toEqual(['masks.png']);
  });

  it('writes the overlay and names the phrase when an object is not found', () => {
    const out = join(work, 'out-missing');
    const run = gas(['edit', scene, 'turn the cat into a fox', '--detector', DETECTOR, '--out', out, ...base]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('I could not find "cat" in the image.');
    expect(readdirSync(out)).toEqual(['masks.png']);
  });

  const refusals: [string, () => string[], number, string][] = [
    ['a missing image', () => ['edit', join(work, 'nope.png'), '--plan', goodPlan], 2, `No image at ${join(work, 'nope.png')}.`],
    ['an unreadable image', () => ['edit', planFile('not-an-image.png', 'hello'), '--plan', goodPlan], 2, 'The image could not be read. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF file.'],
    ['a plan that is not JSON', () => ['edit', scene, '--plan', planFile('broken.json', '{ "subtasks": [')], 2, 'is not valid JSON'],
    ['a plan missing a field', () => ['edit', scene, '--plan', planFile('nofield.json', { subtasks: [{ source: 'a dog', box: [0, 0, 1, 1] }], full: { source: 'a', target: 'b' } })], 2, 'Invalid plan: subtasks[0].target is required.'],
    ['a box outside [0, 1]', () => ['edit', scene, '--plan', planFile('outside.json', { subtasks: [{ source: 'a dog', target: 'a tiger', box: [0, 0, 1.2, 1] }], full: { source: 'a', target: 'b' } })], 2, 'Invalid plan: subtasks[0].box[2] must be between 0 and 1.'],
    ['a missing plan file', () => ['edit', scene, '--plan', join(work, 'none.json')], 2, `No plan file at ${join(work, 'none.json')}.`],
    ['no bundle at the path', () => ['edit', scene, '--plan', goodPlan, '--bundle', join(work, 'no-bundle')], 3, `No model bundle at ${join(work, 'no-bundle')}`],
    ['a bad step count', () => ['edit', scene, '--plan', goodPlan, '--steps', 'many'], 2, '--steps must be a whole number from 1 to 10000 (got "many").'],
    ['an unknown ablation', () => ['edit', scene, '--plan', goodPlan, '--ablate', 'everything'], 2, "option '--ablate <name>' argument 'everything' is invalid"],
    ['an empty request', () => ['edit', scene, '   '], 2, 'Say what to change, e.g. "turn the dog into a tiger and the grass into snow".'],
    ['more than 8 edits', () => ['edit', scene, Array.from({ length: 9 }, (_, i) => `turn the dog${i} into a cat`).join(', ')], 2, 'The request asks for 9 edits; one edit handles at most 8.'],
    ['a request over 1,000 characters', () => ['edit', scene, `turn the dog into a ${'very '.repeat(250)}big tiger`], 2, 'keep it under 1000'],
    ['a call without an image', () => ['edit'], 2, "missing required argument 'image'"],
    ['a request that cannot be parsed', () => ['edit', scene, 'hello there'], 2, 'Try e.g.'],
    ['the openai planner without a key', () => ['edit', scene, 'turn the dog into a tiger', '--planner', 'openai'], 2, 'The openai planner needs OPENAI_API_KEY'],
    ['a directory as the image', () => ['edit', work, '--plan', goodPlan], 2, `No image at ${work}.`],
    ['a working size that is not a multiple of 64', () => ['edit', scene, '--plan', goodPlan, '--max-side', '100', '--bundle', join(work, 'no-bundle')], 2, 'multiple of 64'],
  ];
  for (const [what, args, code, message] of refusals) {
    it(`refuses ${what} with its message, exit ${code}, and writes nothing`, () => {
      const out = join(work, `refused-${what.replace(/\W+/g, '-')}`);
      const run = gas([...args(), '--out', out]);
      expect(run.stderr).toContain(message);
      expect(run.code).toBe(code);
      expect(existsSync(out)).toBe(false);
    });
  }
});
