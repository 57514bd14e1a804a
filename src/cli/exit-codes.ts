/** Exit codes of the `gas` command, by error code. */
import type { ErrorCode } from '../errors.js';

/** 75 is sysexits' EX_TEMPFAIL: try again later. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, setup: 3, tryLater: 75, cancelled: 130 } as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'bad_input':
    case 'bad_image':
    case 'bad_plan':
    case 'not_found':
      return EXIT.badInput;
    case 'bundle_invalid':
    case 'provider_unavailable':
    case 'service_unavailable':
      return EXIT.setup;
    case 'cancelled':
      return EXIT.cancelled;
    case 'not_allowed':
      return EXIT.badInput;
    case 'busy':
    case 'too_many_jobs':
    case 'expired':
      return EXIT.tryLater;
    case 'model_error':
    case 'timeout':
    case 'planner_failed':
    case 'internal':
      return EXIT.failed;
  }
}
