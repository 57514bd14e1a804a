/**
 * The offline planner: turns the ways people phrase edits ("turn the dog into a tiger, the grass
 * into snow and make the sky cloudy") into a Plan with rules, no model and no network. It is the
 * default when no OpenAI key is set, so its phrasing coverage is what most users meet.
 */
import { GasError } from '../errors.js';
import { checkPlanRequest, splitEditClauses, type Planner } from './planner.js';
import { MAX_PHRASE_CHARS, parsePlan, type Plan, type Subtask } from './schema.js';

/** How each edit verb is read: which connectors split source from target, and whether it takes an adjective. */
type VerbFamily = 'change' | 'make' | 'replace' | 'swap' | 'paint';

const VERB_FAMILIES: Record<string, VerbFamily> = {
  change: 'change',
  turn: 'change',
  convert: 'change',
  transform: 'change',
  make: 'make',
  replace: 'replace',
  swap: 'swap',
  switch: 'swap',
  paint: 'paint',
  colour: 'paint',
  color: 'paint',
};

/** Connectors per family, most specific first: "turn the man with a hat into a woman" splits at "into". */
const CONNECTORS: Record<VerbFamily, readonly string[]> = {
  change: ['into', 'to', 'with'],
  make: ['into'],
  replace: ['with', 'by'],
  swap: ['for', 'with'],
  paint: [],
};

// A clause with no verb and none to carry over is still an edit when it reads "dog into tiger".
const VERBLESS_CONNECTORS = ['into', 'to'] as const;

const ARROW = /\s*(?:→|->|=>|⇒|➔)\s*/;

// "the dog should become a tiger", "the sky must be cloudy", "let the dog be a tiger", "the dog becomes a
// tiger", "(I want) the dog to turn into a tiger": the subject is the source, what follows the verb the target.
// Bare "be"/"look" need a modal or "let", so a remark such as "the photo looks great" is not read as an edit.
const BECOME_VERB = '(?:be (?:turned|changed|made) into|be (?:turned|changed|made)|become|turn into|change into|turn|look like|look|be)';
const BECOME = [
  new RegExp(`^(.+?) (?:should|must|could|would|will|shall|can|may|needs? to|has to|have to|ought to|is to|are to) ${BECOME_VERB} (.+)$`),
  new RegExp(`^(?:let|can|could|would) (.+?) (?:be|become|turn into|look like) (.+)$`),
  /^(.+?) (?:becomes|turns into|changes into|to (?:become|turn into|change into|look like)) (.+)$/,
];

const DETERMINERS = new Set([
  'the', 'a', 'an', 'my', 'your', 'his', 'her', 'its', 'our', 'their', 'this', 'that', 'these', 'those',
  'every', 'each', 'all', 'both', 'some', 'another',
]);
const NUMERALS = /^(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)$/;
const PRONOUNS = new Set(['it', 'them', 'him', 'me', 'us', 'you', 'everything', 'something', 'anything', 'one', 'ones']);

/** Nouns that take "the" rather than "a" when written bare: "the grass into snow" → "the snow". */
const MASS_NOUNS = new Set([
  'grass', 'snow', 'water', 'sand', 'sky', 'ice', 'fire', 'wood', 'rain', 'fog', 'mist', 'smoke', 'lava', 'mud',
  'dirt', 'gold', 'silver', 'metal', 'stone', 'concrete', 'glass', 'marble', 'hair', 'fur', 'milk', 'coffee', 'tea',
  'wine', 'juice', 'rice', 'chocolate', 'cheese', 'paper', 'plastic', 'steel', 'iron', 'copper', 'bronze', 'clay',
  'moss', 'foliage', 'lightning', 'sunshine', 'sunlight', 'light', 'darkness', 'food', 'bamboo', 'cotton', 'wool',
  'silk', 'leather', 'denim', 'velvet', 'crystal', 'ocean', 'sea', 'space', 'lego', 'candy', 'bread', 'butter',
  'honey', 'jelly', 'salt', 'sugar', 'pepper', 'soil', 'gravel', 'asphalt', 'brick', 'granite', 'slime', 'foam',
]);
const IRREGULAR_PLURALS = new Set(['people', 'men', 'women', 'children', 'mice', 'geese', 'teeth', 'feet', 'leaves', 'wolves']);

const COLOURS = new Set([
  'red', 'orange', 'yellow', 'green', 'blue', 'purple', 'violet', 'pink', 'brown', 'black', 'white', 'grey', 'gray',
  'gold', 'silver', 'beige', 'cyan', 'magenta', 'turquoise', 'teal', 'navy', 'maroon', 'crimson', 'scarlet', 'lime',
  'olive', 'indigo', 'golden',
]);
/** Words that shade or intensify the adjective after them: "bright red", "very cloudy". */
const MODIFIERS = new Set([
  'very', 'really', 'more', 'less', 'bright', 'dark', 'light', 'pale', 'deep', 'vivid', 'completely', 'totally',
  'fully', 'super', 'extra', 'slightly', 'quite', 'pitch', 'jet', 'sky', 'baby', 'royal', 'hot', 'neon', 'pastel',
]);
const ADJECTIVES = new Set([
  'cloudy', 'sunny', 'snowy', 'rainy', 'foggy', 'misty', 'stormy', 'windy', 'hazy', 'starry', 'dark', 'bright',
  'pale', 'wooden', 'frozen', 'molten', 'rusty', 'shiny', 'glossy', 'matte', 'old', 'new', 'young', 'wet',
  'dry', 'dirty', 'clean', 'fluffy', 'furry', 'hairy', 'bald', 'big', 'small', 'tiny', 'huge', 'large', 'striped',
  'spotted', 'dotted', 'checkered', 'metallic', 'transparent', 'sparkly', 'glowing', 'vintage', 'modern', 'ancient',
  'happy', 'sad', 'angry', 'smiling', 'sepia', 'monochrome', 'icy', 'sandy', 'muddy', 'grassy', 'leafy', 'neon',
  'pastel', 'autumnal', 'wintry',
]);
// "make the sky a bit cloudier": the softener says nothing a diffusion prompt can use.
const SOFTENERS = /\s+a (?:little bit|bit|little|lot|tad)(?=\s)/g;

const EXAMPLES = 'Try e.g. "turn the dog into a tiger and the grass into snow" or "make the sky cloudy".';
const QUOTE_CHARS = 80;

interface NounPhrase {
  /** The determiners as written ("the", "my", "all the"), or "" when there were none. */
  readonly det: string;
  /** The rest: "dog", "red car", "man's hat". */
  readonly noun: string;
}

interface Edit {
  readonly source: NounPhrase;
  readonly target: string;
}

/** Plans a request with rules. The request is assumed checked (checkPlanRequest); every clause must parse. */
export function planFromText(text: string): Plan {
  const edits: Edit[] = [];
  const unparsed: string[] = [];
  let verb: string | undefined;
  for (const clause of splitEditClauses(text)) {
    const normalised = normaliseClause(clause);
    if (normalised === '') continue;
    const ownVerb = VERB_FAMILIES[normalised.split(' ')[0]] ? normalised.split(' ')[0] : undefined;
    const edit = becomeEdit(normalised) ?? parseClause(normalised, verb);
    verb = ownVerb ?? verb;
    if (edit) edits.push(edit);
    else unparsed.push(clause.replace(/[\s.!?,;:]+$/, ''));
  }

  if (edits.length === 0) {
    throw new GasError('bad_plan', `I could not find an edit in "${quote(text.trim())}". ${EXAMPLES}`, { text });
  }
  if (unparsed.length > 0) {
    // Dropping a clause would hand back an edit the person did not ask for; name it instead.
    const named = unparsed.map((clause) => `"${quote(clause)}"`).join(' and ');
    throw new GasError('bad_plan', `I could not understand ${named} in your request. Write each edit like "turn the dog into a tiger" or "make the sky cloudy".`, {
      unparsed,
    });
  }

  const subtasks: Subtask[] = [];
  for (const edit of edits) {
    const source = sourcePhrase(edit.source);
    if (subtasks.some((subtask) => subtask.grounding === edit.source.noun)) {
      throw new GasError('bad_plan', `The request changes "${source}" twice; say once what it should become.`, { source });
    }
    for (const phrase of [source, edit.target]) {
      if (phrase.length > MAX_PHRASE_CHARS) {
        // The plan's own limit would surface as "subtasks[0].target must be at most …", which names nothing the person wrote.
        throw new GasError('bad_input', `"${quote(phrase)}" is ${phrase.length} characters long; describe each thing in at most ${MAX_PHRASE_CHARS}.`, {
          phrase: quote(phrase),
        });
      }
    }
    subtasks.push({ source, target: edit.target, grounding: edit.source.noun, preserveForm: false });
  }
  const full = fullPrompts(subtasks);
  const longest = Math.max(full.source.length, full.target.length);
  if (longest > MAX_PHRASE_CHARS) {
    throw new GasError('bad_input', `Together the edits make a ${longest}-character description of the photo; keep it to ${MAX_PHRASE_CHARS} by shortening what each thing becomes.`);
  }
  return parsePlan({ subtasks, full });
}

/** The whole scene before and after, as the offline planner writes it: "a photo of the dog and the grass". */
export function fullPrompts(subtasks: readonly Pick<Subtask, 'source' | 'target'>[]): Plan['full'] {
  return {
    source: `a photo of ${joinList(subtasks.map((subtask) => subtask.source))}`,
    target: `a photo of ${joinList(subtasks.map((subtask) => subtask.target))}`,
  };
}

export const offlinePlanner: Planner = {
  name: 'offline',
  async plan(request, signal) {
    if (signal?.aborted) throw new GasError('cancelled', 'The edit was cancelled before it was planned.');
    return planFromText(checkPlanRequest(request));
  },
};

/** Lower-case, one space, no quotes, list bullets, politeness or trailing punctuation: the clause's words only. */
function normaliseClause(clause: string): string {
  let text = clause
    .toLowerCase()
    .replace(/[“”"]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^(?:[-*•]|\d+[.)])\s+/, '')
    .replace(/[\s.!?,;:]+$/, '');
  const leading =
    /^(?:and|then|also|plus|please|so|now|ok|okay|can you|could you|would you|will you|(?:i want|i'd like|i would like)(?: you)?(?: to)?)\s+/;
  const trailing = /[\s,]+(?:please|instead|too|as well|thanks|thank you)$/;
  for (let before = ''; before !== text; ) {
    before = text;
    text = text.replace(leading, '').replace(trailing, '');
  }
  return /^(?:please|thanks|thank you|thx|ty|cheers)$/.test(text) ? '' : text;
}

/** "X should become Y" and its kin, or undefined when the clause is not of that form. */
function becomeEdit(clause: string): Edit | undefined {
  if (VERB_FAMILIES[clause.split(' ')[0]]) return undefined;
  for (const form of BECOME) {
    const match = form.exec(clause);
    if (match) return connectorEdit(match[1], match[2]);
  }
  return undefined;
}

/** One clause → one edit, or undefined when it does not read as an edit. */
function parseClause(clause: string, inheritedVerb: string | undefined): Edit | undefined {
  const arrow = clause.split(ARROW);
  if (arrow.length === 2) {
    const left = VERB_FAMILIES[arrow[0].split(' ')[0]] ? arrow[0].split(' ').slice(1).join(' ') : arrow[0];
    return connectorEdit(left, arrow[1]);
  }
  if (arrow.length > 2) return undefined;

  const [first, ...others] = clause.split(' ');
  const family = VERB_FAMILIES[first];
  if (family) return parseWithVerb(family, others.join(' '));

  // A bare continuation ("…, the grass into snow", "…, the car red") reuses the verb before it. Without a
  // connector it must start with an article and end in an adjective-looking word, so a stray sentence
  // ("I love it") is reported rather than read as an edit.
  const inherited = inheritedVerb ? VERB_FAMILIES[inheritedVerb] : undefined;
  if (inherited) {
    const strict = isDeterminer(first) ? 'strict' : 'connectors only';
    return parseWithVerb(inherited, clause, strict) ?? parseWithVerb('change', clause, strict) ?? parseWithVerb('make', clause, strict);
  }
  const split = splitAtConnector(clause, VERBLESS_CONNECTORS);
  return split && connectorEdit(split[0], split[1]);
}

/** How freely a clause without a connector is read: an explicit "make"/"paint" takes any last word as the adjective. */
type AdjectiveReading = 'free' | 'strict' | 'connectors only';

function parseWithVerb(family: VerbFamily, rest: string, reading: AdjectiveReading = 'free'): Edit | undefined {
  if (family === 'swap') rest = rest.replace(/^out /, '');
  const split = splitAtConnector(rest, CONNECTORS[family]);
  if (split) return connectorEdit(split[0], split[1]);
  if (family === 'replace' || family === 'swap' || reading === 'connectors only') return undefined;
  if (family === 'make') return makeEdit(rest, reading);
  // "turn the sky cloudy", "paint the car red": "turn" needs a last word that looks like an adjective.
  return adjectiveSuffixEdit(rest.split(' '), family === 'change' ? 'strict' : reading);
}

/** "make A into B", "make A look like B", "make A look C", "make A a B", "make A C". */
function makeEdit(rest: string, reading: AdjectiveReading): Edit | undefined {
  rest = ` ${rest}`.replace(SOFTENERS, '').trim();
  const lookLike = /^(.+?) looks? like (.+)$/.exec(rest);
  if (lookLike) return connectorEdit(lookLike[1], lookLike[2]);
  const look = /^(.+?) looks? (.+)$/.exec(rest);
  if (look) {
    const source = nounPhrase(look[1]);
    return source && { source, target: adjectiveTarget(look[2], source) };
  }
  const words = rest.split(' ');
  const firstNoun = words.findIndex((word) => !isDeterminer(word));
  const article = words.findIndex((word, i) => i > firstNoun && (word === 'a' || word === 'an'));
  if (firstNoun >= 0 && article > firstNoun) return connectorEdit(words.slice(0, article).join(' '), words.slice(article).join(' '));
  return bareNounEdit(words) ?? adjectiveSuffixEdit(words, reading);
}

/**
 * "make the trees palm trees": a determiner, the source's shades and one noun, then a target with no
 * article. Only when the last word cannot be an adjective ("make the sky cloudier" is read as one).
 */
function bareNounEdit(words: readonly string[]): Edit | undefined {
  if (!isDeterminer(words[0]) || looksAdjective(words[words.length - 1])) return undefined;
  let noun = words.findIndex((word) => !isDeterminer(word));
  while (noun < words.length - 1 && (COLOURS.has(words[noun]) || ADJECTIVES.has(words[noun]) || MODIFIERS.has(words[noun]))) noun += 1;
  if (noun < 0 || noun >= words.length - 1) return undefined;
  return connectorEdit(words.slice(0, noun + 1).join(' '), words.slice(noun + 1).join(' '));
}

/** The adjective is the last word, widened left over shades and "x and" ("bright red", "black and white", "salt and pepper"). */
function adjectiveSuffixEdit(words: readonly string[], reading: AdjectiveReading): Edit | undefined {
  const firstNoun = words.findIndex((word) => !isDeterminer(word));
  if (firstNoun < 0 || (reading === 'strict' && !looksAdjective(words[words.length - 1]))) return undefined;
  let start = words.length - 1;
  while (start - 1 > firstNoun) {
    const word = words[start - 1];
    if (MODIFIERS.has(word) || COLOURS.has(word) || ADJECTIVES.has(word)) start -= 1;
    else if (word === 'and' && start - 2 > firstNoun) start -= 2;
    else break;
  }
  if (start <= firstNoun) return undefined;
  const source = nounPhrase(words.slice(0, start).join(' '));
  return source && { source, target: adjectiveTarget(words.slice(start).join(' '), source) };
}

/** Source phrase before a connector, target phrase after it. */
function connectorEdit(left: string, right: string): Edit | undefined {
  const source = nounPhrase(left);
  // "the dog to be a tiger", "the dog to look like a tiger": the verb is filler.
  const target = right.trim().replace(/^(?:be|become|look like|looks like) /, '');
  if (!source || target === '' || target.split(' ').every(isDeterminer)) return undefined;
  const words = target.split(' ');
  const last = words.length - 1;
  const adjectival = (word: string, i: number) =>
    i === last ? isAdjectiveWord(word) : isAdjectiveWord(word) || MODIFIERS.has(word) || (word === 'and' && i > 0);
  if (!isDeterminer(words[0]) && words.every(adjectival)) {
    // "change the car colour to red" edits the car.
    const object = source.noun.replace(/ colou?r$/, '');
    const edited = { det: source.det, noun: object };
    return { source: edited, target: adjectiveTarget(target, edited) };
  }
  return { source, target: nounTarget(target, source) };
}

function splitAtConnector(text: string, connectors: readonly string[]): [string, string] | undefined {
  for (const connector of connectors) {
    const match = new RegExp(`^(.+?) ${connector} (.+)$`).exec(text);
    if (match) return [match[1], match[2]];
  }
  return undefined;
}

/** Splits off the determiners; refuses pronouns, lists ("the sky, car") and phrases with no noun. */
function nounPhrase(text: string): NounPhrase | undefined {
  const words = text.trim().split(' ').filter(Boolean);
  let n = 0;
  while (n < words.length && isDeterminer(words[n])) n += 1;
  const noun = words.slice(n).join(' ');
  if (noun === '' || PRONOUNS.has(noun) || noun.includes(',')) return undefined;
  return { det: words.slice(0, n).join(' '), noun };
}

/** The source as the person wrote it; a bare noun gets "the" (a possessive noun such as "john's hat" needs none). */
function sourcePhrase(source: NounPhrase): string {
  if (source.det) return `${source.det} ${source.noun}`;
  return /^\S+(?:'s|s')(?:\s|$)/.test(source.noun) ? source.noun : `the ${source.noun}`;
}

/** A noun target keeps its article; a bare one takes "a"/"an" if singular and countable, else the source's. */
function nounTarget(target: string, source: NounPhrase): string {
  const words = target.split(' ');
  if (isDeterminer(words[0]) || /^\S+(?:'s|s')$/.test(words[0])) return target;
  const head = words[words.length - 1];
  const plural = looksPlural(head);
  if (!plural && !MASS_NOUNS.has(head)) return `${indefiniteArticle(words[0])} ${target}`;
  return `${fallbackDeterminer(source, plural)} ${target}`;
}

/** The source with the adjective before its noun: "the sky" + "cloudy" → "the cloudy sky"; a new colour replaces the old. */
function adjectiveTarget(adjective: string, source: NounPhrase): string {
  let noun = source.noun.split(' ');
  if (adjective.split(' ').some((word) => COLOURS.has(word))) {
    noun = noun.filter((word, i) => !COLOURS.has(word) && !(MODIFIERS.has(word) && COLOURS.has(noun[i + 1] ?? '')));
    if (noun.length === 0) noun = source.noun.split(' ');
  }
  const det = source.det === '' ? 'the' : source.det === 'a' || source.det === 'an' ? indefiniteArticle(adjective) : source.det;
  return `${det} ${adjective} ${noun.join(' ')}`;
}

/** The source's determiner where it fits a mass or plural noun ("my grass" → "my snow"), else "the". */
function fallbackDeterminer(source: NounPhrase, plural: boolean): string {
  const first = source.det.split(' ')[0];
  if (first === '' || first === 'a' || first === 'an' || first === 'every' || first === 'each' || first === 'another') return 'the';
  if (!plural && (NUMERALS.test(first) || ['all', 'both', 'some', 'these', 'those'].includes(first))) return 'the';
  return source.det;
}

function indefiniteArticle(word: string): 'a' | 'an' {
  if (/^(?:hour|honest|honou?r|heir)/.test(word)) return 'an';
  if (/^(?:uni|use|usu|eu|one|once|ur[aeiou])/.test(word)) return 'a';
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

function looksPlural(word: string): boolean {
  return IRREGULAR_PLURALS.has(word) || (/s$/.test(word) && !/(?:ss|us|is|ys)$/.test(word) && !MASS_NOUNS.has(word));
}

function isDeterminer(word: string): boolean {
  return DETERMINERS.has(word) || NUMERALS.test(word);
}

/** Strict, for a bare target after a connector: "to red" is an adjective, "into puppy" is not. */
function isAdjectiveWord(word: string): boolean {
  return COLOURS.has(word) || ADJECTIVES.has(word) || /.{3}(?:ish|ful|ous|less)$/.test(word);
}

/** Looser, for a verb with no connector ("turn the sky cloudy"), where a noun is unlikely anyway. */
function looksAdjective(word: string): boolean {
  return isAdjectiveWord(word) || /.{2}(?:y|ed|er|est)$/.test(word);
}

/** "a, b and c": the full prompt's list, as a person would write it. */
function joinList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > QUOTE_CHARS ? `${oneLine.slice(0, QUOTE_CHARS - 1)}…` : oneLine;
}
