/**
 * When a waiting job should start: the jobs ahead of it (running, with the iterations they have
 * left; waiting, with the iterations they asked for), laid out on the worker slots in order, at the
 * iteration rate and per-job overhead the workers measured on their recent runs. Before any run
 * was measured, every job counts as one mean duration (`startsIn`). Pure, so the arithmetic is
 * tested on its own.
 */

/** What the workers measured of one finished edit. */
export interface RunSample {
  /** Engine iterations per second of its edit loop. */
  itPerSec: number;
  /** Everything else: planning, grounding, encoding, decoding, storing. */
  overheadMs: number;
  /** The steps a job gets from that worker when it asks for none. */
  defaultSteps: number;
}

/** A job ahead: how many iterations it asked for, and how many it has run (running jobs). */
export interface JobAhead {
  steps?: number;
  /** Iterations already run; absent for a waiting job. */
  done?: number;
  running: boolean;
}

/** The typical worker from recent samples: median rate and overhead, the latest default steps. */
export function typicalRun(samples: readonly RunSample[]): RunSample | undefined {
  const usable = samples.filter((s) => s.itPerSec > 0 && Number.isFinite(s.itPerSec) && s.overheadMs >= 0);
  if (usable.length === 0) return undefined;
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  return { itPerSec: median(usable.map((s) => s.itPerSec)), overheadMs: median(usable.map((s) => s.overheadMs)), defaultSteps: usable[0].defaultSteps };
}

/** How long one job takes (a running one: what it has left), at the typical rate. */
function timeOf(job: JobAhead, run: RunSample): number {
  const steps = job.steps ?? run.defaultSteps;
  const loop = (Math.max(0, steps - (job.done ?? 0)) / run.itPerSec) * 1000;
  // A running job that has not reported an iteration is still planning and grounding.
  return job.running && (job.done ?? 0) > 0 ? loop : loop + run.overheadMs;
}

/**
 * When a job starts, and when it finishes: each slot takes the next job ahead as it frees up, in
 * order; the job starts when a slot frees after every job ahead has one.
 */
export function estimateBySteps(ahead: readonly JobAhead[], own: { steps?: number }, slots: number, run: RunSample): { startsInMs: number; etaMs: number } {
  const free = new Array<number>(Math.max(1, slots)).fill(0);
  const earliest = () => free.indexOf(Math.min(...free));
  // Running jobs hold their slots first; jobs waiting ahead follow in queue order.
  for (const job of [...ahead.filter((j) => j.running), ...ahead.filter((j) => !j.running)]) free[earliest()] += timeOf(job, run);
  const startsInMs = Math.round(Math.min(...free));
  return { startsInMs, etaMs: Math.round(startsInMs + timeOf({ steps: own.steps, running: false }, run)) };
}

/**
 * When a job starts with `ahead` jobs waiting or running before it on `workers` workers, each
 * taking `meanMs`: once all but `workers - 1` of them have finished, at `workers` jobs per mean.
 */
export function startsIn(ahead: number, workers: number, meanMs: number): number {
  return Math.round((Math.max(0, ahead - workers + 1) * meanMs) / workers);
}
