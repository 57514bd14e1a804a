/**
 * The pace of one status message's edits: the latest state wins, an edit starts no sooner than
 * the interval after the previous one finished (so rendering time can never squeeze two platform
 * calls together), one edit is in flight at a time, and the final state is always delivered
 * (retried a few times if the platform refused it; an edit refused for its rate, when the platform
 * says). Where the platform limits edits across
 * messages (edit-budget.ts), each edit also takes a call from that budget first, and waits when
 * there is none. Errors are logged, never thrown.
 */
import type { Logger } from 'pino';
import { PlatformRateLimited } from './transport.js';

export interface CadenceOptions<T> {
  /** Least time between two edits; a function when it changes (a shared budget stretches it). */
  intervalMs: number | (() => number);
  /**
   * Least time before a final state, where `intervalMs` is stretched by a shared budget: the
   * platform's own pace for one message. The budget keeps calls in reserve for final states, so a
   * result is not held back by the others' share.
   */
  finalIntervalMs?: number;
  /** Delivers one state (renders and edits the message). */
  deliver(state: T): Promise<void>;
  isFinal(state: T): boolean;
  logger: Logger;
  /** When the message was last written (its post), so the first edit keeps the interval too. */
  lastWriteAt?: number;
  /** Tries at delivering the final state before giving up. */
  finalAttempts?: number;
  /** A shared budget: 0 when an edit may go now, else how many ms to wait (see EditBudget.take). */
  budget?(final: boolean): Promise<number>;
}

export class EditCadence<T> {
  private pending: T | undefined;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the last write of the message finished. */
  private lastWrite: number;
  /** Not before this (a shared budget asked to wait). */
  private heldUntil = 0;
  private finalTries = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: CadenceOptions<T>) {
    this.lastWrite = options.lastWriteAt ?? 0;
  }

  /** Offers a newer state; an undelivered older one is dropped. */
  push(state: T): void {
    if (this.closed) return;
    this.pending = state;
    // A final state may go sooner than the wait scheduled for an ordinary one.
    if (this.timer && this.options.isFinal(state) && this.options.finalIntervalMs !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pump();
  }

  /** Resolves once nothing is pending or in flight. */
  idle(): Promise<void> {
    if (!this.pending && !this.inFlight) return Promise.resolve();
    return new Promise((done) => this.idleWaiters.push(done));
  }

  /** Drops what is pending and waits for the edit in flight, if any. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    this.settle();
  }

  private interval(state: T): number {
    const { intervalMs, finalIntervalMs } = this.options;
    if (finalIntervalMs !== undefined && this.options.isFinal(state)) return finalIntervalMs;
    return typeof intervalMs === 'function' ? intervalMs() : intervalMs;
  }

  private pump(): void {
    if (this.inFlight || this.timer || this.pending === undefined || this.closed) return;
    const wait = Math.max(this.lastWrite + this.interval(this.pending), this.heldUntil) - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    const state = this.pending;
    this.pending = undefined;
    this.inFlight = this.attempt(state).finally(() => {
      this.inFlight = undefined;
      this.pump();
      this.settle();
    });
  }

  /** One try at delivering `state`: a budget that says wait puts it back, unless a newer state came meanwhile. */
  private async attempt(state: T): Promise<void> {
    const final = this.options.isFinal(state);
    const held = await this.options.budget?.(final).catch((error: unknown) => {
      // A budget that cannot be read must not stop the status: edit, and let the platform say no.
      this.options.logger.warn({ err: error }, 'could not read the edit budget');
      return 0;
    });
    if (held !== undefined && held > 0) {
      this.heldUntil = Date.now() + held;
      if (this.pending === undefined) this.pending = state;
      return;
    }
    try {
      await this.options.deliver(state);
    } catch (error) {
      if (error instanceof PlatformRateLimited) {
        // The platform said when: wait that long, then send whatever is latest (this state, unless a newer came).
        this.options.logger.info({ retryAfterMs: error.retryAfterMs, scope: error.scope }, 'status edit rate-limited by the platform; waiting');
        this.heldUntil = Date.now() + error.retryAfterMs;
        if (this.pending === undefined) this.pending = state;
        return;
      }
      this.options.logger.warn({ err: error }, 'could not edit a status message');
      const attempts = this.options.finalAttempts ?? 3;
      // A final state lost would leave the message showing an unfinished job forever.
      if (final && this.pending === undefined && ++this.finalTries < attempts) this.pending = state;
    } finally {
      this.lastWrite = Date.now();
    }
  }

  private settle(): void {
    if (this.pending !== undefined && !this.closed) return;
    if (this.inFlight) return;
    for (const done of this.idleWaiters.splice(0)) done();
  }
}
