/**
 * A failure crosses the queue as a code and safe details; each front end words it. Every code is
 * worded by the chat renderer and by the CLI, details sharpen the words, and no detail can carry
 * a path, a credential or a stack trace.
 */
import { describe, expect, it } from 'vitest';
import { applyEvent, newJobView, renderStatus } from '../src/chat/render.js';
import { describeFailure } from '../src/cli/failure-words.js';
import { ERROR_CODES, GasError, failureFactsSchema, safeFacts, type ErrorCode, type FailureFacts } from '../src/errors.js';
import { jobEventBodySchema, type JobEvent } from '../src/jobs/contracts.js';
import { testFormat } from './helpers/chat-transport.js';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** The state line of a chat status message after the job failed with `code` and `details`. */
function chatWords(code: ErrorCode, details: FailureFacts = {}): string {
  const view = applyEvent(newJobView({ jobId: 'j1', request: 'turn the dog into a tiger' }), { jobId: 'j1', seq: 1, at: 0, type: 'failed', code, details } as JobEvent);
  return renderStatus(view, testFormat).text.split('\n')[1];
}

describe('failure words', () => {
  it.each(CODES)('words %s in chat and at the shell, the shell with the job id', (code) => {
    const chat = chatWords(code);
    const cli = describeFailure(code, {}, { jobId: 'j1' });
    expect(chat).toMatch(/^[A-Z].{10,}\.$/);
    expect(cli).toMatch(/^[A-Z].{10,}\. \(job j1\)$/);
    // Words for people, not the code's identifier.
    for (const words of [chat, cli]) expect(words).not.toMatch(/\b[a-z]+_[a-z_]+\b/);
  });

  const detailed: [string, ErrorCode, FailureFacts, string, string][] = [
    [
      'not found: the phrases, and what to do where the person is',
      'not_found', { missing: ['cat', 'the red car'], detector: true },
      'I could not find "cat", "the red car" in the image. The masks show what I found; name it as it appears in the photo, or leave it out, and try again.',
      'I could not find "cat", "the red car" in the image. The grounded event\'s overlay shows what was found; rephrase, or give its box yourself in a plan file (--plan plan.json, "box": [x0, y0, x1, y1]). (job j1)',
    ],
    [
      'timeout: the limit it ran past',
      'timeout', { limitMs: 900_000 },
      'The edit took longer than 15 min and was stopped. Try fewer steps or a smaller image.',
      'The edit took longer than 15 min and was stopped. Try fewer --steps or a smaller image. (job j1)',
    ],
    [
      "bad plan: the planner's own words for the person",
      'bad_plan', { reason: 'The request changes "dog" twice; say once what it should become.' },
      'The request changes "dog" twice; say once what it should become.',
      'The request changes "dog" twice; say once what it should become. (job j1)',
    ],
    [
      'malformed payload: not the person\'s fault',
      'bad_input', { malformed: true },
      'This edit request was malformed: a fault in the app that sent it, not in your request. Tell an admin.',
      "The job's payload broke the job contract: a fault in the program that submitted it, not in the request. (job j1)",
    ],
    [
      'interrupted by worker failures: how often',
      'internal', { attempts: 2 },
      'The edit was interrupted twice by a worker failure and was stopped. Press Retry to try again.',
      'The edit was interrupted 2 times by a worker failure and was stopped; submit it again. (job j1)',
    ],
    [
      'expired: how long the check waited for Go',
      'expired', { limitMs: 600_000 },
      'Nobody pressed Go within 10 min, so this edit was not started. Press Retry to start it again.',
      'The edit waited 10 min for its masks to be checked and nobody started it; submit it again. (job j1)',
    ],
  ];

  it.each(detailed)('%s', (_name, code, details, chat, cli) => {
    expect(chatWords(code, details)).toBe(chat);
    expect(describeFailure(code, details, { jobId: 'j1' })).toBe(cli);
  });

  it('gives `gas edit` the flags that fix a phrase not found: --box, and --detector when none is installed', () => {
    expect(describeFailure('not_found', { missing: ['cat'], detector: true })).toBe(
      'I could not find "cat" in the image. Check the mask overlay, rephrase, or give the box yourself with --box "cat=x0,y0,x1,y1".',
    );
    expect(describeFailure('not_found', { missing: ['cat'], detector: false })).toMatch(/^I could not find "cat" in the image\. No detector is installed: give --detector \(GroundingDINO\), boxes with --box "cat=/);
  });

  it("keeps an in-process error's own message when its details say nothing more", () => {
    expect(describeFailure('bundle_invalid', {}, { fallback: 'No unet/model.onnx in models/sd15: export the UNet too.' })).toBe('No unet/model.onnx in models/sd15: export the UNet too.');
  });

  it('escapes chat markup in a reason and clips it', () => {
    const words = chatWords('bad_input', { reason: `"*${'x'.repeat(290)}" is too long.` });
    expect(words.startsWith('"\\*xxx')).toBe(true);
    expect(words).toMatch(/…\.$|…$/);
  });
});

describe('failure details', () => {
  const unsafe: [string, FailureFacts | Record<string, unknown>][] = [
    ['an absolute path', { reason: 'Could not read /srv/gas/models/unet/model.onnx.' }],
    ['a relative path', { reason: 'bad file ./models/sd15/config.json' }],
    ['a Windows path', { reason: 'missing C:\\models\\unet.onnx' }],
    ['a stack frame', { reason: 'Error: boom at runPipeline (file:///app/run.js:1:2)' }],
    ['a URL with a password', { reason: 'no answer from redis://:hunter2@redis:6379' }],
    ['an API key', { reason: 'key sk-abcdef0123456789 was refused' }],
    ['several lines', { reason: 'first line\nsecond line' }],
    ['a path as a missing phrase', { missing: ['/etc/passwd/x'] }],
    ['a field outside the list', { path: 'models/sd15' }],
    ['raw model output', { output: '{"subtasks": [' }],
  ];

  it.each(unsafe)('refuses %s', (_name, details) => {
    expect(failureFactsSchema.safeParse(details).success).toBe(false);
    expect(jobEventBodySchema.safeParse({ type: 'failed', code: 'internal', details }).success).toBe(false);
    expect(safeFacts(new GasError('internal', 'x', undefined, details as FailureFacts))).toEqual({});
  });

  it('keeps the facts a person needs, and reads an old failure event without details as having none', () => {
    const facts = { missing: ['the dog', 'grass'], detector: false, limitMs: 400, reason: 'Write each edit like "turn the dog into a tiger".', attempts: 2, malformed: true };
    expect(safeFacts(new GasError('not_found', 'x', { path: '/srv/x' }, facts))).toEqual(facts);
    expect(jobEventBodySchema.parse({ type: 'failed', code: 'timeout', userMessage: 'The edit took longer than 0.4 s (job 1).' })).toEqual({ type: 'failed', code: 'timeout', details: {} });
  });

  it('never sends the log details of an error, only its facts', () => {
    const error = new GasError('bundle_invalid', 'No unet/model.onnx in /srv/models.', { dir: '/srv/models' });
    expect(safeFacts(error)).toEqual({});
    expect(safeFacts(new Error('/srv/secret'))).toEqual({});
  });
});
