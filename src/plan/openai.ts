/**
 * The multimodal-LLM planner: any OpenAI-compatible chat-completions server (OpenAI, Ollama,
 * vLLM, LM Studio, …) looks at the photo and the request and answers with a Plan.
 *
 * Only the request text and a downscaled JPEG of the image leave this process: no user, channel
 * or job ids, no names. Answers are validated with `parsePlan`; one repair round-trip is allowed.
 */
import { createHash } from 'node:crypto';
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from 'openai';
import sharp from 'sharp';
import { z } from 'zod';
import { GasError, isGasError } from '../errors.js';
import type { RgbImage } from '../image/decode.js';
import { gridBox, INSTANCE_POSITIONS, INSTANCE_SIDES, type InstancePick, type PlanFix } from './fix.js';
import { fixInstructions, fixMessage, plannerInstructions, repairMessage, requestMessage } from './instructions.js';
import { checkPlanRequest, type FixRequest, type Planner, type PlanRequest } from './planner.js';
import { MAX_SUBTASKS, parsePlan, type Plan } from './schema.js';

export const OPENAI_PLANNER_DEFAULTS = {
  model: 'gpt-4o-mini',
  timeoutMs: 30_000,
  maxRetries: 2,
  maxTokens: 1024,
  imageMaxSide: 768,
} as const;

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** Enough for a model to see objects and place boxes; far fewer bytes (and image tokens) than PNG. */
const JPEG_QUALITY = 85;

export interface OpenAIPlannerConfig {
  /** Sent only as the bearer token. Local servers such as Ollama accept any value: a dummy key like "ollama" works. */
  apiKey: string;
  /** An OpenAI-compatible `/v1` root, e.g. http://localhost:11434/v1 for Ollama. Default: OpenAI's API. */
  baseURL?: string;
  /** A model that accepts images. */
  model?: string;
  /** Per attempt; a timed-out attempt counts as one try. */
  timeoutMs?: number;
  /** The SDK's own retries for timeouts, connection errors, 408/409/429 and 5xx (it honours retry-after). */
  maxRetries?: number;
  /** Cap on the answer's length (`max_tokens`). */
  maxTokens?: number;
  /** The image is downscaled so its longer side is at most this many pixels before it is sent. */
  imageMaxSide?: number;
}

/**
 * The wire format the model fills in. Strict structured output needs every property required
 * and no extra ones, so the Plan's optional fields are nullable here; bounds (phrase lengths,
 * box range, subtask count) are left to `parsePlan`, because strict mode rejects many keywords.
 */
const wireSubtaskSchema = z.object({
  source: z.string().describe('The object as it is now, e.g. "a dog".'),
  target: z.string().describe('What it becomes, e.g. "a tiger".'),
  grounding: z.string().nullable().describe('A short noun phrase a detector can find, e.g. "dog"; null to use the source phrase.'),
  box: z
    .array(z.number())
    .nullable()
    .describe('[x0, y0, x1, y1] as fractions of the image size, or null when the object is not clearly visible.'),
});

export const wirePlanSchema = z.object({
  subtasks: z.array(wireSubtaskSchema).describe(`One per edited object, in request order; at most ${MAX_SUBTASKS}.`),
  full: z.object({
    source: z.string().describe('The whole scene before the edit.'),
    target: z.string().describe('The whole scene after the edit.'),
  }),
});

/** The JSON schema sent as `response_format`; `$schema` dropped because some servers refuse unknown top-level keys. */
export function wirePlanJsonSchema(): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(wirePlanSchema) as Record<string, unknown>;
  return schema;
}

/** A fix as the model fills it in (fix.ts's PlanFix, flat and nullable for strict structured output; parts numbered from 1). */
const wireFixSchema = z.object({
  kind: z.enum(['go', 'pick', 'ground', 'box', 'drop', 'add', 'unclear']),
  part: z.number().nullable().describe('The part\'s number, from 1.'),
  position: z.enum(INSTANCE_POSITIONS).nullable(),
  ordinal: z.number().nullable().describe('1 = first, counted from "from".'),
  from: z.enum(INSTANCE_SIDES).nullable(),
  phrase: z.string().nullable().describe('ground: what to look for instead.'),
  cells: z.string().nullable().describe('box: grid cells, e.g. "B3 to D5".'),
  source: z.string().nullable().describe('add: the object as it is now.'),
  target: z.string().nullable().describe('add: what it becomes.'),
});

export const wireFixesSchema = z.object({ fixes: z.array(wireFixSchema).max(8) });

function wireFixesJsonSchema(): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(wireFixesSchema) as Record<string, unknown>;
  return schema;
}

/** What a model planner is asked: a plan for a request, or the fixes of a reply to a check. */
type Question = 'plan' | 'fix';

type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

interface Answer {
  /** The model's text; empty when it said nothing. */
  readonly content: string;
  /** The answer hit `max_tokens`. */
  readonly truncated: boolean;
}

/** A usable plan, or what is wrong: `problem` for the model's repair turn, `summary` for people. */
type Reading = { readonly plan: Plan } | { readonly problem: string; readonly summary: string };

export function openAIPlanner(config: OpenAIPlannerConfig): Planner {
  const settings = resolveConfig(config);
  const client = new OpenAI({
    apiKey: settings.apiKey,
    // Explicit, so the SDK does not fall back to OPENAI_BASE_URL behind our config's back.
    baseURL: settings.baseURL,
    timeout: settings.timeoutMs,
    maxRetries: settings.maxRetries,
  });
  // Learned from the server's first refusal of each, so later plans skip the doomed request.
  let structuredOutput = true;
  let tokenCapField: 'max_tokens' | 'max_completion_tokens' = 'max_tokens';
  const responseFormats = {
    plan: { type: 'json_schema' as const, json_schema: { name: 'edit_plan', strict: true, schema: wirePlanJsonSchema() } },
    fix: { type: 'json_schema' as const, json_schema: { name: 'plan_fixes', strict: true, schema: wireFixesJsonSchema() } },
  };
  const instructions = { plan: plannerInstructions, fix: fixInstructions };

  async function complete(conversation: ChatMessage[], signal?: AbortSignal, question: Question = 'plan'): Promise<Answer> {
    const completion = await client.chat.completions.create(
      {
        model: settings.model,
        messages: [{ role: 'system', content: instructions[question]({ jsonOnly: !structuredOutput }) }, ...conversation],
        ...(tokenCapField === 'max_tokens' ? { max_tokens: settings.maxTokens } : { max_completion_tokens: settings.maxTokens }),
        ...(structuredOutput ? { response_format: responseFormats[question] } : {}),
      },
      { signal },
    );
    const choice = completion.choices?.[0];
    if (choice?.message?.refusal) {
      throw new GasError('planner_failed', 'The planner model declined this request. Rephrase it, or write the plan by hand.', {
        refusal: choice.message.refusal,
      });
    }
    return { content: choice?.message?.content ?? '', truncated: choice?.finish_reason === 'length' };
  }

  /**
   * One question. Servers differ in what they accept: without structured output the plan is
   * asked for as JSON in text; newer OpenAI models want `max_completion_tokens`. Each switch
   * happens at most once, so this loop ends.
   */
  async function ask(conversation: ChatMessage[], signal?: AbortSignal, question: Question = 'plan'): Promise<Answer> {
    for (;;) {
      try {
        return await complete(conversation, signal, question);
      } catch (error) {
        if (tokenCapField === 'max_tokens' && wantsMaxCompletionTokens(error)) tokenCapField = 'max_completion_tokens';
        else if (structuredOutput && rejectsStructuredOutput(error)) structuredOutput = false;
        else throw error;
      }
    }
  }

  return {
    name: 'openai',
    async plan(request: PlanRequest, signal?: AbortSignal): Promise<Plan> {
      const text = checkPlanRequest(request);
      throwIfCancelled(signal);
      const imageUrl = await jpegDataUrl(request.image, settings.imageMaxSide);
      // Only the request text and the image: nothing else about the person is sent.
      const conversation: ChatMessage[] = [
        {
          role: 'user',
          content: [
            { type: 'text', text: requestMessage(text) },
            { type: 'image_url', image_url: { url: imageUrl } },
          ],
        },
      ];
      try {
        const first = await ask(conversation, signal);
        const reading = readPlan(first);
        if ('plan' in reading) return reading.plan;

        conversation.push(
          { role: 'assistant', content: first.content || '(no answer)' },
          { role: 'user', content: repairMessage(reading.problem, !structuredOutput) },
        );
        const second = await ask(conversation, signal);
        const repaired = readPlan(second);
        if ('plan' in repaired) return repaired.plan;
        throw new GasError(
          'planner_failed',
          `The planner could not produce a valid plan: ${repaired.summary}. Rephrase the request, or write the plan by hand.`,
          // What the model said can hold anything (a person's words, a key it was shown): logs get its size and a hash to match reports by, never the text.
          { answers: [first.content, second.content].map(answerFingerprint) },
        );
      } catch (error) {
        throw plannerError(error, settings, signal);
      }
    },

    /** A reply to a check the rules could not read: only its text and the parts as numbered are sent. */
    async readFix(request: FixRequest, signal?: AbortSignal): Promise<PlanFix[]> {
      throwIfCancelled(signal);
      const conversation: ChatMessage[] = [{ role: 'user', content: fixMessage(request.context.parts, request.text.slice(0, 1000)) }];
      let answer: Answer;
      try {
        answer = await ask(conversation, signal, 'fix');
      } catch (error) {
        throw plannerError(error, settings, signal);
      }
      return readFixAnswer(answer, request);
    },
  };
}

/** An answer as logs may show it: how long it was and a hash of it. */
function answerFingerprint(answer: string | null | undefined): { chars: number; sha256: string } {
  const text = answer ?? '';
  return { chars: text.length, sha256: createHash('sha256').update(text).digest('hex').slice(0, 16) };
}

/** The model's fixes as PlanFix, checked against the plan; bad_input (worded for the person) when it could not read them either. */
function readFixAnswer(answer: Answer, request: FixRequest): PlanFix[] {
  const unread = () => new GasError('bad_input', `I could not read "${request.text.replace(/\s+/g, ' ').slice(0, 80)}" as a fix, nor could the planner.`, { fix: 'unreadable' });
  const json = extractJson(answer.content);
  let wire: z.infer<typeof wireFixesSchema>;
  try {
    wire = wireFixesSchema.parse(JSON.parse(json ?? ''));
  } catch {
    throw unread();
  }
  if (wire.fixes.length === 0 || wire.fixes.some((fix) => fix.kind === 'unclear')) throw unread();
  const parts = request.context.parts.length;
  const part = (fix: z.infer<typeof wireFixSchema>) => {
    if (fix.part === null || !Number.isInteger(fix.part) || fix.part < 1 || fix.part > parts) throw unread();
    return fix.part - 1;
  };
  const pick = (fix: z.infer<typeof wireFixSchema>): InstancePick | undefined => {
    if (fix.ordinal !== null && Number.isInteger(fix.ordinal) && fix.ordinal >= 1 && fix.ordinal <= 16) return { by: 'ordinal', n: fix.ordinal, from: fix.from ?? 'left' };
    return fix.position !== null ? { by: 'position', position: fix.position } : undefined;
  };
  const fixes = wire.fixes.map((fix): PlanFix => {
    switch (fix.kind) {
      case 'go':
        return { kind: 'go' };
      case 'pick': {
        const chosen = pick(fix);
        if (!chosen) throw unread();
        return { kind: 'pick', part: part(fix), pick: chosen };
      }
      case 'ground': {
        if (!fix.phrase?.trim()) throw unread();
        const chosen = pick(fix);
        return { kind: 'ground', part: part(fix), phrase: fix.phrase.trim().slice(0, 300), ...(chosen ? { pick: chosen } : {}) };
      }
      case 'box': {
        const box = fix.cells ? gridBox(fix.cells) : undefined;
        if (!box) throw unread();
        return { kind: 'box', part: part(fix), box };
      }
      case 'drop':
        return { kind: 'drop', part: part(fix) };
      case 'add': {
        const [source, target] = [fix.source?.trim(), fix.target?.trim()];
        if (!source || !target) throw unread();
        const grounding = source.replace(/^(?:the|a|an|my|this|that)\s+/i, '').slice(0, 300);
        return { kind: 'add', subtasks: [{ source: source.slice(0, 300), target: target.slice(0, 300), grounding, preserveForm: false }] };
      }
      case 'unclear':
        throw unread();
    }
  });
  if (fixes.length > 1 && fixes.some((fix) => fix.kind === 'go')) return fixes.filter((fix) => fix.kind !== 'go');
  return fixes;
}

type Settings = Required<OpenAIPlannerConfig>;

/** Merges defaults and checks the numbers once, naming the offending value. */
function resolveConfig(config: OpenAIPlannerConfig): Settings {
  if (!config.apiKey?.trim()) {
    throw new GasError('bad_input', 'The OpenAI planner needs an API key (OPENAI_API_KEY); local servers accept any dummy value.');
  }
  const settings: Settings = {
    apiKey: config.apiKey.trim(),
    baseURL: config.baseURL?.trim() || DEFAULT_BASE_URL,
    model: config.model?.trim() || OPENAI_PLANNER_DEFAULTS.model,
    timeoutMs: config.timeoutMs ?? OPENAI_PLANNER_DEFAULTS.timeoutMs,
    maxRetries: config.maxRetries ?? OPENAI_PLANNER_DEFAULTS.maxRetries,
    maxTokens: config.maxTokens ?? OPENAI_PLANNER_DEFAULTS.maxTokens,
    imageMaxSide: config.imageMaxSide ?? OPENAI_PLANNER_DEFAULTS.imageMaxSide,
  };
  const positive = ['timeoutMs', 'maxTokens', 'imageMaxSide'] as const;
  for (const key of positive) {
    if (!Number.isInteger(settings[key]) || settings[key] < 1) {
      throw new GasError('bad_input', `Planner option ${key} must be a positive whole number; got ${settings[key]}.`);
    }
  }
  if (!Number.isInteger(settings.maxRetries) || settings.maxRetries < 0) {
    throw new GasError('bad_input', `Planner option maxRetries must be a whole number ≥ 0; got ${settings.maxRetries}.`);
  }
  return settings;
}

/** The image as a JPEG data URL, longer side at most `maxSide` (never enlarged). */
async function jpegDataUrl(image: RgbImage, maxSide: number): Promise<string> {
  try {
    const jpeg = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: JPEG_QUALITY })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch (error) {
    throw new GasError('bad_image', 'The image could not be prepared for the planner.', { cause: (error as Error).message });
  }
}

/** The answer as a Plan, or what is wrong with it. */
function readPlan(answer: Answer): Reading {
  // A cut-off answer is rarely whole JSON; saying why lets the model answer shorter.
  const cutOff = answer.truncated
    ? { problem: 'the answer was cut off at the length limit. Keep every phrase short.', summary: 'its answer was cut off at the token limit (maxTokens)' }
    : undefined;
  const json = extractJson(answer.content);
  if (json === undefined) return cutOff ?? { problem: 'the answer contains no JSON object.', summary: 'its answer held no plan' };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    return cutOff ?? { problem: `the answer is not valid JSON (${(error as Error).message}).`, summary: 'its answer was not valid JSON' };
  }
  try {
    return { plan: parsePlan(fromWire(value)) };
  } catch (error) {
    if (!isGasError(error, 'bad_plan')) throw error;
    return { problem: error.message, summary: error.message.replace(/^Invalid plan: /, '').replace(/\.$/, '') };
  }
}

/** Wire → Plan shape: nulls mean "absent" (grounding defaults to the source phrase, no box yet). */
function fromWire(value: unknown): unknown {
  if (!isRecord(value) || !Array.isArray(value.subtasks)) return value;
  const subtasks = value.subtasks.map((subtask: unknown) =>
    isRecord(subtask) ? Object.fromEntries(Object.entries(subtask).filter(([, field]) => field !== null)) : subtask,
  );
  return { ...value, subtasks };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The first balanced {...} in a text answer, preferring the inside of a ```json fence, since
 * models without structured output wrap JSON in prose or fences.
 */
export function extractJson(text: string): string | undefined {
  const fenced = /```(?:json)?\s*\n?([\s\S]*?)```/i.exec(text);
  return (fenced && firstObject(fenced[1])) ?? firstObject(text);
}

function firstObject(text: string): string | undefined {
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}

/** A server without structured output answers 400 (or 422) naming the parameter or "not supported". */
function rejectsStructuredOutput(error: unknown): boolean {
  return isBadRequest(error) && /response_format|json_schema|not supported/i.test(error.message);
}

/** OpenAI's newer models refuse `max_tokens` and name its replacement. */
function wantsMaxCompletionTokens(error: unknown): boolean {
  return isBadRequest(error) && /max_tokens/.test(error.message) && /max_completion_tokens/.test(error.message);
}

function isBadRequest(error: unknown): error is APIError {
  return error instanceof APIError && (error.status === 400 || error.status === 422);
}

function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new GasError('cancelled', 'The edit was cancelled.');
}

/** SDK failures → one short message for people; the server's own words go to details, key redacted. */
function plannerError(error: unknown, settings: Settings, signal?: AbortSignal): GasError {
  if (isGasError(error)) return error;
  if (error instanceof APIUserAbortError || signal?.aborted) return new GasError('cancelled', 'The edit was cancelled.');
  const tries = settings.maxRetries + 1;
  const afterTries = tries > 1 ? ` after ${tries} tries` : '';
  const details = {
    model: settings.model,
    status: error instanceof APIError ? error.status : undefined,
    cause: redact(error instanceof Error ? error.message : String(error), settings.apiKey),
  };
  const fail = (message: string) => new GasError('planner_failed', message, details);

  if (error instanceof APIConnectionTimeoutError) {
    return fail(`The planner did not answer within ${settings.timeoutMs / 1000} s${afterTries}. Try again later, or raise the planner timeout.`);
  }
  if (error instanceof APIConnectionError) {
    return fail('Could not reach the planner service. Check OPENAI_BASE_URL and that the server is running.');
  }
  if (error instanceof AuthenticationError) {
    return fail('The planner service refused the API key. Check OPENAI_API_KEY.');
  }
  if (error instanceof PermissionDeniedError) {
    return fail(`The planner service does not allow this API key to use the model "${settings.model}". Check GAS_PLANNER_MODEL and the key's permissions.`);
  }
  if (error instanceof NotFoundError) {
    return fail(`The planner service has no model "${settings.model}". Check GAS_PLANNER_MODEL and OPENAI_BASE_URL.`);
  }
  if (error instanceof RateLimitError) {
    if (error.code === 'insufficient_quota') return fail('The planner service account is out of quota. Check its billing, or use the offline planner.');
    return fail(`The planner service is rate-limiting requests and still refused${afterTries}. Try again in a minute.`);
  }
  if (error instanceof APIError && typeof error.status === 'number' && error.status >= 500) {
    return fail(`The planner service failed (HTTP ${error.status})${afterTries}. Try again later.`);
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    return fail(`The planner service rejected the request (HTTP ${error.status}). Check that GAS_PLANNER_MODEL names a model that accepts images.`);
  }
  return fail('The planner failed unexpectedly. Try again, or use the offline planner.');
}

/** Removes the key, and anything shaped like one (servers echo partly masked keys), from text bound for logs. */
function redact(text: string, apiKey: string): string {
  return text.split(apiKey).join('[redacted]').replace(/\b(?:sk|key)-[A-Za-z0-9_*.-]{4,}/g, '[redacted]');
}
