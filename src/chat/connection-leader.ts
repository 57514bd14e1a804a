/**
 * One platform connection among several bot processes, where the platform must not have two
 * (a Discord bot token without shards: every gateway session would receive every event): the
 * process that holds the connection's lease connects, the others stand by and take over once the
 * leader dies and its lease runs out. Statuses are followed by every process all the while.
 */
import type { Leases } from '../jobs/lease.js';
import type { Logger } from '../log.js';

/** A connection the leader opens and closes. */
export interface LeadableConnection {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

/** How often the leader renews its lease and a standby process tries to take it. */
export const LEADER_TICK_MS = 3000;

export class ConnectionLeader {
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly leases: Leases,
    private readonly key: string,
    private readonly connection: LeadableConnection,
    private readonly logger: Logger,
  ) {}

  /** Whether this process holds the connection now. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Takes the lead if nobody holds it (and connects: a connection refused now fails the start, as
   * a wrong token should), then keeps renewing it, or keeps trying to take it over.
   */
  async start(): Promise<void> {
    if (await this.leases.acquire(this.key)) {
      await this.lead().catch(async (error: unknown) => {
        await this.leases.release(this.key).catch(() => {});
        throw error;
      });
    } else {
      this.logger.info({ lease: this.key }, 'another bot process holds the platform connection; standing by');
    }
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    if (this.leading) {
      this.leading = false;
      await this.connection.disconnect();
      await this.leases.release(this.key).catch(() => {});
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => this.schedule());
    }, LEADER_TICK_MS);
  }

  private async lead(): Promise<void> {
    // Connecting may take longer than the lease (a slow READY, several shards, a 429): keep the lease
    // meanwhile, or a standby would take it and open a second connection.
    const keep = setInterval(() => void this.leases.renew(this.key).catch(() => false), LEADER_TICK_MS);
    try {
      await this.connection.connect();
    } finally {
      clearInterval(keep);
    }
    // Renewed now, so the lease outlasts the wait for the next tick; lost meanwhile (Redis was out of
    // reach past the lease), another process may be connecting: two connections must not stay open.
    if (!(await this.leases.renew(this.key).catch(() => false))) {
      this.logger.warn({ lease: this.key }, 'lost the platform connection while connecting; standing by');
      await this.connection.disconnect();
      return;
    }
    this.leading = true;
    this.logger.info({ lease: this.key, leader: true }, 'connected; serving edits');
  }

  private async tick(): Promise<void> {
    try {
      if (this.leading) {
        if (await this.leases.renew(this.key)) return;
        // Another process took the lead (this one stalled past its lease): two connections must not stay open.
        this.leading = false;
        this.logger.warn({ lease: this.key }, 'lost the platform connection to another bot process; standing by');
        await this.connection.disconnect();
        return;
      }
      if (!(await this.leases.acquire(this.key))) return;
      try {
        await this.lead();
      } catch (error) {
        this.logger.error({ err: error, lease: this.key }, 'could not connect to the platform after taking the lead; standing by');
        await this.leases.release(this.key).catch(() => {});
      }
    } catch (error) {
      this.logger.warn({ err: error, lease: this.key }, 'could not renew or take the platform connection; trying again');
    }
  }
}
