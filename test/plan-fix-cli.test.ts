/**
 * `gas plan --fix`: the check step's fix language at a shell, the same implementation as in chat,
 * applied in turn to the planned and grounded regions; the printed plan carries them as fixed.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { colourWorldDetectorDir } from '../models/colour-world/paths.js';
import { gas } from './helpers/cli.js';
import { TWO_DOGS_REGIONS, twoDogsScenePng } from './helpers/two-dogs.js';

const DETECTOR = colourWorldDetectorDir();
const planned = (stdout: string) => JSON.parse(stdout) as { subtasks: { source: string; target: string; boxes: number[][] }[]; full: { source: string; target: string } };

describe('gas plan --fix', async () => {
  const work = mkdtempSync(join(tmpdir(), 'gas-fix-'));
  const scene = join(work, 'two-dogs.png');
  writeFileSync(scene, await twoDogsScenePng());
  const plan = (request: string, ...fixes: string[]) => gas(['plan', scene, request, '--planner', 'offline', '--detector', DETECTOR, '--out', join(work, `out-${fixes.length}-${Date.now()}`), ...fixes.flatMap((fix) => ['--fix', fix])]);

  it('chooses an instance, takes a grid box and adds a part, in order, and prints the plan as fixed', async () => {
    const run = await plan('turn the dog into a tiger and the grass into snow', '1 is the dog on the left', '2 is A8 to H8', 'also turn the sky into snow');
    expect(run.code, run.stderr).toBe(0);
    const result = planned(run.stdout);
    expect(result.subtasks.map((s) => [s.source, s.target, s.boxes])).toEqual([
      ['the dog', 'a tiger', [[...TWO_DOGS_REGIONS.leftDog]]],
      ['the grass', 'the snow', [[0, 0.875, 1, 1]]],
      ['the sky', 'the snow', [[...TWO_DOGS_REGIONS.sky]]],
    ]);
    expect(result.full).toEqual({ source: 'a photo of the dog, the grass and the sky', target: 'a photo of a tiger, the snow and the snow' });
    expect(run.stderr).toMatch(/masks\.png\n$/);
  });

  it('drops a part found nowhere, so the rest can be edited', async () => {
    const unfixed = await plan('turn the unicorn into a horse and the dog into a tiger');
    expect(unfixed.code).toBe(2);
    expect(unfixed.stderr).toContain('I could not find "unicorn" in the image.');
    const run = await plan('turn the unicorn into a horse and the dog into a tiger', 'drop 1', 'the dog on the right');
    expect(run.code, run.stderr).toBe(0);
    expect(planned(run.stdout).subtasks.map((s) => [s.source, s.boxes])).toEqual([['the dog', [[...TWO_DOGS_REGIONS.rightDog]]]]);
  });

  it('refuses a fix it cannot read, or one naming a part the plan lacks, with exit 2 and nothing written', async () => {
    const out = join(work, 'refused');
    const run = await gas(['plan', scene, 'turn the dog into a tiger', '--planner', 'offline', '--detector', DETECTOR, '--out', out, '--fix', 'drop 3']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('\ngas: There is no part 3: this edit has one part, 1 · the dog → a tiger.\n');
    expect(() => readdirSync(out)).toThrow();
    const unread = await plan('turn the dog into a tiger', 'make it nice');
    expect(unread.code).toBe(2);
    expect(unread.stderr).toContain('I could not read "make it nice" as an edit to add');
  });
});
