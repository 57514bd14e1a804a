/**
 * The one list of error codes. A GasError's message is for people: short, naming the problem
 * and the fix. Details (paths, shapes, stack) go to `details` and to logs only.
 */
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
  busy: 'The service is at capacity.',
  too_many_jobs: 'The person already has as many edits running as allowed.',
  not_allowed: 'The person may not do that.',
  internal: 'Something went wrong on our side.',
  service_unavailable: 'A service the edit needs (Redis) cannot be reached.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class GasError extends Error {
  override readonly name = 'GasError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function isGasError(error: unknown, code?: ErrorCode): error is GasError {
  return error instanceof GasError && (code === undefined || error.code === code);
}
