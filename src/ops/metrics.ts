/**
 * Prometheus metrics for one service process (GPU worker or adapter): queue depth, the jobs this
 * process runs, their durations, iteration rates and outcomes. Each instance owns its registry,
 * never prom-client's global one, so several can live in one process (and in tests). The queue is
 * read through an injected callback, so this module knows nothing about BullMQ.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { withTimeout } from './timeout.js';

/** The queue states reported by `gas_queue_depth`; counts for any other state are ignored. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'held', 'checking'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];
export type QueueDepth = Partial<Record<QueueState, number>>;

export const JOB_OUTCOMES = ['done', 'failed', 'cancelled'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** Failure label values: every error code, plus `internal` for errors that carry none. */
export type FailureCode = ErrorCode | 'internal';
export const FAILURE_CODES: readonly FailureCode[] = [
  ...new Set<FailureCode>([...(Object.keys(ERROR_CODES) as ErrorCode[]), 'internal']),
];

/** Seconds; an edit takes from a second (a few iterations) to minutes (thousands on a CPU). */
export const JOB_DURATION_BUCKETS_S = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600] as const;

export interface ServiceMetricsOptions {
  /** Job counts by state, read on every scrape (typically BullMQ's `getJobCounts`). */
  queueDepth: () => Promise<Record<string, number>>;
  /** A scrape stops waiting for `queueDepth` after this long and reports no depth. Default 2000. */
  queueDepthTimeoutMs?: number;
  /** Told when `queueDepth` fails or times out (for logs); the scrape still succeeds. */
  onCollectError?: (error: unknown) => void;
}

/** What a bot process holds on one platform, for /metrics. */
export interface BotPlatformState {
  platform: string;
  /** Status messages it follows (holds the lease of). */
  statuses: number;
  connected: boolean;
  /** Whether it holds a connection only one process may open; absent where any may. */
  leader?: boolean;
  shards: readonly number[];
}

export interface JobFinished {
  /** Wall time of the job in this process, in milliseconds. */
  durationMs: number;
  /** Engine iterations the job completed (0 when it stopped before the edit loop). */
  iterations: number;
  /** For `failed`: the error's code; missing or unknown codes count as `internal`. */
  code?: string;
}

const DEFAULT_QUEUE_DEPTH_TIMEOUT_MS = 2000;

export class ServiceMetrics {
  /** This instance's registry: serve `registry.metrics()` with `registry.contentType`. */
  readonly registry = new Registry();

  private readonly activeJobs: Gauge;
  private readonly jobDuration: Histogram<'outcome'>;
  private readonly iterationsTotal: Counter;
  private readonly iterationsPerSecond: Gauge;
  private readonly jobsTotal: Counter<'outcome'>;
  private readonly failuresTotal: Counter<'code'>;
  private running = 0;

  constructor(options: ServiceMetricsOptions) {
    const queueDepthTimeoutMs = options.queueDepthTimeoutMs ?? DEFAULT_QUEUE_DEPTH_TIMEOUT_MS;
    if (!Number.isFinite(queueDepthTimeoutMs) || queueDepthTimeoutMs <= 0) {
      throw new RangeError(`queueDepthTimeoutMs must be a positive number of milliseconds, got ${queueDepthTimeoutMs}`);
    }
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    const queueDepth: Gauge<'state'> = new Gauge({
      name: 'gas_queue_depth',
      help: 'Jobs in the edit queue by state (waiting, active, delayed, held, checking: paused for their masks to be checked), read from the queue at scrape time.',
      labelNames: ['state'],
      registers,
      collect: async () => {
        queueDepth.reset();
        try {
          const counts = await withTimeout(options.queueDepth(), queueDepthTimeoutMs, 'queue depth');
          for (const state of QUEUE_STATES) queueDepth.set({ state }, finiteOrZero(counts[state]));
        } catch (error) {
          // No series is better than a stale one; the rest of the scrape still answers.
          options.onCollectError?.(error);
        }
      },
    });
    this.activeJobs = new Gauge({ name: 'gas_active_jobs', help: 'Edit jobs running in this process right now.', registers });
    this.jobDuration = new Histogram({
      name: 'gas_job_duration_seconds',
      help: 'Wall time of edit jobs run by this process, from start to done, failed or cancelled, by outcome.',
      labelNames: ['outcome'],
      buckets: [...JOB_DURATION_BUCKETS_S],
      registers,
    });
    this.iterationsTotal = new Counter({ name: 'gas_iterations_total', help: 'Ground-A-Score engine iterations completed by this process, over all jobs.', registers });
    this.iterationsPerSecond = new Gauge({ name: 'gas_iterations_per_second', help: 'Engine iterations per second of the last job that ran any, over its whole wall time.', registers });
    this.jobsTotal = new Counter({ name: 'gas_jobs_total', help: 'Edit jobs finished by this process, by outcome (done, failed, cancelled).', labelNames: ['outcome'], registers });
    this.failuresTotal = new Counter({ name: 'gas_failures_total', help: 'Failed edit jobs by error code (the codes of src/errors.ts, or internal for errors without one).', labelNames: ['code'], registers });

    // Every series exists from the start, so rates and alerts see zeros rather than gaps.
    for (const outcome of JOB_OUTCOMES) {
      this.jobsTotal.inc({ outcome }, 0);
      this.jobDuration.zero({ outcome });
    }
    for (const code of FAILURE_CODES) this.failuresTotal.inc({ code }, 0);
  }

  /**
   * Reports what a bot process holds at each scrape: per platform, the status messages it follows
   * (their leases), whether its connection is up, whether it leads a connection only one process
   * may open, and its shards.
   */
  watchBotProcess(read: () => ReadonlyArray<BotPlatformState>): void {
    // Each series is filled from one read at scrape time; labels that are gone disappear.
    const series: Array<[name: string, help: string, labels: string[], fill: (set: (labels: Record<string, string>, value: number) => void, state: BotPlatformState) => void]> = [
      ['gas_status_leases', 'Status messages this bot process follows (holds the lease of), by platform.', ['platform'], (set, p) => set({ platform: p.platform }, p.statuses)],
      [
        'gas_platform_connection',
        "This bot process's platform connection: 1 when up, by platform and role (leader, standby, or single where any process may connect).",
        ['platform', 'role'],
        (set, p) => set({ platform: p.platform, role: p.leader === undefined ? 'single' : p.leader ? 'leader' : 'standby' }, p.connected ? 1 : 0),
      ],
      ['gas_shards', 'The gateway shards this bot process serves, by platform (1 per shard).', ['platform', 'shard'], (set, p) => p.shards.forEach((shard) => set({ platform: p.platform, shard: String(shard) }, 1))],
    ];
    for (const [name, help, labelNames, fill] of series) {
      const gauge: Gauge<string> = new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect: () => {
          gauge.reset();
          for (const state of read()) fill((labels, value) => gauge.set(labels, value), state);
        },
      });
    }
  }

  /** A job began running in this process. */
  jobStarted(): void {
    this.running += 1;
    this.activeJobs.set(this.running);
  }

  /** A job that `jobStarted` announced ended: its duration, iterations and (if failed) code. */
  jobFinished(outcome: JobOutcome, { durationMs, iterations, code }: JobFinished): void {
    if (!JOB_OUTCOMES.includes(outcome)) {
      throw new RangeError(`outcome must be one of ${JOB_OUTCOMES.join(', ')}, got ${String(outcome)}`);
    }
    if (!Number.isFinite(durationMs) || durationMs < 0) {
      throw new RangeError(`durationMs must be a finite number >= 0, got ${durationMs}`);
    }
    if (!Number.isInteger(iterations) || iterations < 0) {
      throw new RangeError(`iterations must be an integer >= 0, got ${iterations}`);
    }
    // Never below zero, even if a job is reported finished without having been started.
    this.running = Math.max(0, this.running - 1);
    this.activeJobs.set(this.running);

    this.jobsTotal.inc({ outcome });
    this.jobDuration.observe({ outcome }, durationMs / 1000);
    if (outcome === 'failed') this.failuresTotal.inc({ code: failureCode(code) });
    if (iterations > 0) {
      this.iterationsTotal.inc(iterations);
      if (durationMs > 0) this.iterationsPerSecond.set(iterations / (durationMs / 1000));
    }
  }

  /**
   * A job that `jobStarted` announced stopped here without an ending of its own (it lost its
   * lock and another worker runs it): it no longer runs, and counts as no outcome.
   */
  jobAbandoned(): void {
    this.running = Math.max(0, this.running - 1);
    this.activeJobs.set(this.running);
  }

  /** The jobs `jobStarted` announced that have not finished yet. */
  get activeJobCount(): number {
    return this.running;
  }

  /** The exposition text of every metric in this instance's registry. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type for `metrics()`. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/** `code` as a failure label value: an error code, or `internal`. */
export function failureCode(code: string | undefined): FailureCode {
  return code !== undefined && Object.hasOwn(ERROR_CODES, code) ? (code as ErrorCode) : 'internal';
}

function finiteOrZero(value: number | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
