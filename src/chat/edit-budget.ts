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
  /** Edits allowed per minute in that scope. */
  perMinute: number;
}

const WINDOW_MS = 60_000;
/** Edits kept back for final states: the others never take the last few. */
const FINAL_RESERVE = 5;

export class EditBudget {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly spec: EditBudgetSpec,
  ) {}

  /** Takes one edit: 0 when it may go now, else how many ms to wait before asking again. */
  async take(final: boolean): Promise<number> {
    return scripts(this.redis).rateTake(
      { window: this.keys.rateWindow(this.spec.scope) },
      { now: Date.now(), windowMs: WINDOW_MS, limit: this.spec.perMinute, reserve: final ? 0 : Math.min(FINAL_RESERVE, this.spec.perMinute - 1), call: randomUUID() },
    );
  }

  /** The least time between two edits of one status when `live` statuses share the budget. */
  intervalFor(live: number, platformIntervalMs: number): number {
    const usable = Math.max(1, this.spec.perMinute - FINAL_RESERVE);
    return Math.max(platformIntervalMs, Math.ceil((Math.max(1, live) * WINDOW_MS) / usable));
  }
}
