/**
 * The fix language of the check step (docs/architecture.md, "The check step"), in one place: what
 * a person replies to correct the regions of a plan before any GPU time, read by rules into typed
 * fixes, and the fixes that need no detector applied to a checked plan. The chat flow, the worker
 * and `gas plan --fix` all use this module, so the language has one implementation.
 *
 *   "1 is the dog on the left", "1: the left dog", "only the left one"   choose among the instances found
 *   "1 is the fence"                                                      look for something else
 *   "2 is B3 to D5"                                                       a box in cells of the masks' grid
 *   "drop 2", "skip the sky"                                              leave a part out
 *   "also turn the car into a tank"                                       add a part
 *   "go", "yes", "looks good"                                             start the edit
 *
 * Messages of the errors are written for the person who typed the fix, like the planners'.
 */
import { GasError, isGasError } from '../errors.js';
import { fixContext, GRID_COLUMNS, GRID_ROWS, INSTANCE_SIDES, INSTANCE_POSITIONS, type CheckedPlan, type CheckRegion, type FixContext, type InstancePick, type PlanFix } from './fix-schema.js';
import { fullPrompts, planFromText } from './offline.js';
import { MAX_SUBTASKS, type Box, type Plan, type Subtask } from './schema.js';

export * from './fix-schema.js';

export const FIX_EXAMPLES = '"1 is the dog on the left", "1 is the fence", "drop 1", "also turn the car into a tank", "1 is B3 to D5" or "go"';

// ── reading ──

const GO_WORDS = new Set([
  'go', 'go ahead', 'go for it', 'yes', 'yep', 'yeah', 'yes go', 'ok', 'okay', 'ok go', 'okay go', 'looks good', 'look good', 'looks great',
  'looks fine', 'looks right', 'all good', 'good', 'fine', 'perfect', 'great', 'lgtm', 'do it', 'start', 'proceed', 'edit', 'edit it', '👍', '✅',
]);
const DROP = /^(?:drop|skip|remove|delete|forget|ignore|leave out|leave|exclude|don'?t (?:change|edit|touch)|do not (?:change|edit|touch)|no)\s+(.+)$/;
const ADD = /^(?:also|add|plus|and|and also|then)\b[\s:,]*(.+)$/;
const EDIT_VERB = /^(?:change|turn|make|replace|convert|swap|switch|transform|paint|colou?r)\b/;
/** "1 is …", "1: …", "#1 = …", "part 1 should be …", "the dog is …". */
const ASSIGN = /^(.+?)\s*(?::|=|->|→|\bis\b|\bare\b|\bshould be\b|\bmeans\b|\bshould mean\b)\s*(.+)$/;
const PART_NUMBER = /^(?:#|no\.?\s*|number\s+|part\s+|region\s+|mask\s+|subtask\s+|edit\s+)?([1-9]\d?)$/;
const GRID_BOX = /^(?:the\s+)?(?:box\s+|cells?\s+|from\s+)?([a-h])\s*([1-8])(?:\s*(?:to|-|–|—|:|through|thru|until|\.\.)\s*([a-h])\s*([1-8]))?$/;
const ORDINALS: Record<string, number> = { first: 1, '1st': 1, second: 2, '2nd': 2, third: 3, '3rd': 3, fourth: 4, '4th': 4, fifth: 5, '5th': 5 };
const POSITION_WORDS: Record<string, (typeof INSTANCE_POSITIONS)[number]> = {
  left: 'left', leftmost: 'left', 'left-most': 'left',
  right: 'right', rightmost: 'right', 'right-most': 'right',
  top: 'top', upper: 'top', topmost: 'top', higher: 'top',
  bottom: 'bottom', lower: 'bottom', bottommost: 'bottom',
  middle: 'middle', center: 'middle', centre: 'middle', central: 'middle',
  biggest: 'biggest', largest: 'biggest', bigger: 'biggest', larger: 'biggest', big: 'biggest', large: 'biggest',
  smallest: 'smallest', smaller: 'smallest', small: 'smallest', little: 'smallest', tiny: 'smallest',
};
/** Words the rules do not read their way around: "the one that is not on the left" is for a model, if any. */
const BEYOND_RULES = /\b(?:not|no|never|except|but|than|besides|other|neither|nor|either|isn't|aren't|don't|without)\b/;

/** The negations the rules read themselves: "don't change 2" and "no sky" (drops), "2 is not there" (a drop too). */
const OWN_NEGATIONS = /^(?:don'?t|do not) (?:change|edit|touch)\b|^no\s|\b(?:not there|no(?:thing)? change)$/g;

/** Words around a position that say nothing of the object: "only the one on the left side". */
const FILLER = new Set(['only', 'just', 'the', 'a', 'an', 'one', 'ones', 'on', 'at', 'in', 'to', 'of', 'from', 'side', 'part', 'that', 'this', 'thing', 'most', 'instance', 'it', 'is']);
const POLITE = /^(?:please|ok|okay|so|no,|now|actually|hmm,?)\s+|[\s,]+(?:please|thanks|thank you|instead)$/;

/** A person's words, lower-case and single-spaced, without quotes, politeness or trailing punctuation. */
function normalise(text: string): string {
  let out = text.toLowerCase().replace(/[“”"`]/g, '').replace(/’/g, "'").replace(/\s+/g, ' ').trim().replace(/[\s.!?,;]+$/, '');
  for (let before = ''; before !== out; ) {
    before = out;
    out = out.replace(POLITE, '').trim();
  }
  return out;
}

/** The subtask a reference names: a number ("1", "#1", "part 1") or a phrase that matches a part ("the dog"). */
function partOf(reference: string, context: FixContext, whole: string): number | undefined {
  const number = PART_NUMBER.exec(reference.trim());
  if (number) {
    const n = Number(number[1]);
    if (n < 1 || n > context.parts.length) throw noSuchPart(n, context);
    return n - 1;
  }
  return partByPhrase(reference, context, whole);
}

/** The part whose phrase a noun names ("the dogs" names "dog"), if exactly one does. */
function partByPhrase(noun: string, context: FixContext, whole: string): number | undefined {
  const key = nounKey(noun);
  if (key === '') return undefined;
  const matches = context.parts.flatMap((part, k) => ([part.phrase, part.source].some((p) => nounKey(p) === key) ? [k] : []));
  if (matches.length > 1) throw new GasError('bad_input', `"${quote(whole)}" could mean part ${matches.map((k) => k + 1).join(' or ')}; say its number, e.g. "${matches[0] + 1} is the left one".`, { fix: 'part' });
  return matches[0];
}

/** A noun phrase as a key: no articles, no plural s ("the dogs" and "dog" match). */
function nounKey(text: string): string {
  return normalise(text)
    .split(' ')
    .filter((w) => w && !['the', 'a', 'an', 'my', 'this', 'that', 'these', 'those', 'all'].includes(w))
    .map((w) => (w.length > 3 && /[^s]s$/.test(w) ? w.slice(0, -1) : w))
    .join(' ');
}

/** A cell pair as a box in 0–1 image coordinates, both cells included: "b3 to d5". */
export function gridBox(text: string): Box | undefined {
  const match = GRID_BOX.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const [c0, r0] = [GRID_COLUMNS.indexOf(match[1].toUpperCase()), Number(match[2]) - 1];
  const [c1, r1] = match[3] ? [GRID_COLUMNS.indexOf(match[3].toUpperCase()), Number(match[4]) - 1] : [c0, r0];
  const cols = GRID_COLUMNS.length;
  return [Math.min(c0, c1) / cols, Math.min(r0, r1) / GRID_ROWS, (Math.max(c0, c1) + 1) / cols, (Math.max(r0, r1) + 1) / GRID_ROWS];
}

/** The cells of a grid box, as people write them: "B3 to D5", or "C4" for one cell. */
export function gridCells(box: Box): string {
  const cols = GRID_COLUMNS.length;
  const cell = (x: number, y: number) => `${GRID_COLUMNS[Math.min(cols - 1, Math.max(0, x))]}${Math.min(GRID_ROWS, Math.max(1, y + 1))}`;
  const [x0, y0] = [Math.round(box[0] * cols), Math.round(box[1] * GRID_ROWS)];
  const [x1, y1] = [Math.round(box[2] * cols) - 1, Math.round(box[3] * GRID_ROWS) - 1];
  const from = cell(x0, y0);
  const to = cell(x1, y1);
  return from === to ? from : `${from} to ${to}`;
}

/** A position in words ("the dog on the left", "the second one from the left"), and the noun left over, if any. */
function readPosition(text: string): { pick: InstancePick; noun: string } | undefined {
  const words = normalise(text).replace(/-/g, ' ').split(' ').filter(Boolean);
  let pick: InstancePick | undefined;
  const used = new Set<number>();
  // "the second (dog) from the left"
  const fromAt = words.findIndex((w, i) => w === 'from' && (words[i + 1] === 'the' ? INSTANCE_SIDES.includes(words[i + 2] as never) : INSTANCE_SIDES.includes(words[i + 1] as never)));
  const ordinalAt = words.findIndex((w) => ORDINALS[w] !== undefined || w === 'last');
  if (ordinalAt >= 0) {
    let side: (typeof INSTANCE_SIDES)[number] = 'left';
    if (fromAt > ordinalAt) {
      const sideAt = words[fromAt + 1] === 'the' ? fromAt + 2 : fromAt + 1;
      side = words[sideAt] as (typeof INSTANCE_SIDES)[number];
      [fromAt, sideAt, fromAt + 1].forEach((i) => used.add(i));
    }
    if (words[ordinalAt] === 'last') pick = { by: 'position', position: side === 'left' ? 'right' : side === 'right' ? 'left' : side === 'top' ? 'bottom' : 'top' };
    else pick = { by: 'ordinal', n: ORDINALS[words[ordinalAt]], from: side };
    used.add(ordinalAt);
  } else {
    const at = words.findIndex((w) => POSITION_WORDS[w] !== undefined);
    if (at < 0) return undefined;
    pick = { by: 'position', position: POSITION_WORDS[words[at]] };
    used.add(at);
  }
  const noun = words.filter((w, i) => !used.has(i) && !FILLER.has(w)).join(' ');
  return { pick, noun };
}

/**
 * Reads one reply into fixes, against the plan as the person sees it. Throws bad_input, in words
 * for them, when it cannot read it or it names a part the plan does not have.
 */
export function readFixes(text: string, context: FixContext): PlanFix[] {
  const pieces = text.split(/\n|;/).map(normalise).filter(Boolean);
  if (pieces.length === 0) throw unreadable(text);
  const fixes = pieces.map((piece) => readOne(piece, context));
  if (fixes.length > 1 && fixes.some((f) => f.kind === 'go')) {
    throw new GasError('bad_input', 'Send the fixes first and "go" on its own once the masks look right.');
  }
  return fixes;
}

function readOne(text: string, context: FixContext): PlanFix {
  if (GO_WORDS.has(text) || /^(?:yes|ok|okay),? (?:go|looks good|do it)$/.test(text)) return { kind: 'go' };
  if (BEYOND_RULES.test(text.replace(OWN_NEGATIONS, ''))) throw unreadable(text);

  const drop = DROP.exec(text);
  if (drop) {
    const part = partOf(drop[1].replace(/^(?:part|region|mask)\s+/, ''), context, text);
    if (part === undefined) throw new GasError('bad_input', `"${quote(drop[1])}" is not a part of this edit; its parts are ${partList(context)}.`, { fix: 'part' });
    return { kind: 'drop', part };
  }

  const add = ADD.exec(text);
  if (add || EDIT_VERB.test(text)) return { kind: 'add', subtasks: plannedParts(add ? add[1] : text) };

  const assign = ASSIGN.exec(text);
  if (assign) {
    const part = partOf(assign[1], context, text);
    if (part !== undefined) return assignment(part, assign[2], context, text);
  }

  // No part named: a grid box or a position applies to the one part it can mean.
  const box = gridBox(text);
  if (box) return { kind: 'box', part: onlyPart(context, text, () => false), box, cells: gridCells(box) };
  const position = readPosition(text);
  if (position) {
    // "the dog on the left": the part that looks for dogs; "only the left one": the part with several instances.
    const byNoun = position.noun ? partByPhrase(position.noun, context, text) : undefined;
    if (byNoun !== undefined) return { kind: 'pick', part: byNoun, pick: position.pick };
    if (position.noun) return { kind: 'ground', part: onlyPart(context, text, () => false), phrase: position.noun, pick: position.pick };
    return { kind: 'pick', part: onlyPart(context, text, (p) => p.instances > 1), pick: position.pick };
  }
  throw unreadable(text);
}

/** "N is <what>": a grid box, a position among N's instances, "nothing", or a new phrase to look for. */
function assignment(part: number, what: string, context: FixContext, whole: string): PlanFix {
  const box = gridBox(what);
  if (box) return { kind: 'box', part, box, cells: gridCells(box) };
  if (/^(?:nothing|none|no(?:thing)? change|not there|skip(?:ped)?|dropped)$/.test(what)) return { kind: 'drop', part };
  const position = readPosition(what);
  if (position) {
    const same = position.noun === '' || [context.parts[part].phrase, context.parts[part].source].some((p) => nounKey(p) === nounKey(position.noun));
    return same ? { kind: 'pick', part, pick: position.pick } : { kind: 'ground', part, phrase: position.noun, pick: position.pick };
  }
  const phrase = what.replace(/^(?:actually|really|rather)\s+/, '').trim();
  if (!/\p{L}/u.test(phrase)) throw unreadable(whole);
  return { kind: 'ground', part, phrase };
}

/** The one part a fix without a number can mean: the only one, or the only one that `fits`. */
function onlyPart(context: FixContext, text: string, fits: (part: FixContext['parts'][number]) => boolean): number {
  if (context.parts.length === 1) return 0;
  const fitting = context.parts.flatMap((part, k) => (fits(part) ? [k] : []));
  if (fitting.length === 1) return fitting[0];
  throw new GasError('bad_input', `Which part does "${quote(text)}" mean? Say its number, e.g. "1 is ${quote(text)}".`, { fix: 'part' });
}

/** "turn the car into a tank" as parts, read by the offline planner's rules. */
function plannedParts(request: string): Subtask[] {
  try {
    return planFromText(request).subtasks;
  } catch (error) {
    throw new GasError('bad_input', `I could not read "${quote(request)}" as an edit to add; write it like "also turn the car into a tank".`, { fix: 'add', cause: (error as Error).message });
  }
}

function noSuchPart(n: number, context: FixContext): GasError {
  const count = context.parts.length;
  return new GasError('bad_input', `There is no part ${n}: this edit has ${count === 1 ? 'one part' : `${count} parts`}, ${partList(context)}.`, { fix: 'part' });
}

function partList(context: FixContext): string {
  return context.parts.map((p, k) => `${k + 1} · ${quote(p.source)} → ${quote(p.target)}`).join(', ');
}

function unreadable(text: string): GasError {
  return new GasError('bad_input', `I could not read "${quote(text)}" as a fix. Reply e.g. ${FIX_EXAMPLES}.`, { fix: 'unreadable' });
}

/** What kind of mistake a fix's error is: the reply could not be read at all, an edit to add could not, or a part it names is wrong. */
export function fixErrorKind(error: unknown): 'unreadable' | 'add' | 'part' | undefined {
  if (!isGasError(error, 'bad_input')) return undefined;
  const kind = error.details?.fix;
  return kind === 'unreadable' || kind === 'add' || kind === 'part' ? kind : undefined;
}

/** The rules could not read the reply at all (a model may). */
export const isUnreadableFix = (error: unknown) => fixErrorKind(error) === 'unreadable';

function quote(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

// ── applying ──

const centre = ([x0, y0, x1, y1]: Box) => [(x0 + x1) / 2, (y0 + y1) / 2] as const;
const area = ([x0, y0, x1, y1]: Box) => (x1 - x0) * (y1 - y0);

/** The instance a pick names, among `instances` (at least one). */
export function pickInstance(instances: readonly Box[], pick: InstancePick): Box {
  const by = (key: (box: Box) => number) => [...instances].sort((a, b) => key(a) - key(b));
  if (pick.by === 'ordinal') {
    const key = { left: (b: Box) => centre(b)[0], right: (b: Box) => -centre(b)[0], top: (b: Box) => centre(b)[1], bottom: (b: Box) => -centre(b)[1] }[pick.from];
    const sorted = by(key);
    if (pick.n > sorted.length) {
      throw new GasError('bad_input', `There ${sorted.length === 1 ? 'is only one' : `are only ${sorted.length}`} to choose from, so there is no ${ordinalWord(pick.n)} from the ${pick.from}.`);
    }
    return sorted[pick.n - 1];
  }
  switch (pick.position) {
    case 'left':
      return by((b) => centre(b)[0])[0];
    case 'right':
      return by((b) => -centre(b)[0])[0];
    case 'top':
      return by((b) => centre(b)[1])[0];
    case 'bottom':
      return by((b) => -centre(b)[1])[0];
    case 'middle':
      return by((b) => Math.hypot(centre(b)[0] - 0.5, centre(b)[1] - 0.5))[0];
    case 'biggest':
      return by((b) => -area(b))[0];
    case 'smallest':
      return by(area)[0];
  }
}

const ordinalWord = (n: number) => ['first', 'second', 'third', 'fourth', 'fifth'][n - 1] ?? `${n}th`;

/** Fixes that need the detector (a new phrase, new parts); the others apply to the plan alone. */
export const needsDetector = (fix: PlanFix) => fix.kind === 'ground' || fix.kind === 'add';

/** Applies a fix that needs no detector: choose an instance, a grid box, drop a part. */
export function applyPlainFix(checked: CheckedPlan, fix: PlanFix): CheckedPlan {
  const parts = checked.plan.subtasks.length;
  if ('part' in fix && fix.part >= parts) throw noSuchPart(fix.part + 1, fixContext(checked));
  switch (fix.kind) {
    case 'go':
      return checked;
    case 'pick': {
      const region = checked.regions[fix.part];
      if (region.instances.length === 0) {
        throw new GasError(
          'bad_input',
          `Nothing was found for part ${fix.part + 1} ("${quote(region.phrase)}") to choose from: reply "${fix.part + 1} is …" with what to look for, or a box on the grid such as "${fix.part + 1} is B3 to D5".`,
        );
      }
      return withRegion(checked, fix.part, { ...region, chosen: [pickInstance(region.instances, fix.pick)] });
    }
    case 'box':
      return withRegion(checked, fix.part, { ...checked.regions[fix.part], chosen: [fix.box], source: 'user' });
    case 'drop': {
      if (parts === 1) throw new GasError('bad_input', 'That is the only part of this edit; press Cancel if nothing should change.', { fix: 'part' });
      return {
        plan: withoutPart(checked.plan, fix.part),
        regions: checked.regions.filter((_, k) => k !== fix.part),
        ...(checked.intensity ? { intensity: checked.intensity.filter((_, k) => k !== fix.part) } : {}),
      };
    }
    case 'ground':
    case 'add':
      throw new GasError('internal', `A ${fix.kind} fix needs the detector.`);
  }
}

function withRegion(checked: CheckedPlan, part: number, region: CheckRegion): CheckedPlan {
  return { ...checked, regions: checked.regions.map((r, k) => (k === part ? region : r)) };
}

/** The plan with part `part` looking for `phrase` instead: its source phrase becomes what the person named. */
export function withPhrase(plan: Plan, part: number, phrase: string): Plan {
  const old = plan.subtasks[part];
  const source = /^(?:the|a|an|my|this|that|these|those)\s/.test(phrase) ? phrase : `the ${phrase}`;
  const grounding = phrase.replace(/^(?:the|a|an|my|this|that|these|those)\s+/, '');
  const subtasks = plan.subtasks.map((s, k) => (k === part ? { ...s, source, grounding } : s));
  const full = isOfflineFull(plan) ? fullPrompts(subtasks) : { source: replaceFirst(plan.full.source, old.source, source), target: plan.full.target };
  return { subtasks, full };
}

/** The plan without one part; its full prompts no longer ask for what that part became. */
export function withoutPart(plan: Plan, part: number): Plan {
  return { subtasks: plan.subtasks.filter((_, k) => k !== part), full: fullAfterDrop(plan, part) };
}

/** The plan with parts added at the end. */
export function withParts(plan: Plan, added: readonly Subtask[]): Plan {
  const subtasks = [...plan.subtasks, ...added];
  if (subtasks.length > MAX_SUBTASKS) throw new GasError('bad_input', `An edit has at most ${MAX_SUBTASKS} parts; this would make ${subtasks.length}.`);
  const duplicate = added.find((a) => plan.subtasks.some((s) => nounKey(s.grounding ?? s.source) === nounKey(a.grounding ?? a.source)));
  if (duplicate) throw new GasError('bad_input', `"${quote(duplicate.source)}" is already a part of this edit; reply "N is …" to change it.`);
  const full = isOfflineFull(plan)
    ? fullPrompts(subtasks)
    : { source: `${plan.full.source}, with ${added.map((s) => s.source).join(' and ')}`, target: `${plan.full.target}, with ${added.map((s) => s.target).join(' and ')}` };
  return { subtasks, full };
}

/** The full prompts without part `part`: rebuilt for an offline plan; else the dropped target said as its source again. */
function fullAfterDrop(plan: Plan, part: number): Plan['full'] {
  const rest = plan.subtasks.filter((_, k) => k !== part);
  if (isOfflineFull(plan)) return fullPrompts(rest);
  const dropped = plan.subtasks[part];
  return { source: plan.full.source, target: replaceFirst(plan.full.target, dropped.target, dropped.source) };
}

/** Whether the plan's full prompts are the offline planner's own ("a photo of A and B"), which can be rebuilt. */
function isOfflineFull(plan: Plan): boolean {
  const rebuilt = fullPrompts(plan.subtasks);
  return rebuilt.source === plan.full.source && rebuilt.target === plan.full.target;
}

function replaceFirst(text: string, what: string, by: string): string {
  const at = text.indexOf(what);
  return at < 0 ? text : `${text.slice(0, at)}${by}${text.slice(at + what.length)}`;
}

/**
 * The plan to edit once the person says go: each part with its chosen boxes; parts found nowhere
 * are left out ("Go edits the rest"). Undefined when no part has a region.
 */
export function planToEdit(checked: CheckedPlan): { plan: Plan; intensity?: number[] } | undefined {
  const kept = checked.plan.subtasks.flatMap((_, k) => ((checked.regions[k]?.chosen.length ?? 0) > 0 ? [k] : []));
  if (kept.length === 0) return undefined;
  // Parts left out leave the full prompts too, as a drop would; dropped from the end, so earlier numbers hold.
  let current: Plan = checked.plan;
  for (let k = checked.plan.subtasks.length - 1; k >= 0; k--) {
    if (!kept.includes(k)) current = { subtasks: current.subtasks.filter((_, i) => i !== k), full: fullAfterDrop(current, k) };
  }
  const subtasks = kept.map((k) => {
    const { box: _box, boxes: _boxes, ...rest } = checked.plan.subtasks[k];
    return { ...rest, boxes: [...checked.regions[k].chosen] };
  });
  const intensity = checked.intensity ? kept.map((k) => checked.intensity![k]) : undefined;
  return { plan: { subtasks, full: current.full }, ...(intensity ? { intensity } : {}) };
}
