/**
 * Keeps each job's one status message up to date from the job's events, at the platform's pace
 * (cadence.ts), until its terminal event; remembers in Redis the last event each message shows.
 * Any number of bot processes share the work: each status is followed by the one process that
 * holds its lease (src/jobs/lease.ts); a process renews its leases while it lives, and the others
 * adopt every unfinished status whose lease ran out, resuming from the last event rendered. A
 * status whose job vanished from the queue (a Redis restarted without its data) is ended as lost.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { JobEvent } from '../jobs/contracts.js';
import { EditCadence } from './cadence.js';
import type { ChatContext } from './context.js';
import type { JobRecord } from './job-records.js';
import { applyEvent, imagesShown, isFinal, newJobView, type JobView, type StatusImages } from './render.js';
import { renderStatus } from './render.js';
import type { ChatMessage } from './transport.js';
import { fitForUpload } from './upload.js';

/** How long one blocking read of a job's events waits before checking whether the flow stopped. */
const FOLLOW_BLOCK_MS = 500;
/** Reading a job's events again after a failure: how long to wait, and how many failures in a row end it. */
const FOLLOW_RETRY_MS = 1000;
const MAX_FOLLOW_FAILURES = 30;

/** How often a waiting job's place in line is read again (at least; a shared budget may stretch it). */
const QUEUE_REFRESH_MS = 3000;

/**
 * How often leases are renewed and unfinished statuses without a living follower adopted: a
 * dead process's statuses are taken over within its lease plus one of these.
 */
export const LEASE_TICK_MS = 2000;

/** A status message being kept up to date. */
interface Following {
  controller: AbortController;
  cadence: EditCadence<JobView>;
  loop: Promise<void>;
  /** Ends it as lost: the job is gone from the queue. */
  lose(): void;
}

/** Where a followed message stands when following starts. */
export interface FollowStart {
  /** The state to follow from (its `lastSeq`: the last event already folded in). */
  view: JobView;
  /** When the message was last written, so the first edit keeps the interval. */
  lastWriteAt: number;
  /** What the message shows now, if known: an edit that would show the same is skipped. */
  shownSignature?: string;
  /** The view holds events the message does not show yet. */
  unshown?: boolean;
}

export class StatusFollower {
  private readonly following = new Map<string, Following>();
  private stopped = true;
  private tick: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(private readonly context: ChatContext) {}

  /** Jobs whose status messages this process keeps up to date now. */
  jobs(): string[] {
    return [...this.following.keys()];
  }

  /**
   * Holds a job's status for this process before its record is stored: from then until `follow`
   * (the thread's first line is posted in between), no process, this one included, adopts it as
   * an orphan and edits it out of its cadence.
   */
  async reserve(jobId: string): Promise<boolean> {
    return this.context.leases.acquire(this.context.keys.statusLease(jobId));
  }

  /**
   * Starts keeping a job's status message up to date from `start.view`, when this process can
   * take its lease (no other process follows it); false when it cannot.
   */
  async follow(jobId: string, record: JobRecord, start: FollowStart): Promise<boolean> {
    if (this.following.has(jobId) || this.stopped) return this.following.has(jobId);
    const { leases, keys } = this.context;
    if (!(await leases.acquire(keys.statusLease(jobId)))) return false;
    if (this.following.has(jobId) || this.stopped) return this.following.has(jobId);
    this.run(jobId, record, start);
    return true;
  }

  private run(jobId: string, record: JobRecord, start: FollowStart): void {
    const { transport, queue, logger, records, platform, budget } = this.context;
    const log = logger.child({ jobId });
    const controller = new AbortController();
    let delivered = start.shownSignature;
    const cadence = new EditCadence<JobView>({
      intervalMs: budget ? () => budget.intervalFor(this.liveCount, transport.editIntervalMs) : transport.editIntervalMs,
      ...(budget ? { budget: (final: boolean) => budget.take(final), finalIntervalMs: transport.editIntervalMs } : {}),
      lastWriteAt: start.lastWriteAt,
      logger: log,
      isFinal,
      deliver: async (state) => {
        const message = renderStatus(state, transport.format, await this.loadImages(state, log), { replyMention: transport.replyMention(record.status) });
        const signature = renderSignature(message);
        // An event that changes nothing people see (the first `queued`, say) costs no edit.
        if (signature !== delivered) await transport.editStatus(record.status, message);
        delivered = signature;
        await records.rendered(jobId, platform, state.lastSeq, isFinal(state));
        if (isFinal(state)) await this.notify(jobId, record, state, log);
      },
    });
    if (start.unshown) cadence.push(start.view);
    let current = start.view;
    // A waiting job's place in line changes without an event of its own: read it again now and then.
    const refresh = setInterval(() => {
      if (current.phase !== 'queued') return;
      void queue
        .standing(jobId)
        .then((standing) => {
          if (!standing || current.phase !== 'queued' || current.queue?.place === standing.place) return;
          current = { ...current, queue: { place: standing.place, startsAt: Date.now() + standing.startsInMs } };
          cadence.push(current);
        })
        .catch((error: unknown) => log.debug({ err: error }, "could not read a waiting job's place"));
    }, Math.max(QUEUE_REFRESH_MS, transport.editIntervalMs));
    let lost = false;
    const lose = () => {
      if (lost || isFinal(current)) return;
      lost = true;
      log.warn('the job is no longer in the queue (Redis lost its data?); ending its status as lost');
      current = { ...current, phase: 'failed', lost: true };
      controller.abort();
      // Buttons need the record, which went with the rest of Redis's data.
      void records.add(jobId, record).catch(() => {});
      cadence.push(current);
    };
    const loop = (async () => {
      let failures = 0;
      try {
        // A view that is already final (a job that ended while no bot ran) has nothing left to read.
        while (!controller.signal.aborted && !isFinal(current)) {
          try {
            for await (const event of queue.events.follow(jobId, { afterSeq: current.lastSeq, signal: controller.signal, blockMs: FOLLOW_BLOCK_MS })) {
              current = applyEvent(current, event);
              failures = 0;
              cadence.push(current);
            }
            break; // the terminal event, or stopped
          } catch (error) {
            // Reading events failed (Redis went away, say): read on from the last event seen, for a while.
            failures += 1;
            if (failures >= MAX_FOLLOW_FAILURES) {
              log.error({ err: error }, 'gave up following a job; another bot process, or a restart, resumes it');
              return;
            }
            log.warn({ err: error, failures }, "could not read a job's events; trying again");
            await sleep(FOLLOW_RETRY_MS, undefined, { signal: controller.signal }).catch(() => {});
          }
        }
        if (!controller.signal.aborted || lost) await cadence.idle();
        // Stopped, or the lease went to another process: an edit still pending here must not overwrite what that one shows.
        else await cadence.close();
      } finally {
        clearInterval(refresh);
        if (this.following.get(jobId)?.controller === controller) this.following.delete(jobId);
        if (isFinal(current) || lost) await this.context.leases.release(this.context.keys.statusLease(jobId)).catch(() => {});
      }
    })();
    this.following.set(jobId, { controller, cadence, loop, lose });
  }

  /** Statuses live across every bot process of this platform (those not yet final). */
  private liveCount = 1;

  /**
   * Starts sharing the work: adopts the unfinished statuses no living process follows (those this
   * bot was showing before a restart, those of a process that died), then keeps renewing leases
   * and adopting as processes come and go.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await this.adoptOrphans();
    const loop = () => {
      this.tick = setTimeout(() => {
        this.ticking = this.renewAndAdopt().finally(() => {
          if (!this.stopped) loop();
        });
      }, LEASE_TICK_MS);
    };
    loop();
  }

  /** One tick: keep this process's leases (a lost one stops its follower), notice vanished jobs, adopt orphans. */
  private async renewAndAdopt(): Promise<void> {
    const { leases, keys, redis, logger } = this.context;
    try {
      for (const [jobId, following] of [...this.following]) {
        const key = keys.statusLease(jobId);
        // Not renewed: either another process took it over (this one stalled past its lease) and
        // shows the job now, or nobody holds it (Redis lost it) and this process takes it back.
        if (!(await leases.renew(key)) && !(await leases.acquire(key))) {
          logger.info({ jobId }, 'lost the lease of a status message; another bot process follows it');
          following.controller.abort();
          continue;
        }
        if ((await redis.exists(keys.seq(jobId))) === 0) following.lose();
      }
      await this.adoptOrphans();
    } catch (error) {
      logger.warn({ err: error }, 'could not renew leases or adopt statuses; trying again');
    }
  }

  /** Takes over every unfinished status of this platform that nobody follows, from the last event it rendered. */
  private async adoptOrphans(): Promise<void> {
    const { records, queue, platform, logger, leases, keys } = this.context;
    const unfinished = await records.unfinished(platform);
    this.liveCount = Math.max(1, unfinished.length);
    for (const jobId of unfinished) {
      if (this.stopped) return;
      if (this.following.has(jobId) || (await leases.holderOf(keys.statusLease(jobId))) !== undefined) continue;
      const record = await records.get(jobId);
      const history = record ? await queue.events.history(jobId) : [];
      if (!record || history.length === 0) {
        // Its record or its events expired: there is nothing left to show.
        await records.forget(jobId, platform);
        continue;
      }
      // Everything that happened while nobody followed it goes into one edit, straight to where the job is now.
      const view = foldEvents(newJobView({ jobId, request: record.request, step: record.step }), history);
      if (await this.follow(jobId, record, { view, lastWriteAt: 0, unshown: view.lastSeq > record.lastSeq })) {
        logger.info({ jobId, lastSeq: record.lastSeq, latestSeq: view.lastSeq }, 'following a status message');
      }
    }
  }

  /** Stops following every job and gives their leases up, so another bot process takes them over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.tick) clearTimeout(this.tick);
    await this.ticking;
    const all = [...this.following.entries()];
    for (const [, f] of all) f.controller.abort();
    await Promise.all(
      all.map(async ([jobId, f]) => {
        await f.loop;
        await f.cadence.close();
        await this.context.leases.release(this.context.keys.statusLease(jobId)).catch(() => {});
      }),
    );
  }

  /**
   * One new message that pings the requester alone, when an edit ends (done or failed) long after
   * it was asked for: an edit of the status notifies nobody, and people look away. Once per job,
   * across restarts.
   */
  private async notify(jobId: string, record: JobRecord, view: JobView, log: Logger): Promise<void> {
    const { transport, records, config } = this.context;
    if (view.phase !== 'done' && view.phase !== 'failed') return;
    if (record.requestedAt === undefined || Date.now() - record.requestedAt <= config.notifyAfterMs) return;
    if (!(await records.claimNotification(jobId))) return;
    const user = record.requester.user;
    const what = view.step ? `edit ${view.step}` : 'your edit';
    const text = view.phase === 'done' ? `<@${user}> ${what} is done: the result is in its status message.` : `<@${user}> ${what} could not be finished: its status message says why.`;
    const ping: ChatMessage = { text, images: [], buttons: [], final: true, mentions: [user], replyTo: record.status };
    await transport.postInThread(record.status, ping).catch((error: unknown) => log.warn({ err: error }, 'could not ping the requester'));
  }

  /** The images the view shows, as bytes; one that expired is left out (the text says so). */
  private async loadImages(view: JobView, log: Logger): Promise<StatusImages> {
    const { blobs, transport } = this.context;
    const shown = imagesShown(view);
    const get = async (ref: string | undefined) => {
      if (!ref) return undefined;
      try {
        return await blobs.get(ref);
      } catch (error) {
        log.warn({ err: error, ref }, 'an image of a status message is gone');
        return undefined;
      }
    };
    const images: StatusImages = {};
    if (shown.overlay) images.overlay = await get(view.overlay);
    if (shown.preview) images.preview = await get(view.preview);
    if (shown.result) {
      const result = await get(view.result?.image);
      if (result) images.result = await fitForUpload(result, transport.uploadLimits);
    }
    return images;
  }
}

/** A job's state folded from its events. */
export function foldEvents(view: JobView, events: readonly JobEvent[]): JobView {
  return events.reduce(applyEvent, view);
}

/** What a person would see of a message: two messages with the same signature look the same. */
export function renderSignature(message: ChatMessage): string {
  const hash = createHash('sha256').update(message.text).update(JSON.stringify(message.buttons));
  for (const image of message.images) hash.update(image.name).update(image.data);
  return hash.digest('hex');
}
