/**
 * A reply to a check that the fix rules cannot read, read by the OpenAI-compatible planner through
 * the real `openai` SDK against the fake server: only the reply and the numbered parts are sent,
 * the answer is strict structured output, and what it says is checked against the plan.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGasError } from '../src/errors.js';
import type { FixContext } from '../src/plan/fix.js';
import { openAIPlanner } from '../src/plan/openai.js';
import { chatCompletion, startFakeOpenAI, type FakeOpenAI } from './helpers/fake-openai.js';

const API_KEY = 'sk-test-0123456789-DO-NOT-LEAK';
const CONTEXT: FixContext = {
  parts: [
    { source: 'the dog', target: 'a tiger', phrase: 'dog', instances: 2 },
    { source: 'the grass', target: 'the snow', phrase: 'grass', instances: 1 },
  ],
};
const nulls = { part: null, position: null, ordinal: null, from: null, phrase: null, cells: null, source: null, target: null };

let fake: FakeOpenAI;
beforeEach(async () => {
  fake = await startFakeOpenAI();
});
afterEach(async () => {
  await fake.close();
});

const planner = () => openAIPlanner({ apiKey: API_KEY, baseURL: fake.baseURL, maxRetries: 0 });

describe('openAIPlanner.readFix', () => {
  it('reads the fixes the model found, asking for the strict plan_fixes schema with the parts numbered', async () => {
    fake.reply({
      body: chatCompletion(JSON.stringify({
        fixes: [
          { ...nulls, kind: 'pick', part: 1, ordinal: 2, from: 'right' },
          { ...nulls, kind: 'box', part: 2, cells: 'A7 to H8' },
          { ...nulls, kind: 'add', source: 'the sky', target: 'a starry night' },
        ],
      })),
    });
    const fixes = await planner().readFix!({ text: 'the pup that is not rightmost, only the lowest strip of lawn, and put stars in the sky', context: CONTEXT });
    expect(fixes).toEqual([
      { kind: 'pick', part: 0, pick: { by: 'ordinal', n: 2, from: 'right' } },
      { kind: 'box', part: 1, box: [0, 0.75, 1, 1] },
      { kind: 'add', subtasks: [{ source: 'the sky', target: 'a starry night', grounding: 'sky', preserveForm: false }] },
    ]);
    const [sent] = fake.requests;
    expect(sent.body.response_format.json_schema).toMatchObject({ name: 'plan_fixes', strict: true });
    expect(sent.body.messages[1].content).toBe(
      'The parts:\n1 · the dog → a tiger (found in 2 places)\n2 · the grass → the snow (found in 1 place)\n\nThe reply:\nthe pup that is not rightmost, only the lowest strip of lawn, and put stars in the sky',
    );
    expect(sent.raw).not.toContain(API_KEY);
  });

  it('refuses, as unreadable, an answer that is unclear or names a part the plan lacks', async () => {
    fake.reply({ body: chatCompletion(JSON.stringify({ fixes: [{ ...nulls, kind: 'unclear' }] })) }, { body: chatCompletion(JSON.stringify({ fixes: [{ ...nulls, kind: 'drop', part: 3 }] })) });
    for (let i = 0; i < 2; i++) {
      const error = await planner().readFix!({ text: 'whatever', context: CONTEXT }).catch((e: unknown) => e);
      expect(isGasError(error, 'bad_input'), String(error)).toBe(true);
      expect((error as Error).message).toBe('I could not read "whatever" as a fix, nor could the planner.');
    }
  });
});
