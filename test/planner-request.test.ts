import { describe, expect, it } from 'vitest';
import { GasError } from '../src/errors.js';
import type { RgbImage } from '../src/image/decode.js';
import { checkPlanRequest, splitEditClauses } from '../src/plan/planner.js';

const image: RgbImage = { data: Buffer.alloc(3), width: 1, height: 1 };

const refusal = (request: { text?: string; image?: RgbImage }): { code: string; message: string } => {
  try {
    checkPlanRequest(request);
  } catch (error) {
    if (error instanceof GasError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('the request was accepted');
};

describe('checkPlanRequest', () => {
  it('asks for the image when there is none', () => {
    expect(refusal({ text: 'turn the dog into a tiger' })).toEqual({
      code: 'bad_input',
      message: 'Attach the image to edit: a request needs a photo to work on.',
    });
  });

  it.each([[''], ['   \n\t '], [undefined]])('asks what to change for the empty request %j', (text) => {
    expect(refusal({ text, image })).toEqual({
      code: 'bad_input',
      message: 'Say what to change, e.g. "turn the dog into a tiger and the grass into snow".',
    });
  });

  it('refuses a request over 1,000 characters, saying how long it is', () => {
    expect(refusal({ text: `make the sky ${'very '.repeat(200)}cloudy`, image })).toEqual({
      code: 'bad_input',
      message: 'The request is 1019 characters long; keep it under 1000.',
    });
  });

  it('accepts exactly 1,000 characters', () => {
    const text = `make the sky ${'x'.repeat(1000 - 'make the sky '.length)}`;
    expect(checkPlanRequest({ text, image })).toBe(text);
  });

  it('refuses more than 8 edits', () => {
    const text = Array.from({ length: 9 }, (_, i) => `thing${i} into stuff${i}`).join(', ');
    expect(refusal({ text, image })).toEqual({
      code: 'bad_input',
      message: 'The request asks for 9 edits; one edit handles at most 8. Split it into several requests.',
    });
  });

  it('accepts 8 edits', () => {
    const text = Array.from({ length: 8 }, (_, i) => `thing${i} into stuff${i}`).join(', ');
    expect(checkPlanRequest({ text, image })).toBe(text);
  });

  it('returns the request trimmed', () => {
    expect(checkPlanRequest({ text: '  turn the dog into a tiger \n', image })).toBe('turn the dog into a tiger');
  });
});

describe('splitEditClauses', () => {
  it.each<[string, string, string[]]>([
    ['commas', 'dog into tiger, grass into snow', ['dog into tiger', 'grass into snow']],
    ['"and" before an article', 'turn the dog into a tiger and the grass into snow', ['turn the dog into a tiger', 'the grass into snow']],
    ['"and" before a verb', 'turn the dog into a tiger and make the sky cloudy', ['turn the dog into a tiger', 'make the sky cloudy']],
    ['"and" before a bare clause with a connector', 'turn the dog into a tiger and grass into snow', ['turn the dog into a tiger', 'grass into snow']],
    ['an Oxford comma', 'a into b, c into d, and e into f', ['a into b', 'c into d', 'e into f']],
    ['semicolons', 'turn the dog into a tiger; make the sky cloudy', ['turn the dog into a tiger', 'make the sky cloudy']],
    ['new lines', 'dog → tiger\ngrass → snow\r\nsky → cloudy', ['dog → tiger', 'grass → snow', 'sky → cloudy']],
    ['sentences', 'Turn the dog into a tiger. Make the sky cloudy! Why not?', ['Turn the dog into a tiger.', 'Make the sky cloudy!', 'Why not?']],
    ['"then"', 'turn the dog into a tiger, then make the sky cloudy', ['turn the dog into a tiger', 'make the sky cloudy']],
    ['"and" after a complete "make" clause', 'make the sky cloudy and the car red', ['make the sky cloudy', 'the car red']],
  ])('splits on %s', (_, text, clauses) => {
    expect(splitEditClauses(text)).toEqual(clauses);
  });

  it.each([
    ['make the photo black and white'],
    ['make the table salt and pepper'],
    ['turn the salt and pepper into sugar'],
    ['turn the salt and the pepper into sugar'],
    ['turn the dog into a big, fluffy tiger'],
    ['turn the photo into black and white'],
  ])('keeps %j whole', (text) => {
    expect(splitEditClauses(text)).toEqual([text]);
  });

  it('splits "black and white" from the next edit only', () => {
    expect(splitEditClauses('make the photo black and white and the sky blue')).toEqual(['make the photo black and white', 'the sky blue']);
  });

  it('drops list numbers and a closing thanks', () => {
    expect(splitEditClauses('1. dog -> tiger\n2. grass -> snow\nThanks!')).toEqual(['dog -> tiger', 'grass -> snow']);
  });
});
