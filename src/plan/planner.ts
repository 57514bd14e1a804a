/**
 * Planners turn a person's request (and, for a multimodal LLM, the image) into a Plan.
 * Requests are checked here first, so nothing is sent anywhere for one that cannot be planned.
 */
import { GasError } from '../errors.js';
import type { RgbImage } from '../image/decode.js';
import { MAX_SUBTASKS, type Plan } from './schema.js';

export const MAX_REQUEST_CHARS = 1000;

export const PLANNERS = ['offline', 'openai'] as const;
export type PlannerName = (typeof PLANNERS)[number];

export interface PlanRequest {
  /** What the person asked for, as they wrote it. */
  readonly text: string;
  /** The image to edit; a multimodal planner looks at it. */
  readonly image: RgbImage;
}

export interface Planner {
  readonly name: PlannerName;
  plan(request: PlanRequest, signal?: AbortSignal): Promise<Plan>;
}

/** Splits a request into its edit clauses: commas, "and", semicolons, new lines, sentences. */
export function splitEditClauses(text: string): string[] {
  return text
    .split(/\n|;|(?<=[.!?])\s+|,\s*(?:and\s+|then\s+)?|\s+(?:and|then|also|plus)\s+(?=(?:also\s+)?(?:turn|make|change|replace|convert|swap|transform|let|put|give|have|set|the|a|an|his|her|its|their|my|every|all)\b)/i)
    .map((clause) => clause.trim())
    .filter((clause) => clause.replace(/[.!?]/g, '').trim().length > 0);
}

/**
 * Refuses what no planner can use, with its own message: no image, an empty request, one over
 * 1,000 characters, or more than 8 edits. Returns the request text trimmed.
 */
export function checkPlanRequest(request: { text?: string; image?: RgbImage }): string {
  if (!request.image) throw new GasError('bad_input', 'Attach the image to edit: a request needs a photo to work on.');
  const text = (request.text ?? '').trim();
  if (text.length === 0) {
    throw new GasError('bad_input', 'Say what to change, e.g. "turn the dog into a tiger and the grass into snow".');
  }
  if (text.length > MAX_REQUEST_CHARS) {
    throw new GasError('bad_input', `The request is ${text.length} characters long; keep it under ${MAX_REQUEST_CHARS}.`);
  }
  const clauses = splitEditClauses(text).length;
  if (clauses > MAX_SUBTASKS) {
    throw new GasError('bad_input', `The request asks for ${clauses} edits; one edit handles at most ${MAX_SUBTASKS}. Split it into several requests.`);
  }
  return text;
}
