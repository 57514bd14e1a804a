/**
 * What the multimodal planner is told: the planning rules of Ground-A-Score (docs/algorithm.md
 * §1), in our own words. Prompt text lives here only, so it can be read and tuned apart
 * from the transport in openai.ts.
 */
import { MAX_SUBTASKS } from './schema.js';

/** The answer's shape, shown to the model in both modes (structured output enforces it; text mode relies on it). */
const ANSWER_SHAPE = `{
  "subtasks": [
    { "source": "a dog", "target": "a tiger", "grounding": "dog", "box": [0.12, 0.40, 0.55, 0.95] },
    { "source": "the grass", "target": "the snow", "grounding": "grass", "box": null }
  ],
  "full": { "source": "a dog lying on the grass", "target": "a tiger lying on the snow" }
}`;

export interface InstructionOptions {
  /** The server cannot constrain the output to a schema, so the prompt must ask for bare JSON. */
  readonly jsonOnly: boolean;
}

/** The system prompt. */
export function plannerInstructions(options: InstructionOptions): string {
  const lines = [
    'You plan image edits. You receive a photo and a request that may change several objects at once.',
    'Turn the request into an edit plan: one subtask per edited object, plus a description of the whole scene before and after.',
    '',
    'Subtasks:',
    `- One subtask for each object the request changes, in the order the request mentions them; at most ${MAX_SUBTASKS}. Add no edits the request does not ask for.`,
    '- "source" is the object as it is now and "target" what it becomes, as short phrases in the same form: "a dog" -> "a tiger", "the grass" -> "the snow".',
    '- When the request treats closely related objects as one thing, keep them together in a single subtask whose phrases name them together, e.g. "the dog on the grass" -> "the cat on the grass".',
    '- For a drastic change of material, put the material into the target phrase with the object: "a car" -> "a car made of Lego", never just "Lego".',
    '- "grounding" is a short noun phrase an object detector can find in the photo as it is now: the object\'s name, with at most a colour or a position word ("dog", "red car", "left window"). Never the target.',
    '- "box" is where you see the object: [x0, y0, x1, y1] as fractions of the image width and height (0 is the left/top edge, 1 the right/bottom edge), with x0 < x1 and y0 < y1. Use null when you cannot see the object or are unsure.',
    '',
    'Whole scene ("full"):',
    '- "full.source" is one sentence describing the whole photo as it is, mentioning every edited object and how they relate to each other and to the scene.',
    '- "full.target" is the same sentence after the edit: only the edited objects change, their relations stay.',
    '',
    'Write every phrase in English, even when the request is in another language.',
    '',
    'The answer has exactly this shape:',
    ANSWER_SHAPE,
  ];
  if (options.jsonOnly) {
    lines.push('', 'Answer with only the JSON object: no explanation, no code fence.');
  }
  return lines.join('\n');
}

/** The user turn that carries the request; the image travels next to it as its own content part. */
export function requestMessage(text: string): string {
  return `Edit request:\n${text}`;
}

/** The follow-up turn of the single repair round-trip; `problem` names the offending field. */
export function repairMessage(problem: string, jsonOnly: boolean): string {
  return [
    `That answer cannot be used: ${problem}`,
    'Send the corrected plan as the whole JSON object, following the rules above.',
    ...(jsonOnly ? ['Answer with only the JSON object.'] : []),
  ].join('\n');
}

/** The fixes' answer shape, shown to the model in both modes. */
const FIX_ANSWER_SHAPE = `{
  "fixes": [
    { "kind": "pick", "part": 1, "position": "left", "ordinal": null, "from": null, "phrase": null, "cells": null, "source": null, "target": null }
  ]
}`;

/**
 * The system prompt for reading a reply to the check step (src/plan/fix.ts): the person looks at
 * the numbered masks of a plan and says how to correct them.
 */
export function fixInstructions(options: InstructionOptions): string {
  const lines = [
    'A person checks the regions an image editor found for the parts of an edit, before it edits. Each part has a number, what it is now and what it becomes, and how many places it was found in.',
    'Read their reply as a list of fixes, in the order they say them. Each fix has a "kind":',
    '- "go": the regions look right; start the edit ("yes", "looks good", "go ahead").',
    '- "pick": edit only one of the places a part was found. "part" is its number; "position" is one of left, right, top, bottom, middle, biggest, smallest; or "ordinal" (1 = first) with "from" (left, right, top, bottom).',
    '- "ground": look for something else for a part: "part" is its number and "phrase" a short noun phrase a detector can find ("fence", "the red car"); a "position" or "ordinal"/"from" may narrow it to one of the places found.',
    '- "box": a part is a rectangle of the grid drawn on the image, columns A–H from the left and rows 1–8 from the top: "cells" is "B3 to D5" (both corners included) or one cell "C4".',
    '- "drop": leave a part out: "part" is its number.',
    '- "add": a new part: "source" is the object as it is now and "target" what it becomes, as short phrases ("the car" -> "a tank").',
    '- "unclear": the reply says nothing you can map to the fixes above.',
    'Use null for every field a fix does not need. Never invent parts the reply does not name; a part named by what it is ("the dog") is the part whose phrase says so.',
    '',
    'The answer has exactly this shape:',
    FIX_ANSWER_SHAPE,
  ];
  if (options.jsonOnly) lines.push('', 'Answer with only the JSON object: no explanation, no code fence.');
  return lines.join('\n');
}

/** The user turn of a fix: the parts as the person sees them, then their reply. */
export function fixMessage(parts: ReadonlyArray<{ source: string; target: string; instances: number }>, reply: string): string {
  const numbered = parts.map((part, k) => `${k + 1} · ${part.source} → ${part.target} (found in ${part.instances} place${part.instances === 1 ? '' : 's'})`);
  return ['The parts:', ...numbered, '', 'The reply:', reply].join('\n');
}
