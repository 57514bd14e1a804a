/**
 * What `gas` says about a failure, from its code and details: for `gas edit` (in-process, where
 * the flags that fix it are at hand) and for a queued job that `gas submit --wait` followed.
 */
import type { ErrorCode, FailureFacts } from '../errors.js';

/** Words for a code whose details say nothing more. */
const CLI_FAILURE_WORDS: Record<ErrorCode, string> = {
  bad_input: 'The request or its options are invalid; check them and submit again.',
  bad_image: 'The image could not be used: give a JPEG, PNG, WebP, GIF, AVIF/HEIF or TIFF photo.',
  bad_plan: 'The edit plan is invalid: rephrase the request, or write the plan with --plan plan.json.',
  bundle_invalid: "The worker's model bundle is missing or malformed: see the worker's log.",
  provider_unavailable: "The worker's execution provider is not available: see the worker's log.",
  planner_failed: 'The request could not be turned into a plan: rephrase it, or write the plan with --plan plan.json.',
  not_found: 'An object named in the request was not found in the image: rephrase it, or give its box with --plan plan.json.',
  model_error: 'The model produced an unusable result (NaN); submit again with another --seed.',
  cancelled: 'The edit was cancelled.',
  timeout: 'The edit took longer than the worker allows and was stopped: try fewer --steps or a smaller image.',
  expired: 'The edit waited for its masks to be checked and nobody started it in time; submit it again.',
  busy: 'The queue is full; try again in a few minutes.',
  too_many_jobs: 'This user already has as many edits in the queue as allowed; wait for one to finish, or cancel one.',
  not_allowed: 'This user may not do that.',
  internal: "Something went wrong in the worker; see the worker's log, and submit again.",
  service_unavailable: 'Redis cannot be reached; check REDIS_URL and that Redis is running.',
};

export interface FailureContext {
  /** The queued job that failed (`gas submit --wait`); absent: the edit ran here (`gas edit`, `gas plan`). */
  jobId?: string;
  /** What to say when the details say nothing more (in-process: the error's own message). */
  fallback?: string;
}

/** The message for a failure, by its code and details. */
export function describeFailure(code: ErrorCode, details: FailureFacts, context: FailureContext = {}): string {
  const text = fromDetails(code, details, context.jobId !== undefined) ?? context.fallback ?? CLI_FAILURE_WORDS[code];
  return context.jobId === undefined ? text : `${text} (job ${context.jobId})`;
}

function fromDetails(code: ErrorCode, details: FailureFacts, queued: boolean): string | undefined {
  switch (code) {
    case 'not_found': {
      if (!details.missing?.length) return undefined;
      const names = details.missing.map((p) => `"${p}"`).join(', ');
      return `I could not find ${names} in the image. ${notFoundFix(details.missing[0], details.detector ?? false, queued)}`;
    }
    case 'timeout':
      return details.limitMs === undefined ? undefined : `The edit took longer than ${formatLimit(details.limitMs)} and was stopped. Try fewer --steps or a smaller image.`;
    case 'expired':
      return details.limitMs === undefined ? undefined : `The edit waited ${formatLimit(details.limitMs)} for its masks to be checked and nobody started it; submit it again.`;
    case 'bad_input':
      if (details.malformed) return "The job's payload broke the job contract: a fault in the program that submitted it, not in the request.";
      return details.reason;
    case 'bad_plan':
      return details.reason;
    case 'internal':
      return details.attempts === undefined ? undefined : `The edit was interrupted ${details.attempts} times by a worker failure and was stopped; submit it again.`;
    default:
      return undefined;
  }
}

/** What fixes a phrase not found: flags for `gas edit`; a plan file for a queued job (the worker's detector is not ours to change). */
function notFoundFix(phrase: string, detector: boolean, queued: boolean): string {
  if (queued) return `The grounded event's overlay shows what was found; rephrase, or give its box yourself in a plan file (--plan plan.json, "box": [x0, y0, x1, y1]).`;
  return detector
    ? `Check the mask overlay, rephrase, or give the box yourself with --box "${phrase}=x0,y0,x1,y1".`
    : `No detector is installed: give --detector (GroundingDINO), boxes with --box "${phrase}=x0,y0,x1,y1", or use the openai planner, which can return boxes.`;
}

/** A time limit as people say it: "40 s", "15 min". */
const formatLimit = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 6000) / 10} min`);
