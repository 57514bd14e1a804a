/**
 * Planners turn a person's request (and, for a multimodal LLM, the image) into a Plan.
 * Requests are checked here first, so nothing is sent anywhere for one that cannot be planned.
 */
import { GasError } from '../errors.js';
import type { RgbImage } from '../image/decode.js';
import type { FixContext, PlanFix } from './fix-schema.js';
import type { PlannerName } from './planner-names.js';
import { MAX_SUBTASKS, type Plan } from './schema.js';

export { PLANNERS, type PlannerName } from './planner-names.js';

export const MAX_REQUEST_CHARS = 1000;

export interface PlanRequest {
  /** What the person asked for, as they wrote it. */
  readonly text: string;
  /** The image to edit; a multimodal planner looks at it. */
  readonly image: RgbImage;
}

/** A reply to the check step that the fix rules (fix.ts) could not read, with the plan it is about. */
export interface FixRequest {
  readonly text: string;
  readonly context: FixContext;
}

export interface Planner {
  readonly name: PlannerName;
  plan(request: PlanRequest, signal?: AbortSignal): Promise<Plan>;
  /** Reads a fix the rules could not (a model planner only); throws bad_input, worded for the person, when it cannot either. */
  readFix?(request: FixRequest, signal?: AbortSignal): Promise<PlanFix[]>;
}

// Words that open a new edit, so a clause after "and" or a comma that starts with one is its own edit.
const EDIT_VERB = /^(?:please\s+)?(?:change|turn|make|replace|convert|swap|switch|transform|paint|colou?r)\b/i;
// Verbs whose edit can end in an adjective ("make the sky cloudy"): such a clause is complete without a connector.
const ADJECTIVE_VERB = /^(?:please\s+)?(?:make|turn|paint|colou?r|change|convert|transform)\s+(.*)$/i;
const DETERMINER = /^(?:the|a|an|my|your|his|her|its|our|their|this|that|these|those|every|each|all|both|some)\b/i;
// "should"/"must"/"become" join "the dog should become a tiger" as "into" joins "turn the dog into a tiger".
const CONNECTOR = /\b(?:into|to|with|for|by|becomes?|should|must)\b|→|->|=>/i;
const HARD_SEPARATOR = /\n|;|(?<=[.!?])\s+/;
const SOFT_SEPARATOR = /\s*,\s*(?:(?:and|then|plus)\s+)?(?:(?:then|also)\s+)?|\s+(?:and|then|plus)\s+(?:(?:then|also)\s+)?/gi;
const POLITENESS_ONLY = /^(?:please|thanks|thank you|thx|ty|cheers)[.!?]*$/i;

/**
 * Splits a request into its edit clauses: new lines, semicolons and sentences always split; a comma,
 * "and", "then" or "plus" splits only where the next part starts a new edit (an edit verb, or an
 * article or connector after a complete clause), so "black and white", "salt and pepper" and
 * "a big, fluffy tiger" stay whole.
 */
export function splitEditClauses(text: string): string[] {
  const clauses: string[] = [];
  let verb: string | undefined; // the last edit verb seen, which a bare continuation clause reuses
  for (const piece of text.split(HARD_SEPARATOR)) {
    const separators = [...piece.matchAll(SOFT_SEPARATOR)];
    let start = 0;
    separators.forEach((separator, k) => {
      const at = separator.index ?? 0;
      const next = separators[k + 1]?.index ?? piece.length;
      const before = piece.slice(start, at).trim();
      const after = piece.slice(at + separator[0].length, next).trim();
      const ownVerb = EDIT_VERB.exec(before)?.[0];
      const startsEdit =
        EDIT_VERB.test(after) || (isCompleteClause(before, ownVerb ? undefined : verb) && (DETERMINER.test(after) || CONNECTOR.test(after)));
      if (!startsEdit) return;
      clauses.push(before);
      if (ownVerb) verb = ownVerb;
      start = at + separator[0].length;
    });
    const last = piece.slice(start).trim();
    clauses.push(last);
    verb = EDIT_VERB.exec(last)?.[0] ?? verb;
  }
  return clauses.filter((clause) => /\p{L}/u.test(clause) && !POLITENESS_ONLY.test(clause));
}

/** Whether a clause already names a whole edit: it has a connector, or an adjective verb with a noun and an adjective. */
function isCompleteClause(clause: string, inheritedVerb: string | undefined): boolean {
  if (CONNECTOR.test(clause)) return true;
  const body = ADJECTIVE_VERB.exec(inheritedVerb ? `${inheritedVerb} ${clause}` : clause)?.[1];
  if (body === undefined) return false;
  const words = body.split(/\s+/).filter((word) => word && !DETERMINER.test(word));
  return words.length >= 2;
}

/**
 * Refuses what no planner can use, with its own message: no image, an empty request, one over
 * 1,000 characters, or more than 8 edits. Returns the request text trimmed.
 */
export function checkPlanRequest(request: { text?: string; image?: RgbImage }): string {
  if (!request.image) throw new GasError('bad_input', 'Attach the image to edit: a request needs a photo to work on.');
  return checkRequestText(request.text);
}

/** The text half of `checkPlanRequest`, for a request whose image is already stored (a thread's latest result). */
export function checkRequestText(request: string | undefined): string {
  const text = (request ?? '').trim();
  // Emoji, punctuation or zero-width characters alone say nothing to edit: as good as empty.
  if (!/\p{L}/u.test(text)) {
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
