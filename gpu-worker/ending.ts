/**
 * How one run of a job ended, and what each ending means, as one table: the terminal event it
 * publishes (if any), how the metrics count it, the log line, and what BullMQ is told. Every run
 * ends through `endRun`, so every job gets exactly one terminal event.
 */
import { UnrecoverableError, WaitingError } from 'bullmq';
import type { ErrorCode, FailureFacts } from '../src/errors.js';
import type { BlobRef, JobEventBody } from '../src/jobs/contracts.js';
import type { JobOutcome } from '../src/ops/metrics.js';
import type { Plan } from '../src/plan/schema.js';

export type JobEnding =
  | { kind: 'done'; result: BlobRef; overlay: BlobRef; plan: Plan; seed: number; timings: Record<string, number>; intensity?: number[] }
  /** `facts` go to the person (the failure's details); `error` and its details to the log only. */
  | { kind: 'failed'; code: ErrorCode; facts: FailureFacts; error: unknown }
  | { kind: 'cancelled'; by?: string }
  | { kind: 'timed-out' }
  /** Shutdown: back to the queue for another worker. */
  | { kind: 'handed-back' }
  /** This run lost its lock and another run owns the job: stop, publish and count nothing. */
  | { kind: 'superseded' }
  /**
   * Paused for the masks to be checked (its `checking` event is out): no terminal event, the
   * person's slot kept; Go, a cancel or the expiry ends it later, outside this run.
   */
  | { kind: 'paused' };

/** Failures caused by what a person sent, not by the service. */
const PERSON_MISTAKES: ReadonlySet<ErrorCode> = new Set(['bad_input', 'bad_image', 'bad_plan', 'not_found']);

export type TerminalBody = JobEventBody & { type: 'done' | 'failed' | 'cancelled' };

/** What one kind of ending does. */
export interface EndingRule<E extends JobEnding> {
  /** The terminal event, if the ending has one. */
  terminal?(ending: E, context: { jobTimeoutMs: number }): TerminalBody;
  /** How the metrics count it: an outcome (with a failure code), or abandoned (no outcome). */
  counted: { outcome: JobOutcome; code?(ending: E): string } | 'abandoned';
  /** Only a finished edit's duration feeds the ETAs. */
  recordsDuration?: boolean;
  log(ending: E): { level: 'info' | 'warn' | 'error'; fields?: Record<string, unknown>; message: string };
  /** What BullMQ is told: the job completed, failed for good, or is no longer this run's. */
  bull: 'completed' | 'failed' | 'not-ours';
}

type Rules = { [K in JobEnding['kind']]: EndingRule<Extract<JobEnding, { kind: K }>> };

export const ENDINGS: Rules = {
  done: {
    terminal: ({ kind: _, ...body }) => ({ type: 'done', ...body }),
    counted: { outcome: 'done' },
    recordsDuration: true,
    log: (ending) => ({ level: 'info', fields: { seed: ending.seed }, message: 'job done' }),
    bull: 'completed',
  },
  failed: {
    terminal: (ending) => ({ type: 'failed', code: ending.code, details: ending.facts }),
    counted: { outcome: 'failed', code: (ending) => ending.code },
    // A person's mistake (a phrase not found, a request that cannot be read) is no fault of ours:
    // info, with the facts and no stack. Anything else: the error once, with its details.
    log: (ending) =>
      PERSON_MISTAKES.has(ending.code)
        ? { level: 'info', fields: { code: ending.code, facts: ending.facts }, message: 'job failed' }
        : { level: 'error', fields: { err: ending.error, code: ending.code }, message: 'job failed' },
    bull: 'failed',
  },
  'timed-out': {
    terminal: (_, { jobTimeoutMs }) => ({ type: 'failed', code: 'timeout', details: { limitMs: jobTimeoutMs } }),
    counted: { outcome: 'failed', code: () => 'timeout' },
    log: () => ({ level: 'warn', message: 'job timed out' }),
    bull: 'failed',
  },
  cancelled: {
    terminal: (ending) => ({ type: 'cancelled', by: ending.by }),
    counted: { outcome: 'cancelled' },
    log: () => ({ level: 'info', message: 'job cancelled' }),
    bull: 'completed',
  },
  'handed-back': {
    counted: { outcome: 'cancelled' },
    log: () => ({ level: 'info', message: 'job handed back on shutdown' }),
    bull: 'not-ours',
  },
  superseded: {
    counted: 'abandoned',
    log: () => ({ level: 'warn', message: 'job lost its lock (Redis was unreachable for longer than the lock); this run stopped and another runs the job' }),
    bull: 'not-ours',
  },
  paused: {
    counted: 'abandoned',
    log: () => ({ level: 'info', message: 'job paused for its masks to be checked' }),
    bull: 'completed',
  },
};

/** The rule of an ending's kind. */
export function ruleFor<E extends JobEnding>(ending: E): EndingRule<E> {
  return ENDINGS[ending.kind] as unknown as EndingRule<E>;
}

/** What BullMQ's processor returns or throws for an ending. */
export function bullmqAnswer(ending: JobEnding): { outcome: string } {
  switch (ENDINGS[ending.kind].bull) {
    case 'completed':
      return { outcome: ending.kind };
    case 'failed':
      // Bad input and model errors do not get better by retrying.
      throw new UnrecoverableError(ending.kind === 'failed' ? `failed: ${ending.code}` : 'timeout');
    case 'not-ours':
      // The job is another run's now (or will be, once the stalled check sees it), or back in the queue.
      throw new WaitingError();
  }
}
