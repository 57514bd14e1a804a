/**
 * The engine's modes by name: a leaf module, so that contracts which name a mode (the job
 * contract, the CLI's choices) need not import the engine itself.
 */

export const SCHEDULES = ['aggregated', 'official'] as const;
/** `aggregated`: one t, ε and UNet run per iteration, all terms summed (the paper's Fig. 2). `official`: the reference code's sequential order (docs/algorithm.md §10). */
export type Schedule = (typeof SCHEDULES)[number];

/** The paper's Section 5 ablations (docs/algorithm.md §13). */
export const ABLATIONS = ['no-subtasks', 'no-masks', 'no-full-prompt', 'no-null-penalty'] as const;
export type Ablation = (typeof ABLATIONS)[number];

/** The most iterations one edit may run, and the largest seed (a signed 32-bit integer, as the reference's; docs/algorithm.md §9, §10.4). */
export const MAX_STEPS = 10_000;
export const MAX_SEED = 2 ** 31 - 1;

/** Iterations of one edit in the reference (docs/algorithm.md §15): the default step count everywhere. */
export const REFERENCE_ITERATIONS = 500;
