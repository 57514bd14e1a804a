/** A worker's settings and their defaults, apart from the worker so that the configuration can name them without loading it. */
import { REFERENCE_ITERATIONS } from '../src/distill/modes.js';

export interface GpuWorkerConfig {
  /** Jobs this process runs at once: 1 per GPU. */
  concurrency: number;
  /** A job's lock lasts this long and is renewed at half of it; a dead worker's job is taken over after it. */
  lockDurationMs: number;
  /** How often this worker looks for jobs whose worker died. */
  stalledIntervalMs: number;
  /** A preview image at most this often (and at 25, 50 and 75%). */
  previewIntervalMs: number;
  /** A progress event at most this often (and with every preview, and at the end). */
  progressIntervalMs: number;
  /** Iterations when a job does not say. */
  defaultSteps: number;
  /** A job running longer than this is stopped and fails with `timeout`. */
  jobTimeoutMs: number;
}

export const DEFAULT_WORKER_CONFIG: GpuWorkerConfig = {
  concurrency: 1,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  previewIntervalMs: 2_000,
  progressIntervalMs: 500,
  defaultSteps: REFERENCE_ITERATIONS,
  jobTimeoutMs: 15 * 60_000,
};

