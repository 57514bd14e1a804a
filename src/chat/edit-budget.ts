/**
 * A platform's budget of status edits per minute, shared by every live status and every bot
 * process (in Redis), where the platform limits edits per workspace rather than per message
 * (Slack's chat.update is Tier 3: about 50 a minute per app per workspace). The cadence of each
 * status stretches with the number of live statuses, so together they stay inside the budget; a
 * status's final state may use the calls the others leave in reserve, so it is always delivered
 * first.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../jobs/keys.js';
import { scripts } from '../jobs/scripts/index.js';

/** What a transport declares when its platform limits edits per scope (a workspace). */
export interface EditBudgetSpec {
  /** The scope the limit applies to (a Slack team id). */
  scope: string;
  /** Edits allowed per window in that scope (Slack's Tier 3: 50 a minute). */
  limit: number;
  /** The window (default a minute). */
  windowMs?: number;
}

const MINUTE_MS = 60_000;
/**
 * An edit is counted when it is taken, but reaches the platform later (its images are uploaded
 * first, up to a few seconds): the count runs over the window plus this, so the platform's own
 * window, which counts arrivals, never holds more than the limit.
 */
const DELIVERY_MARGIN_MS = 5_000;
/** Edits kept back for final states: the others never take the last few. */
const FINAL_RESERVE = 5;

/** Edits kept for final states: a few, never the whole budget. */
function reserveOf(spec: EditBudgetSpec): number {
  return Math.min(FINAL_RESERVE, Math.floor(spec.limit / 4));
}

export class EditBudget {
  /**
   * `specOf` is asked each time: a transport learns its scope only once connected (a Slack team
   * id comes from auth.test), and until then there is nothing to count.
   */
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly specOf: () => EditBudgetSpec | undefined,
  ) {}

  /** Takes one edit: 0 when it may go now, else how many ms to wait before asking again. */
  async take(final: boolean): Promise<number> {
    const spec = this.specOf();
    if (!spec) return 0;
    return scripts(this.redis).rateTake(
      { window: this.keys.rateWindow(spec.scope) },
      { now: Date.now(), windowMs: (spec.windowMs ?? MINUTE_MS) + DELIVERY_MARGIN_MS, limit: spec.limit, reserve: final ? 0 : reserveOf(spec), call: randomUUID() },
    );
  }

  /** The least time between two edits of one status when `live` statuses share the budget. */
  intervalFor(live: number, platformIntervalMs: number): number {
    const spec = this.specOf();
    if (!spec) return platformIntervalMs;
    const usable = Math.max(1, spec.limit - reserveOf(spec));
    return Math.max(platformIntervalMs, Math.ceil((Math.max(1, live) * ((spec.windowMs ?? MINUTE_MS) + DELIVERY_MARGIN_MS)) / usable));
  }
}
