/** The fix language of the check step (src/plan/fix.ts): replies read into fixes, and fixes applied to a checked plan. */
import { describe, expect, it } from 'vitest';
import { isGasError } from '../src/errors.js';
import { planFromText } from '../src/plan/offline.js';
import {
  applyPlainFix, fixContext, fixErrorKind, gridBox, gridCells, pickInstance, planToEdit, readFixes,
  type CheckedPlan, type FixContext, type PlanFix,
} from '../src/plan/fix.js';
import type { Box } from '../src/plan/schema.js';

const LEFT: Box = [0.125, 0.5, 0.375, 0.8125];
const RIGHT: Box = [0.625, 0.5, 0.875, 0.8125];
const MIDDLE_SMALL: Box = [0.45, 0.55, 0.55, 0.65];
const GRASS: Box = [0, 0.375, 1, 1];

/** "turn the dog into a tiger and the grass into snow", the dog found twice. */
function twoDogs(): CheckedPlan {
  const plan = planFromText('turn the dog into a tiger and the grass into snow');
  return {
    plan,
    regions: [
      { phrase: 'dog', instances: [LEFT, RIGHT], scores: [0.9, 0.8], chosen: [LEFT, RIGHT], source: 'detector' },
      { phrase: 'grass', instances: [GRASS], chosen: [GRASS], source: 'detector' },
    ],
  };
}

const context: FixContext = fixContext(twoDogs());
const read = (text: string) => readFixes(text, context);
const one = (text: string) => {
  const fixes = read(text);
  expect(fixes, text).toHaveLength(1);
  return fixes[0];
};

describe('reading a fix', () => {
  const cases: [string, PlanFix][] = [
    ['1 is the dog on the left', { kind: 'pick', part: 0, pick: { by: 'position', position: 'left' } }],
    ['1: the left dog', { kind: 'pick', part: 0, pick: { by: 'position', position: 'left' } }],
    ['only the left one', { kind: 'pick', part: 0, pick: { by: 'position', position: 'left' } }],
    ['the dog on the right please', { kind: 'pick', part: 0, pick: { by: 'position', position: 'right' } }],
    ['#1 = the biggest', { kind: 'pick', part: 0, pick: { by: 'position', position: 'biggest' } }],
    ['1 is the smallest one', { kind: 'pick', part: 0, pick: { by: 'position', position: 'smallest' } }],
    ['part 1 should be the top one', { kind: 'pick', part: 0, pick: { by: 'position', position: 'top' } }],
    ['1 is the one in the middle', { kind: 'pick', part: 0, pick: { by: 'position', position: 'middle' } }],
    ['1 is the second dog from the left', { kind: 'pick', part: 0, pick: { by: 'ordinal', n: 2, from: 'left' } }],
    ['1 is the first from the right', { kind: 'pick', part: 0, pick: { by: 'ordinal', n: 1, from: 'right' } }],
    ['the dog is the third one', { kind: 'pick', part: 0, pick: { by: 'ordinal', n: 3, from: 'left' } }],
    ['1 is the fence', { kind: 'ground', part: 0, phrase: 'the fence' }],
    ['2 is the lawn on the left', { kind: 'ground', part: 1, phrase: 'lawn', pick: { by: 'position', position: 'left' } }],
    ['2 is B3 to D5', { kind: 'box', part: 1, box: [0.125, 0.25, 0.5, 0.625], cells: 'B3 to D5' }],
    ['2: d5-b3', { kind: 'box', part: 1, box: [0.125, 0.25, 0.5, 0.625], cells: 'B3 to D5' }],
    ['the grass is A5:H8', { kind: 'box', part: 1, box: [0, 0.5, 1, 1], cells: 'A5 to H8' }],
    ['1 is c4', { kind: 'box', part: 0, box: [0.25, 0.375, 0.375, 0.5], cells: 'C4' }],
    ['drop 2', { kind: 'drop', part: 1 }],
    ['skip the sky'.replace('sky', 'grass'), { kind: 'drop', part: 1 }],
    ["don't change the grass", { kind: 'drop', part: 1 }],
    ['remove part 1', { kind: 'drop', part: 0 }],
    ['2 is nothing', { kind: 'drop', part: 1 }],
    ['no grass', { kind: 'drop', part: 1 }],
    ['2 is not there', { kind: 'drop', part: 1 }],
    ['no, drop 2', { kind: 'drop', part: 1 }],
    ['go', { kind: 'go' }],
    ['Yes', { kind: 'go' }],
    ['looks good!', { kind: 'go' }],
    ['ok, go', { kind: 'go' }],
    ['LGTM 👍'.replace(' 👍', ''), { kind: 'go' }],
  ];
  it.each(cases)('reads "%s"', (text, fix) => {
    expect(one(text)).toEqual(fix);
  });

  it('reads an edit to add, with or without "also"', () => {
    expect(one('also turn the car into a tank')).toEqual({ kind: 'add', subtasks: [{ source: 'the car', target: 'a tank', grounding: 'car', preserveForm: false }] });
    expect(one('make the sky cloudy')).toEqual({ kind: 'add', subtasks: [{ source: 'the sky', target: 'the cloudy sky', grounding: 'sky', preserveForm: false }] });
  });

  it('reads several fixes, one per line or semicolon', () => {
    expect(read('1 is the left one; drop 2')).toEqual([{ kind: 'pick', part: 0, pick: { by: 'position', position: 'left' } }, { kind: 'drop', part: 1 }]);
  });

  const refused: [string, string, RegExp][] = [
    ['a part the plan does not have', 'drop 5', /^There is no part 5: this edit has 2 parts, 1 · the dog → a tiger, 2 · the grass → the snow\.$/],
    ['a phrase no part has', 'skip the car', /^"the car" is not a part of this edit/],
    ['a position with no part to say which', 'the small one on the left', /^Which part does/],
    ['words that are no fix', 'hello there', /^I could not read "hello there" as a fix\. Reply e\.g\. "1 is the dog on the left"/],
    ['a negation, which the rules leave to a model', 'the pup that is not on the left', /^I could not read "the pup that is not on the left" as a fix/],
    ['fixes and go together', 'drop 2\ngo', /^Send the fixes first/],
  ];
  it.each(refused)('refuses %s, in words for the person', (_what, text, message) => {
    let error: unknown;
    try {
      read(text);
    } catch (caught) {
      error = caught;
    }
    expect(isGasError(error, 'bad_input'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('says which mistakes are a reply it could not read (a model may), and which name a wrong part', () => {
    const kind = (text: string) => {
      try {
        read(text);
        return 'read';
      } catch (error) {
        return fixErrorKind(error);
      }
    };
    expect(kind('hello there')).toBe('unreadable');
    expect(kind('drop 5')).toBe('part');
    expect(kind('also turn')).toBe('add');
  });
});

describe('grid cells', () => {
  it('map the spreadsheet way: columns A–H from the left, rows 1–8 from the top, both corners included, either order', () => {
    expect(gridBox('A1')).toEqual([0, 0, 0.125, 0.125]);
    expect(gridBox('h8')).toEqual([0.875, 0.875, 1, 1]);
    expect(gridBox('B3 to D5')).toEqual([0.125, 0.25, 0.5, 0.625]);
    expect(gridBox('D5 to B3')).toEqual(gridBox('B3 to D5'));
    expect(gridBox('B3 through D5')).toEqual(gridBox('B3 to D5'));
    expect(gridBox('I9')).toBeUndefined();
    expect(gridCells([0.125, 0.25, 0.5, 0.625])).toBe('B3 to D5');
    expect(gridCells([0.25, 0.375, 0.375, 0.5])).toBe('C4');
  });
});

describe('applying a fix', () => {
  it('chooses an instance by position, size or order', () => {
    const three = [RIGHT, MIDDLE_SMALL, LEFT];
    expect(pickInstance(three, { by: 'position', position: 'left' })).toEqual(LEFT);
    expect(pickInstance(three, { by: 'position', position: 'right' })).toEqual(RIGHT);
    expect(pickInstance(three, { by: 'position', position: 'middle' })).toEqual(MIDDLE_SMALL);
    expect(pickInstance(three, { by: 'position', position: 'smallest' })).toEqual(MIDDLE_SMALL);
    expect(pickInstance(three, { by: 'position', position: 'top' })).toEqual(MIDDLE_SMALL);
    expect(pickInstance(three, { by: 'position', position: 'bottom' })).toEqual(RIGHT); // a tie keeps the order found: the first of the lowest
    expect(pickInstance(three, { by: 'position', position: 'biggest' })).toEqual(RIGHT);
    expect(pickInstance(three, { by: 'ordinal', n: 2, from: 'left' })).toEqual(MIDDLE_SMALL);
    expect(pickInstance(three, { by: 'ordinal', n: 1, from: 'right' })).toEqual(RIGHT);
    expect(() => pickInstance(three, { by: 'ordinal', n: 4, from: 'left' })).toThrow(/only 3 to choose from, so there is no fourth from the left/);
  });

  it('keeps every instance found, and edits the one chosen', () => {
    const picked = applyPlainFix(twoDogs(), { kind: 'pick', part: 0, pick: { by: 'position', position: 'right' } });
    expect(picked.regions[0].instances).toEqual([LEFT, RIGHT]);
    expect(picked.regions[0].chosen).toEqual([RIGHT]);
    // A later fix can choose again among all of them.
    expect(applyPlainFix(picked, { kind: 'pick', part: 0, pick: { by: 'position', position: 'left' } }).regions[0].chosen).toEqual([LEFT]);
  });

  it('takes a grid box as the region, given by the person', () => {
    const boxed = applyPlainFix(twoDogs(), { kind: 'box', part: 1, box: [0, 0.5, 1, 1] });
    expect(boxed.regions[1]).toMatchObject({ chosen: [[0, 0.5, 1, 1]], source: 'user' });
  });

  it('drops a part, and the full prompts no longer ask for it', () => {
    const dropped = applyPlainFix({ ...twoDogs(), intensity: [1.5, 0.5] }, { kind: 'drop', part: 1 });
    expect(dropped.plan.subtasks.map((s) => s.source)).toEqual(['the dog']);
    expect(dropped.plan.full).toEqual({ source: 'a photo of the dog', target: 'a photo of a tiger' });
    expect(dropped.regions.map((r) => r.phrase)).toEqual(['dog']);
    expect(dropped.intensity).toEqual([1.5]);
    expect(() => applyPlainFix(dropped, { kind: 'drop', part: 0 })).toThrow(/only part of this edit; press Cancel/);
  });

  it('keeps a written full prompt, saying a dropped part as it is', () => {
    const checked = twoDogs();
    checked.plan = { ...checked.plan, full: { source: 'a dog lying on the grass', target: 'a tiger lying on the snow' } };
    expect(applyPlainFix(checked, { kind: 'drop', part: 1 }).plan.full).toEqual({ source: 'a dog lying on the grass', target: 'a tiger lying on the grass' });
  });

  it('refuses to choose among instances of a part found nowhere, saying what to do instead', () => {
    const checked = twoDogs();
    checked.regions[0] = { ...checked.regions[0], instances: [], chosen: [], scores: undefined };
    expect(() => applyPlainFix(checked, { kind: 'pick', part: 0, pick: { by: 'position', position: 'left' } })).toThrow(
      'Nothing was found for part 1 ("dog") to choose from: reply "1 is …" with what to look for, or a box on the grid such as "1 is B3 to D5".',
    );
  });
});

describe('the plan to edit', () => {
  it('gives each part its chosen boxes and leaves out the parts found nowhere, with their intensities', () => {
    const checked = applyPlainFix({ ...twoDogs(), intensity: [1, 2] }, { kind: 'pick', part: 0, pick: { by: 'position', position: 'left' } });
    expect(planToEdit(checked)).toEqual({
      plan: {
        subtasks: [
          { source: 'the dog', target: 'a tiger', grounding: 'dog', preserveForm: false, boxes: [LEFT] },
          { source: 'the grass', target: 'the snow', grounding: 'grass', preserveForm: false, boxes: [GRASS] },
        ],
        full: checked.plan.full,
      },
      intensity: [1, 2],
    });
    checked.regions[0] = { ...checked.regions[0], chosen: [] };
    const rest = planToEdit(checked)!;
    expect(rest.plan.subtasks.map((s) => s.source)).toEqual(['the grass']);
    expect(rest.plan.full).toEqual({ source: 'a photo of the grass', target: 'a photo of the snow' });
    expect(rest.intensity).toEqual([2]);
    checked.regions[1] = { ...checked.regions[1], chosen: [] };
    expect(planToEdit(checked)).toBeUndefined();
  });
});
