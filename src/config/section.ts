/**
 * A configuration section: a zod schema for its typed values, and where each value comes from in
 * the environment (the variable, how its text reads, whether it is a secret, what it means).
 * Reading a section gathers the variables' text (or a flag's, where a command line overrides one),
 * turns it into the schema's input and validates it once, naming in any refusal the variable or
 * flag the person actually wrote. Light on purpose: platform adapters declare their sections with
 * it, and `gas --help` loads it.
 */
import { z } from 'zod';
import { GasError } from '../errors.js';

/** How a variable's text becomes a value: as it is, a number, on/off (`1`/`true`), or comma-separated. */
export type VariableKind = 'text' | 'number' | 'flag' | 'list';

export interface Variable {
  /** The environment variable; older names still read, after it. */
  readonly env: string | readonly [string, ...string[]];
  readonly kind?: VariableKind;
  /**
   * Never printed, never logged: `gas config` masks it and logs cut it out. `url-password`: only
   * the password inside the URL is secret (REDIS_URL).
   */
  readonly secret?: boolean | 'url-password';
  /** What it means, for `gas config`, `--help` and the generated variable tables. */
  readonly description: string;
  /** The default as people read it ("20000", "none"); absent: required or no default. */
  readonly shownDefault?: string;
  /**
   * A variable set to nothing is refused, with this example of a value, instead of counting as
   * unset: for ids that would otherwise be stored as nobody's.
   */
  readonly blankRefused?: { example: string };
}

/** The environment a section reads: variable name → text. */
export type Environment = Readonly<Record<string, string | undefined>>;

export interface ConfigSection<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  /** Put before every refusal ("Discord settings: "); the core sections have none. */
  readonly title?: string;
  readonly schema: S;
  readonly variables: { readonly [K in keyof z.input<S>]?: Variable };
}

export type SectionValues<S extends ConfigSection> = z.output<S['schema']>;

/** A value a command line gives instead of the variable: its text and the flag it came from. */
export interface Override {
  text: string | undefined;
  flag: string;
}

export function defineSection<S extends z.ZodType>(section: ConfigSection<S>): ConfigSection<S> {
  return section;
}

/** The variable's names: the documented one first. */
export const variableNames = (variable: Variable): readonly string[] => (typeof variable.env === 'string' ? [variable.env] : variable.env);

/** The variable's text in `env` (the first of its names that is set and not blank), trimmed. */
export function variableText(variable: Variable, env: Environment): string | undefined {
  for (const name of variableNames(variable)) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

/** Text as the schema's input: absent text is absent, whatever the kind, so the schema's default applies. */
function valueOf(text: string | undefined, kind: VariableKind = 'text'): unknown {
  if (text === undefined) return kind === 'list' ? [] : kind === 'flag' ? false : undefined;
  switch (kind) {
    case 'text':
      return text;
    case 'number':
      return text === '' ? Number.NaN : Number(text);
    case 'flag':
      return text === '1' || text === 'true';
    case 'list':
      return text.split(',').map((item) => item.trim()).filter(Boolean);
  }
}

/**
 * The section's values from `env`, with `overrides` (a command line's flags) taking the place of
 * their variables. A bad value is GasError 'bad_input' (exit 2) naming the variable or the flag.
 */
export function readSection<S extends ConfigSection>(section: S, env: Environment, overrides: { [K in keyof S['variables']]?: Override } = {}): SectionValues<S> {
  const input: Record<string, unknown> = {};
  const source: Record<string, { name: string; text?: string }> = {};
  for (const [key, variable] of Object.entries(section.variables) as [string, Variable][]) {
    const blank = variable.blankRefused && variableNames(variable).find((name) => env[name] !== undefined && env[name]!.trim() === '');
    if (blank) throw new GasError('bad_input', `${blank} is empty: give it a value, e.g. ${blank}=${variable.blankRefused!.example}, or leave it out.`);
    const override = (overrides as Record<string, Override | undefined>)[key];
    // A flag given, even empty, is what the person asked for; an empty variable counts as unset.
    const given = override?.text !== undefined;
    const text = given ? override.text : variableText(variable, env);
    const name = given ? override.flag : variableNames(variable)[0];
    input[key] = valueOf(text === undefined ? undefined : text.trim(), variable.kind);
    source[key] = { name, ...(text !== undefined && !variable.secret ? { text } : {}) };
  }
  const parsed = section.schema.safeParse(input);
  if (parsed.success) return parsed.data as SectionValues<S>;
  throw new GasError('bad_input', refusal(section, parsed.error.issues[0], source));
}

/**
 * One refusal, worded as the project's config mistakes always are: "GAS_MAX_QUEUE must be a whole
 * number of at least 1 (got "x")." in the core sections, "Discord settings: DISCORD_ROLES (item 1)
 * must be a Discord id (digits)" in a titled one. A message that already names its variable stands
 * alone; secrets are never echoed.
 */
function refusal(section: ConfigSection, issue: z.core.$ZodIssue, source: Record<string, { name: string; text?: string }>): string {
  const key = issue.path[0] === undefined ? undefined : String(issue.path[0]);
  const from = key === undefined ? undefined : source[key];
  const item = typeof issue.path[1] === 'number' ? ` (item ${issue.path[1] + 1})` : '';
  const names = from ? variableNames(section.variables[key as never] as Variable) : [];
  const namesItself = names.some((name) => issue.message.includes(name)) || (from !== undefined && issue.message.includes(from.name));
  const subject = from && !namesItself ? `${from.name}${item} ` : '';
  if (section.title) return `${section.title}: ${subject}${issue.message}`;
  const got = from?.text !== undefined && !namesItself ? ` (got "${from.text}")` : '';
  return `${subject}${issue.message}${got}.`;
}

/**
 * Settings handed over typed (a transport constructed in code) rather than read from variables:
 * validated by the section's schema, a refusal named by its field path under the section's title.
 */
export function parseSettings<S extends ConfigSection>(section: S, input: z.input<S['schema']>): SectionValues<S> {
  const parsed = section.schema.safeParse(input);
  if (parsed.success) return parsed.data as SectionValues<S>;
  const issue = parsed.error.issues[0];
  const namesItself = (Object.values(section.variables) as Variable[]).some((variable) => variableNames(variable).some((name) => issue.message.includes(name)));
  const where = namesItself ? '' : `${issue.path.join('.') || 'config'} `;
  throw new GasError('bad_input', `${section.title ?? section.name}: ${where}${issue.message}`);
}

// ---- values as people write them ------------------------------------------------------------

/** A whole number in [min, max], worded as every such refusal is. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER, unit = ''): z.ZodNumber {
  const range = max === Number.MAX_SAFE_INTEGER ? `${unit ? `${unit}, at least` : 'of at least'} ${min}` : `from ${min} to ${max}`;
  const message = `must be a whole number ${range}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
}

/** One of a few words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}

/** A number strictly between 0 and 1. */
export function probability(): z.ZodNumber {
  const message = 'must be a number between 0 and 1';
  return z.number({ error: message }).gt(0, { error: message }).lt(1, { error: message });
}
