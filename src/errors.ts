/**
 * The one list of error codes. A GasError's message is for the person at hand when the error is
 * shown where it happened (the CLI): short, naming the problem and the fix. Details (paths, shapes,
 * stack) go to `details` and to logs only. What crosses the queue is the code and `facts`, from
 * which each front end words the failure itself.
 */
import { z } from 'zod';

/**
 * Text that may be shown to anyone in a chat: short, one line, nothing that looks like a file path,
 * a URL with credentials or a stack frame (a guard: facts are chosen fields, never raw errors).
 */
const shownText = (max: number) =>
  z.string().max(max).refine((text) => !UNSAFE_TEXT.test(text), 'must not look like a path, a credential or a stack trace');
const UNSAFE_TEXT = /[\r\n]|(?:^|[\s"'(])(?:~|\.{1,2})?\/[\w.-]+\/|[A-Za-z]:\\|\w+:\/\/[^\s/]*@|\bat\s+\S+\s+\(|\bsk-[A-Za-z0-9]{8,}/;

/**
 * The person-relevant facts of a failure that a front end words it from: safe fields only, each
 * optional. Never paths, stack traces, raw model output or secrets; unknown fields are refused.
 */
export const failureFactsSchema = z
  .object({
    /** not_found: the phrases found nowhere in the image. */
    missing: z.array(shownText(200)).max(8).optional(),
    /** not_found: whether a detector looked for them (else boxes came from the person or the planner only). */
    detector: z.boolean().optional(),
    /** timeout: the time limit the edit ran past; expired: how long the check waited for Go. */
    limitMs: z.number().int().min(0).optional(),
    /** bad_input / bad_plan from the planner: its message, written for the person who made the request. */
    reason: shownText(300).optional(),
    /** internal: how many times a worker failure interrupted the edit before it was given up. */
    attempts: z.number().int().min(1).optional(),
    /** bad_input: the job's payload broke the contract (a fault in the app that sent it, not the person's request). */
    malformed: z.boolean().optional(),
  })
  .strict();
export type FailureFacts = z.infer<typeof failureFactsSchema>;

export const ERROR_CODES = {
  bad_input: 'The request or its options are invalid.',
  bad_image: 'The image could not be used.',
  bad_plan: 'The edit plan is invalid.',
  bundle_invalid: 'A model bundle is missing or malformed.',
  provider_unavailable: 'The requested execution provider is not available.',
  planner_failed: 'The request could not be turned into a plan.',
  not_found: 'An object named in the request was not found in the image.',
  model_error: 'A model produced an unusable result.',
  cancelled: 'The edit was cancelled.',
  timeout: 'The edit took longer than allowed.',
  expired: 'The edit waited for its masks to be checked, and nobody started it in time.',
  busy: 'The service is at capacity.',
  too_many_jobs: 'The person already has as many edits running as allowed.',
  not_allowed: 'The person may not do that.',
  internal: 'Something went wrong on our side.',
  service_unavailable: 'A service the edit needs (Redis, the chat platform) cannot be reached.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class GasError extends Error {
  override readonly name = 'GasError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    /** What a front end elsewhere may word the failure from (see failureFactsSchema). */
    readonly facts?: FailureFacts,
  ) {
    super(message);
  }
}

/** The facts of an error that are safe to send: those that pass the schema, or none. */
export function safeFacts(error: unknown): FailureFacts {
  if (!(error instanceof GasError) || !error.facts) return {};
  const parsed = failureFactsSchema.safeParse(error.facts);
  return parsed.success ? parsed.data : {};
}

export function isGasError(error: unknown, code?: ErrorCode): error is GasError {
  return error instanceof GasError && (code === undefined || error.code === code);
}
