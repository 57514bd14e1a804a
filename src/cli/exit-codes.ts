/** Exit codes of the `gas` command, by error code. */
import type { ErrorCode } from '../errors.js';

export const EXIT = { ok: 0, failed: 1, badInput: 2, setup: 3, cancelled: 130 } as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'bad_input':
    case 'bad_image':
    case 'bad_plan':
    case 'not_found':
      return EXIT.badInput;
    case 'bundle_invalid':
    case 'provider_unavailable':
      return EXIT.setup;
    case 'cancelled':
      return EXIT.cancelled;
    case 'model_error':
    case 'planner_failed':
      return EXIT.failed;
  }
}
