import { describe, expect, it } from 'vitest';
import { isGasError } from '../src/errors.js';
import type { RgbImage } from '../src/image/decode.js';
import { offlinePlanner, planFromText } from '../src/plan/offline.js';

/** [source, target, grounding] per subtask. */
type Triple = [string, string, string];

const triples = (text: string): Triple[] => planFromText(text).subtasks.map((subtask) => [subtask.source, subtask.target, subtask.grounding ?? '']);

const PHRASINGS: [string, Triple[]][] = [
  // verb A into/to/with B
  ['turn the dog into a tiger', [['the dog', 'a tiger', 'dog']]],
  ['change the car to a bus', [['the car', 'a bus', 'car']]],
  ['convert the grass into snow', [['the grass', 'the snow', 'grass']]],
  ['transform the cat into a lion', [['the cat', 'a lion', 'cat']]],
  ['change the wall with a window', [['the wall', 'a window', 'wall']]],
  ['replace the dog with a cat', [['the dog', 'a cat', 'dog']]],
  ['replace the grass by sand', [['the grass', 'the sand', 'grass']]],
  ['swap the dog for a cat', [['the dog', 'a cat', 'dog']]],
  ['swap out the dog with a fox', [['the dog', 'a fox', 'dog']]],
  ['turn the man with a hat into a woman', [['the man with a hat', 'a woman', 'man with a hat']]],
  // arrows
  ['dog → tiger', [['the dog', 'a tiger', 'dog']]],
  ['the car -> a bus', [['the car', 'a bus', 'car']]],
  ['grass => snow', [['the grass', 'the snow', 'grass']]],
  ['dog → tiger, grass → snow, sky → cloudy', [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass'], ['the sky', 'the cloudy sky', 'sky']]],
  ['- dog -> tiger\n- grass -> snow', [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass']]],
  ['1. dog => tiger\n2. car => bus', [['the dog', 'a tiger', 'dog'], ['the car', 'a bus', 'car']]],
  // make
  ['make the sky cloudy', [['the sky', 'the cloudy sky', 'sky']]],
  ['make the car red', [['the car', 'the red car', 'car']]],
  ['make the car bright red', [['the car', 'the bright red car', 'car']]],
  ['make the red car blue', [['the red car', 'the blue car', 'red car']]],
  ['make a car orange', [['a car', 'an orange car', 'car']]],
  ['make the photo black and white', [['the photo', 'the black and white photo', 'photo']]],
  ['make the table salt and pepper', [['the table', 'the salt and pepper table', 'table']]],
  ['make the dog a tiger', [['the dog', 'a tiger', 'dog']]],
  ['make an apple a pear', [['an apple', 'a pear', 'apple']]],
  ['make the dog into a tiger', [['the dog', 'a tiger', 'dog']]],
  ['make the dog look like a tiger', [['the dog', 'a tiger', 'dog']]],
  ['make the sky look stormy', [['the sky', 'the stormy sky', 'sky']]],
  ['make the sky a bit cloudier', [['the sky', 'the cloudier sky', 'sky']]],
  // adjectives after other verbs
  ['turn the sky dark', [['the sky', 'the dark sky', 'sky']]],
  ['change the sky to cloudy', [['the sky', 'the cloudy sky', 'sky']]],
  ['change the car colour to green', [['the car', 'the green car', 'car']]],
  ['convert the photo to black and white', [['the photo', 'the black and white photo', 'photo']]],
  ['paint the fence blue', [['the fence', 'the blue fence', 'fence']]],
  // articles, possessives, plurals, a/an
  ['turn dog into tiger', [['the dog', 'a tiger', 'dog']]],
  ['turn a dog into a tiger', [['a dog', 'a tiger', 'dog']]],
  ['turn my dog into a tiger', [['my dog', 'a tiger', 'dog']]],
  ['turn his hat into a crown', [['his hat', 'a crown', 'hat']]],
  ['turn my lawn into sand', [['my lawn', 'my sand', 'lawn']]],
  ['turn a puddle into ice', [['a puddle', 'the ice', 'puddle']]],
  ['turn the dogs into tigers', [['the dogs', 'the tigers', 'dogs']]],
  ['turn all the dogs into cats', [['all the dogs', 'all the cats', 'dogs']]],
  ['turn the dog into elephant', [['the dog', 'an elephant', 'dog']]],
  ['turn the horse into unicorn', [['the horse', 'a unicorn', 'horse']]],
  ["turn the man's hat into a crown", [["the man's hat", 'a crown', "man's hat"]]],
  ['turn the salt and pepper into sugar', [['the salt and pepper', 'the sugar', 'salt and pepper']]],
  ['turn the dog into a big, fluffy tiger', [['the dog', 'a big, fluffy tiger', 'dog']]],
  // capitals, spaces, punctuation, politeness
  ['Turn The Dog Into A Tiger.', [['the dog', 'a tiger', 'dog']]],
  ['  turn   the dog   into a  tiger  !!', [['the dog', 'a tiger', 'dog']]],
  ['Could you please turn the dog into a tiger, thanks', [['the dog', 'a tiger', 'dog']]],
  ['Turn the dog into a tiger. Thanks!', [['the dog', 'a tiger', 'dog']]],
  ['I want the dog to be a tiger', [['the dog', 'a tiger', 'dog']]],
  ['Turn "the dog" into "a tiger"', [['the dog', 'a tiger', 'dog']]],
  // several edits: continuation clauses, lists, sentences, new lines
  [
    'turn the dog into a tiger, the grass into snow and make the sky cloudy',
    [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass'], ['the sky', 'the cloudy sky', 'sky']],
  ],
  [
    'turn the dog into a tiger, the grass into snow and the car into a Lego car',
    [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass'], ['the car', 'a lego car', 'car']],
  ],
  [
    'Turn the dog into a tiger, the grass into snow, and the car into a Lego car.',
    [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass'], ['the car', 'a lego car', 'car']],
  ],
  ['turn the dog into a tiger and grass into snow', [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass']]],
  ['replace the sky with a sunset and the grass with snow', [['the sky', 'a sunset', 'sky'], ['the grass', 'the snow', 'grass']]],
  [
    'make the sky cloudy, the car red and the grass white',
    [['the sky', 'the cloudy sky', 'sky'], ['the car', 'the red car', 'car'], ['the grass', 'the white grass', 'grass']],
  ],
  [
    'make the photo black and white and the sky blue',
    [['the photo', 'the black and white photo', 'photo'], ['the sky', 'the blue sky', 'sky']],
  ],
  ['turn the dog into a tiger, then make the sky cloudy', [['the dog', 'a tiger', 'dog'], ['the sky', 'the cloudy sky', 'sky']]],
  [
    'turn the dog into a tiger; the cat into a lion; the car into a bus',
    [['the dog', 'a tiger', 'dog'], ['the cat', 'a lion', 'cat'], ['the car', 'a bus', 'car']],
  ],
  [
    'Turn the dog into a tiger. Make the sky cloudy! Replace the grass with sand.',
    [['the dog', 'a tiger', 'dog'], ['the sky', 'the cloudy sky', 'sky'], ['the grass', 'the sand', 'grass']],
  ],
  ['turn the dog into a tiger\nthe grass into snow\n', [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass']]],
  [
    'turn the cat into a unicorn and the apple into an orange and make the car yellow and the dog a wolf',
    [['the cat', 'a unicorn', 'cat'], ['the apple', 'an orange', 'apple'], ['the car', 'the yellow car', 'car'], ['the dog', 'a wolf', 'dog']],
  ],
  [
    'turn the dog into a tiger, the cat into a lion, the car into a bus, the grass into snow and the sky into fire',
    [
      ['the dog', 'a tiger', 'dog'],
      ['the cat', 'a lion', 'cat'],
      ['the car', 'a bus', 'car'],
      ['the grass', 'the snow', 'grass'],
      ['the sky', 'the fire', 'sky'],
    ],
  ],
  // only the first clause has the verb
  [
    'make the house a castle, the road a river and the trees palm trees',
    [['the house', 'a castle', 'house'], ['the road', 'a river', 'road'], ['the trees', 'the palm trees', 'trees']],
  ],
  ['make the trees palm trees', [['the trees', 'the palm trees', 'trees']]],
  ['make the cats dogs', [['the cats', 'the dogs', 'cats']]],
  ['make the red car police cars', [['the red car', 'the police cars', 'red car']]],
  ['make the sky cloudy and the trees palm trees', [['the sky', 'the cloudy sky', 'sky'], ['the trees', 'the palm trees', 'trees']]],
  ['make my house a castle and my trees palm trees', [['my house', 'a castle', 'house'], ['my trees', 'my palm trees', 'trees']]],
  ['make the dog a tiger and the cat a lion', [['the dog', 'a tiger', 'dog'], ['the cat', 'a lion', 'cat']]],
  [
    'make the sky cloudy, the grass snowy and the car a bus',
    [['the sky', 'the cloudy sky', 'sky'], ['the grass', 'the snowy grass', 'grass'], ['the car', 'a bus', 'car']],
  ],
  [
    'replace the dog with a cat, the grass with sand and the car with a bus',
    [['the dog', 'a cat', 'dog'], ['the grass', 'the sand', 'grass'], ['the car', 'a bus', 'car']],
  ],
  [
    'paint the fence blue, the door red and the roof green',
    [['the fence', 'the blue fence', 'fence'], ['the door', 'the red door', 'door'], ['the roof', 'the green roof', 'roof']],
  ],
  ['turn the dog into a tiger and the cat a lion', [['the dog', 'a tiger', 'dog'], ['the cat', 'a lion', 'cat']]],
  // "X should become Y", "I want X to be Y" and their kin
  ['the dog should become a tiger', [['the dog', 'a tiger', 'dog']]],
  ['the sky should be cloudy', [['the sky', 'the cloudy sky', 'sky']]],
  ['the car should be red', [['the car', 'the red car', 'car']]],
  ['the grass should turn into snow', [['the grass', 'the snow', 'grass']]],
  ['the dog should look like a tiger', [['the dog', 'a tiger', 'dog']]],
  ['the sky must be stormy', [['the sky', 'the stormy sky', 'sky']]],
  ['the sky has to be blue', [['the sky', 'the blue sky', 'sky']]],
  ['the dog needs to be a tiger', [['the dog', 'a tiger', 'dog']]],
  ['the dog becomes a tiger', [['the dog', 'a tiger', 'dog']]],
  ['let the dog be a tiger', [['the dog', 'a tiger', 'dog']]],
  ['can the dog be a tiger?', [['the dog', 'a tiger', 'dog']]],
  [
    'The dog should become a tiger, the grass should turn into snow.',
    [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass']],
  ],
  ['the dog should become a tiger and the grass should become snow', [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass']]],
  ["I'd like the sky to be cloudy", [['the sky', 'the cloudy sky', 'sky']]],
  ['I want the car to be red', [['the car', 'the red car', 'car']]],
  ['I want the dog to become a tiger', [['the dog', 'a tiger', 'dog']]],
  ['I want the dog to turn into a tiger', [['the dog', 'a tiger', 'dog']]],
  ["I'd like the grass to look like snow", [['the grass', 'the snow', 'grass']]],
  ['I want the dog to be a tiger and the grass to be snow', [['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass']]],
  ['I would like the car to be blue and the sky to be cloudy', [['the car', 'the blue car', 'car'], ['the sky', 'the cloudy sky', 'sky']]],
];

describe('offline planner phrasings', () => {
  it('covers at least 90 phrasings', () => {
    expect(PHRASINGS.length).toBeGreaterThanOrEqual(90);
  });

  it.each(PHRASINGS)('plans %j', (text, expected) => {
    expect(triples(text)).toEqual(expected);
  });
});

describe('offline planner full prompts and subtask fields', () => {
  it('writes the issue example exactly: "a photo of" and the phrases joined with commas and a final "and"', () => {
    const plan = planFromText('turn the dog into a tiger, the grass into snow and make the sky cloudy');
    expect(plan.full).toEqual({ source: 'a photo of the dog, the grass and the sky', target: 'a photo of a tiger, the snow and the cloudy sky' });
  });

  it.each([
    ['make the sky cloudy', 'a photo of the sky', 'a photo of the cloudy sky'],
    ['dog → tiger, grass → snow', 'a photo of the dog and the grass', 'a photo of a tiger and the snow'],
    ['turn my dog into an elephant', 'a photo of my dog', 'a photo of an elephant'],
    [
      'turn the dog into a tiger, the cat into a lion, the car into a bus and the grass into snow',
      'a photo of the dog, the cat, the car and the grass',
      'a photo of a tiger, a lion, a bus and the snow',
    ],
  ])('writes the full prompts of %j', (text, source, target) => {
    expect(planFromText(text).full).toEqual({ source, target });
  });

  it('keeps the form free and leaves boxes to the detector', () => {
    expect(planFromText('turn the dog into a tiger').subtasks).toEqual([
      { source: 'the dog', target: 'a tiger', grounding: 'dog', preserveForm: false },
    ]);
  });
});

describe('offline planner refusals', () => {
  const refusal = (text: string): { code?: string; message: string } => {
    try {
      planFromText(text);
    } catch (error) {
      if (isGasError(error)) return { code: error.code, message: error.message };
      throw error;
    }
    throw new Error(`planned ${JSON.stringify(text)}`);
  };

  it('answers a request with no edit in it with two examples it understands', () => {
    expect(refusal('hello there, nice photo')).toEqual({
      code: 'bad_plan',
      message:
        'I could not find an edit in "hello there, nice photo". Try e.g. "turn the dog into a tiger and the grass into snow" or "make the sky cloudy".',
    });
  });

  it('refuses a pronoun it cannot ground with the same examples', () => {
    expect(refusal('make it cloudy').message).toBe(
      'I could not find an edit in "make it cloudy". Try e.g. "turn the dog into a tiger and the grass into snow" or "make the sky cloudy".',
    );
  });

  it('names the clause it could not read instead of dropping it', () => {
    expect(refusal('turn the dog into a tiger. I love it!')).toEqual({
      code: 'bad_plan',
      message: 'I could not understand "I love it" in your request. Write each edit like "turn the dog into a tiger" or "make the sky cloudy".',
    });
  });

  it('names every unreadable clause', () => {
    expect(refusal('turn the dog into a tiger\nwow\nso cool').message).toBe(
      'I could not understand "wow" and "so cool" in your request. Write each edit like "turn the dog into a tiger" or "make the sky cloudy".',
    );
  });

  it('refuses two edits of the same object', () => {
    expect(refusal('turn the dog into a tiger and the dog into a lion')).toEqual({
      code: 'bad_plan',
      message: 'The request changes "the dog" twice; say once what it should become.',
    });
  });

  it('names a target over 300 characters in words a person understands, not by its plan field', () => {
    const text = `turn the dog into a ${'very '.repeat(190)}big tiger`;
    expect(refusal(text)).toEqual({
      code: 'bad_input',
      message: `"a ${'very '.repeat(15)}ve…" is 961 characters long; describe each thing in at most 300.`,
    });
  });

  it('refuses edits whose descriptions together overflow the full prompt', () => {
    const target = `a ${'striped '.repeat(20)}tiger`;
    const message = refusal(`turn the dog into ${target}, the cat into ${target}`).message;
    expect(message).toBe('Together the edits make a 350-character description of the photo; keep it to 300 by shortening what each thing becomes.');
  });

  it('shortens a long request in the message', () => {
    const message = refusal(`hello ${'x'.repeat(200)}`).message;
    expect(message).toContain(`"hello ${'x'.repeat(73)}…"`);
  });
});

describe('offlinePlanner', () => {
  const image: RgbImage = { data: Buffer.alloc(3), width: 1, height: 1 };

  it('checks the request, then plans its trimmed text', async () => {
    expect(offlinePlanner.name).toBe('offline');
    const plan = await offlinePlanner.plan({ text: '  make the sky cloudy  ', image });
    expect(plan.subtasks).toEqual([{ source: 'the sky', target: 'the cloudy sky', grounding: 'sky', preserveForm: false }]);
  });

  it('gives the bad_input error for more than 8 edits, before planning', async () => {
    const text = Array.from({ length: 9 }, (_, i) => `thing${i} into stuff${i}`).join(', ');
    await expect(offlinePlanner.plan({ text, image })).rejects.toMatchObject({
      code: 'bad_input',
      message: 'The request asks for 9 edits; one edit handles at most 8. Split it into several requests.',
    });
  });

  it('gives the bad_plan error for a request with no edit', async () => {
    await expect(offlinePlanner.plan({ text: 'nice', image })).rejects.toMatchObject({ code: 'bad_plan' });
  });

  it('stops when the signal is already aborted', async () => {
    await expect(offlinePlanner.plan({ text: 'make the sky cloudy', image }, AbortSignal.abort())).rejects.toMatchObject({ code: 'cancelled' });
  });
});
