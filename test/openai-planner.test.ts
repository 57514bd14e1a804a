/**
 * The OpenAI planner, through the real `openai` SDK, against a fake server that speaks the
 * chat-completions wire protocol (test/helpers/fake-openai.ts).
 */
import sharp from 'sharp';
import { readSection } from '../src/config/section.js';
import { plannerSection } from '../src/config/sections.js';
import { openAIPlannerSettings } from '../src/cli/planner-choice.js';

const openAIPlannerConfigOf = (env: Record<string, string>) => openAIPlannerSettings(readSection(plannerSection, env));
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GasError, isGasError } from '../src/errors.js';
import type { RgbImage } from '../src/image/decode.js';
import {
  extractJson,
  openAIPlanner,
  wirePlanJsonSchema,
  type OpenAIPlannerConfig,
} from '../src/plan/openai.js';
import type { PlanRequest } from '../src/plan/planner.js';
import { apiError, chatCompletion, startFakeOpenAI, type FakeOpenAI, type RecordedRequest } from './helpers/fake-openai.js';

const API_KEY = 'sk-test-0123456789-DO-NOT-LEAK';
const REQUEST_TEXT = 'turn the dog into a tiger and the grass into snow';

/** A 1024×512 horizontal gradient: wider than the planner's 768 px, so downscaling shows. */
function gradient(width = 1024, height = 512): RgbImage {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 3 * (y * width + x);
      data[o] = Math.round((255 * x) / width);
      data[o + 1] = Math.round((255 * y) / height);
      data[o + 2] = 128;
    }
  }
  return { data, width, height };
}

const IMAGE = gradient();

const WIRE_PLAN = {
  subtasks: [
    { source: 'a dog', target: 'a tiger', grounding: 'dog', box: [0.1, 0.4, 0.5, 0.95] },
    { source: 'the grass', target: 'the snow', grounding: null, box: null },
  ],
  full: { source: 'a dog lying on the grass', target: 'a tiger lying on the snow' },
};

const EXPECTED_PLAN = {
  subtasks: [
    { source: 'a dog', target: 'a tiger', grounding: 'dog', box: [0.1, 0.4, 0.5, 0.95], preserveForm: false },
    { source: 'the grass', target: 'the snow', preserveForm: false },
  ],
  full: { source: 'a dog lying on the grass', target: 'a tiger lying on the snow' },
};

let fake: FakeOpenAI;

beforeEach(async () => {
  fake = await startFakeOpenAI();
});

afterEach(async () => {
  await fake.close();
});

function planner(overrides: Partial<OpenAIPlannerConfig> = {}) {
  return openAIPlanner({ apiKey: API_KEY, baseURL: fake.baseURL, maxRetries: 0, ...overrides });
}

function request(text = REQUEST_TEXT): PlanRequest {
  return { text, image: IMAGE };
}

/** The planner's error, asserted to be a GasError. */
async function failure(promise: Promise<unknown>): Promise<GasError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(GasError);
  return error as GasError;
}

function systemPrompt(recorded: RecordedRequest): string {
  return recorded.body.messages[0].content;
}

describe('openAIPlanner', () => {
  it('turns a structured-output answer into a plan with boxes, asking for the strict edit_plan schema', async () => {
    fake.reply({ body: chatCompletion(JSON.stringify(WIRE_PLAN)) });

    const plan = await planner().plan(request());

    expect(plan).toEqual(EXPECTED_PLAN);
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.body.model).toBe('gpt-4o-mini');
    expect(sent.body.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'edit_plan', strict: true, schema: wirePlanJsonSchema() },
    });
  });

  it('sends a schema that strict mode accepts: every property required, no extra properties', () => {
    const objects: Record<string, any>[] = [];
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (node && typeof node === 'object') {
        const record = node as Record<string, any>;
        if (record.type === 'object') objects.push(record);
        Object.values(record).forEach(visit);
      }
    };
    const schema = wirePlanJsonSchema();
    visit(schema);

    expect(schema.$schema).toBeUndefined();
    expect(objects.length).toBe(3); // plan, subtask, full
    for (const object of objects) {
      expect(object.additionalProperties).toBe(false);
      expect([...object.required].sort()).toEqual(Object.keys(object.properties).sort());
    }
  });

  it('sends the image as a downscaled JPEG data URL with the request text and a token cap, and nothing about the person', async () => {
    fake.reply({ body: chatCompletion(JSON.stringify(WIRE_PLAN)) });
    const secrets = ['U-SECRET-REQUESTER-42', 'C-SECRET-CHANNEL-7', 'Alice Secretname'];
    // Extra fields a caller might carry along must not travel to the model.
    const withIds = { ...request(), requester: { user: secrets[0], channel: secrets[1], name: secrets[2] } } as PlanRequest;

    await planner({ maxTokens: 321 }).plan(withIds);

    const [sent] = fake.requests;
    expect(sent.body.max_tokens).toBe(321);
    expect(sent.body).not.toHaveProperty('user');
    expect(sent.raw).not.toContain(API_KEY);
    for (const secret of secrets) expect(sent.raw).not.toContain(secret);
    expect(sent.headers.authorization).toBe(`Bearer ${API_KEY}`);

    const userTurn = sent.body.messages[1];
    expect(userTurn.role).toBe('user');
    const textPart = userTurn.content.find((part: any) => part.type === 'text');
    const imagePart = userTurn.content.find((part: any) => part.type === 'image_url');
    expect(textPart.text).toContain(REQUEST_TEXT);
    const url: string = imagePart.image_url.url;
    expect(url).toMatch(/^data:image\/jpeg;base64,/);
    const jpeg = Buffer.from(url.slice('data:image/jpeg;base64,'.length), 'base64');
    const meta = await sharp(jpeg).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([768, 384]);
  });

  it('falls back to JSON in text when the server rejects response_format, and remembers it', async () => {
    fake.reply(
      {
        status: 400,
        body: apiError("Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.", {
          param: 'response_format',
        }),
      },
      { body: chatCompletion(`Here is the plan:\n\`\`\`json\n${JSON.stringify(WIRE_PLAN, null, 2)}\n\`\`\`\nHope that helps!`) },
      { body: chatCompletion(JSON.stringify(WIRE_PLAN)) },
    );
    const openai = planner();

    expect(await openai.plan(request())).toEqual(EXPECTED_PLAN);
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[0].body.response_format).toBeDefined();
    expect(fake.requests[1].body).not.toHaveProperty('response_format');
    expect(systemPrompt(fake.requests[1])).toMatch(/answer with only the JSON/i);

    // The next plan goes straight to text mode.
    expect(await openai.plan(request())).toEqual(EXPECTED_PLAN);
    expect(fake.requests).toHaveLength(3);
    expect(fake.requests[2].body).not.toHaveProperty('response_format');
  });

  it('switches to max_completion_tokens when the model refuses max_tokens', async () => {
    fake.reply(
      {
        status: 400,
        body: apiError("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", {
          param: 'max_tokens',
          code: 'unsupported_parameter',
        }),
      },
      { body: chatCompletion(JSON.stringify(WIRE_PLAN)) },
    );

    expect(await planner({ maxTokens: 500 }).plan(request())).toEqual(EXPECTED_PLAN);
    const retried = fake.requests[1].body;
    expect(retried.max_completion_tokens).toBe(500);
    expect(retried).not.toHaveProperty('max_tokens');
    expect(retried.response_format).toBeDefined();
  });

  it('repairs an invalid plan in one round-trip, telling the model which field was wrong', async () => {
    const invalid = { ...WIRE_PLAN, subtasks: [WIRE_PLAN.subtasks[0], { ...WIRE_PLAN.subtasks[1], target: '  ' }] };
    fake.reply({ body: chatCompletion(JSON.stringify(invalid)) }, { body: chatCompletion(JSON.stringify(WIRE_PLAN)) });

    expect(await planner().plan(request())).toEqual(EXPECTED_PLAN);
    expect(fake.requests).toHaveLength(2);
    const messages = fake.requests[1].body.messages;
    expect(messages.at(-2)).toEqual({ role: 'assistant', content: JSON.stringify(invalid) });
    expect(messages.at(-1).role).toBe('user');
    expect(messages.at(-1).content).toContain('subtasks[1].target');
  });

  it('repairs an answer that is not JSON at all', async () => {
    fake.reply(
      { body: chatCompletion('Sure! The dog becomes a tiger and the grass becomes snow.') },
      { body: chatCompletion(JSON.stringify(WIRE_PLAN)) },
    );

    expect(await planner().plan(request())).toEqual(EXPECTED_PLAN);
    expect(fake.requests[1].body.messages.at(-1).content).toMatch(/no JSON object/);
  });

  it('tells the model its answer was cut off when it hit the token cap', async () => {
    fake.reply(
      { body: chatCompletion(JSON.stringify(WIRE_PLAN).slice(0, 60), { finishReason: 'length' }) },
      { body: chatCompletion(JSON.stringify(WIRE_PLAN)) },
    );

    expect(await planner().plan(request())).toEqual(EXPECTED_PLAN);
    expect(fake.requests[1].body.messages.at(-1).content).toMatch(/cut off/);
  });

  it('gives up with planner_failed naming the field when the repaired plan is still invalid', async () => {
    const badBox = { ...WIRE_PLAN, subtasks: [{ ...WIRE_PLAN.subtasks[0], box: [0.5, 0.4, 0.1, 0.95] }] };
    fake.reply({ body: chatCompletion(JSON.stringify(badBox)) }, { body: chatCompletion(JSON.stringify(badBox)) });

    const error = await failure(planner().plan(request()));

    expect(error.code).toBe('planner_failed');
    expect(error.message).toMatch(/subtasks\[0\]\.box/);
    expect(error.message).not.toMatch(/Invalid plan:/);
    expect(fake.requests).toHaveLength(2);
  });

  it('retries a 429 through the SDK, honouring retry-after-ms', async () => {
    fake.reply(
      {
        status: 429,
        body: apiError('Rate limit reached for requests', { type: 'requests', code: 'rate_limit_exceeded' }),
        headers: { 'retry-after-ms': '10' },
      },
      { body: chatCompletion(JSON.stringify(WIRE_PLAN)) },
    );

    expect(await planner({ maxRetries: 1 }).plan(request())).toEqual(EXPECTED_PLAN);
    expect(fake.requests).toHaveLength(2);
  });

  it('says the service is rate-limiting when the retries run out', async () => {
    const limited = {
      status: 429,
      body: apiError('Rate limit reached for requests', { type: 'requests', code: 'rate_limit_exceeded' }),
      headers: { 'retry-after-ms': '10' },
    };
    fake.reply(limited, limited);

    const error = await failure(planner({ maxRetries: 1 }).plan(request()));

    expect(error.code).toBe('planner_failed');
    expect(error.message).toMatch(/rate-limiting.*after 2 tries/);
    expect(fake.requests).toHaveLength(2);
  });

  it('says the service failed when 5xx answers outlast the retries', async () => {
    const down = { status: 503, body: apiError('The server is overloaded', { type: 'server_error' }), headers: { 'retry-after-ms': '10' } };
    fake.reply(down, down);

    const error = await failure(planner({ maxRetries: 1 }).plan(request()));

    expect(error.code).toBe('planner_failed');
    expect(error.message).toMatch(/HTTP 503.*after 2 tries/);
  });

  it('surfaces a timeout as planner_failed saying how long it waited', async () => {
    fake.reply({ delayMs: 3000, body: chatCompletion(JSON.stringify(WIRE_PLAN)) });
    const started = Date.now();

    const error = await failure(planner({ timeoutMs: 300, maxRetries: 0 }).plan(request()));

    expect(error.code).toBe('planner_failed');
    expect(error.message).toMatch(/^The planner did not answer within 0\.3 s\./);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('says the API key was refused on a 401, without ever repeating the key', async () => {
    fake.reply({
      status: 401,
      body: apiError(`Incorrect API key provided: ${API_KEY}. You can find your API key at https://platform.openai.com/account/api-keys.`, {
        code: 'invalid_api_key',
      }),
    });

    const error = await failure(planner().plan(request()));

    expect(error.code).toBe('planner_failed');
    expect(error.message).toMatch(/refused the API key/);
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(API_KEY);
    expect(JSON.stringify(error.details)).not.toMatch(/sk-test/);
  });

  it('says when the model is unknown to the server', async () => {
    fake.reply({ status: 404, body: apiError("The model 'llava-nope' does not exist", { code: 'model_not_found' }) });

    const error = await failure(planner({ model: 'llava-nope' }).plan(request()));

    expect(error.code).toBe('planner_failed');
    expect(error.message).toMatch(/no model "llava-nope"/);
  });

  it('says when the server cannot be reached', async () => {
    const { baseURL } = fake;
    await fake.close();

    const error = await failure(openAIPlanner({ apiKey: API_KEY, baseURL, maxRetries: 0 }).plan(request()));

    expect(error.code).toBe('planner_failed');
    expect(error.message).toMatch(/Could not reach the planner service/);
    fake = await startFakeOpenAI(); // for afterEach
  });

  it('reports a model refusal as planner_failed without a repair round', async () => {
    fake.reply({ body: chatCompletion(null, { refusal: "I'm sorry, I can't help with that." }) });

    const error = await failure(planner().plan(request()));

    expect(error.code).toBe('planner_failed');
    expect(error.message).toMatch(/declined/);
    expect(fake.requests).toHaveLength(1);
  });

  it('passes the abort signal to the SDK: cancelling mid-request ends it as cancelled', async () => {
    fake.reply({ delayMs: 3000, body: chatCompletion(JSON.stringify(WIRE_PLAN)) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();

    const error = await failure(planner().plan(request(), controller.signal));

    expect(error.code).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('sends nothing when already cancelled', async () => {
    const error = await failure(planner().plan(request(), AbortSignal.abort()));

    expect(error.code).toBe('cancelled');
    expect(fake.requests).toHaveLength(0);
  });

  const tooManyEdits = Array.from({ length: 9 }, (_, i) => `turn object ${i} blue`).join(', ');
  it.each([
    ['an empty request', { text: '   ', image: IMAGE }],
    ['a request over 1000 characters', { text: `make the dog ${'very '.repeat(200)}fluffy`, image: IMAGE }],
    ['more than 8 edits', { text: tooManyEdits, image: IMAGE }],
    ['no image', { text: REQUEST_TEXT }],
  ])('sends nothing for %s', async (_name, bad) => {
    const error = await failure(planner().plan(bad as PlanRequest));

    expect(isGasError(error, 'bad_input')).toBe(true);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('the planner section of the configuration', () => {
  it('is undefined without a key', () => {
    expect(openAIPlannerConfigOf({})).toBeUndefined();
    expect(openAIPlannerConfigOf({ OPENAI_API_KEY: '  ' })).toBeUndefined();
  });

  it('reads the key, base URL and model', () => {
    expect(
      openAIPlannerConfigOf({ OPENAI_API_KEY: 'ollama', OPENAI_BASE_URL: 'http://localhost:11434/v1', GAS_PLANNER_MODEL: 'llava' }),
    ).toEqual({ apiKey: 'ollama', baseURL: 'http://localhost:11434/v1', model: 'llava' });
    expect(openAIPlannerConfigOf({ OPENAI_API_KEY: 'k' })).toEqual({ apiKey: 'k' });
  });
});

describe('extractJson', () => {
  it('finds the first balanced object, ignoring braces inside strings', () => {
    expect(extractJson('Plan: {"a": "x } y", "b": {"c": 1}} and {"d": 2}')).toBe('{"a": "x } y", "b": {"c": 1}}');
    expect(extractJson('no json here')).toBeUndefined();
  });
});
