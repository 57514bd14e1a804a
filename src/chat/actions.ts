/**
 * The buttons on a status message (`gas:<action>:<jobId>`): Cancel, Retry (a new seed, in the same
 * thread), Undo (the thread steps back), Masks (the regions again), Go (the edit of a job waiting
 * at its check) and the "Adjust a part" menu of a finished edit (one part stronger, weaker or
 * removed, rerun from the same image as a new step). Who may press what is one rule
 * (src/edits/rules.ts). A double click on one message is one press; every press gets an answer
 * people see. State lives in Redis, so buttons on old messages keep working after a restart.
 */
import { randomInt } from 'node:crypto';
import { MAX_SEED } from '../distill/modes.js';
import { mayActOnEdit } from '../edits/rules.js';
import { undoThread } from '../edits/submit.js';
import type { BlobRef } from '../jobs/contracts.js';
import type { ThreadId } from '../jobs/thread-history.js';
import { withoutPart } from '../plan/fix.js';
import type { Plan } from '../plan/schema.js';
import type { ChatContext } from './context.js';
import { startJob } from './job-start.js';
import type { JobRecord } from './job-records.js';
import { adjustedIntensity, adjustedRequest, editName, newJobView, parseAdjustment, planLines, isFinal, type JobView } from './render.js';
import { foldEvents, type StatusFollower } from './status-follower.js';
import type { ChatAction, IncomingButton } from './transport.js';
import { fitForUpload } from './upload.js';
import { tellPrivately } from './words.js';

const WHAT_ACTIONS_DO: Record<Exclude<ChatAction, 'undo'>, string> = {
  cancel: 'cancel this edit',
  retry: 'retry this edit',
  masks: 'show the masks of this edit',
  go: 'start this edit or fix its regions',
  adjust: 'adjust this edit',
};

export class ButtonActions {
  constructor(
    private readonly context: ChatContext,
    private readonly follower: StatusFollower,
  ) {}

  async buttonPressed(press: IncomingButton): Promise<void> {
    const { records, config, logger } = this.context;
    try {
      const record = await records.get(press.jobId);
      if (!record) {
        await press.replyPrivately('This edit is no longer known here (it may have expired); start a new one.');
        return;
      }
      const who = { user: press.user, isAdmin: press.isAdmin || config.admins.includes(press.user) };
      // Undo is the thread's to decide (its owner, the latest step's author, admins): undoThread says no with the names.
      if (press.action !== 'undo' && !mayActOnEdit(press.action, who, record.requester.user)) {
        await press.replyPrivately(`Only <@${record.requester.user}> can ${WHAT_ACTIONS_DO[press.action]}.`);
        return;
      }
      // The second click of a double click is the same press: the first one's answer covers it. A
      // menu's other option is another choice.
      const pressed = press.value === undefined ? press.action : `${press.action}:${press.value}`;
      if (!(await records.claimPress(pressed, press.jobId, press.status.message, press.user))) return;
      switch (press.action) {
        case 'cancel':
          await this.cancel(press, who.isAdmin);
          return;
        case 'retry':
          await this.retry(press, record, who.isAdmin);
          return;
        case 'undo':
          await this.undo(press, record, who.isAdmin);
          return;
        case 'masks':
          await this.showMasks(press, record);
          return;
        case 'go':
          await this.context.queue.go(press.jobId, press.user, who.isAdmin);
          return;
        case 'adjust':
          await this.adjust(press, record, who.isAdmin);
          return;
      }
    } catch (error) {
      await tellPrivately(press, error, logger);
    }
  }

  /** Cancel: the status itself shows the cancellation; an edit that already ended is said so. */
  private async cancel(press: IncomingButton, isAdmin: boolean): Promise<void> {
    if (await this.context.queue.events.ended(press.jobId)) {
      await press.replyPrivately('This edit has already finished; there is nothing left to cancel.');
      return;
    }
    await this.context.queue.cancel(press.jobId, press.user, isAdmin);
  }

  /**
   * Retry: the same request with a new seed, in the same thread. A finished edit that is still
   * the thread's latest is undone first and rerun from the image it edited; one that was undone
   * already reruns from the thread's latest image; one that later edits build on cannot be rerun.
   */
  private async retry(press: IncomingButton, record: JobRecord, isAdmin: boolean): Promise<void> {
    const view = await this.currentView(press.jobId, record);
    if (!isFinal(view)) {
      await press.replyPrivately('This edit is still running: cancel it first, or wait for it to finish.');
      return;
    }
    const thread = threadOf(record);
    if (view.phase === 'done') {
      const chain = await this.context.threads.chain(thread);
      const at = chain.findIndex((entry) => entry.jobId === press.jobId);
      const after = at < 0 ? 0 : chain.length - 1 - at;
      if (after > 0) {
        await press.replyPrivately(
          `${after === 1 ? 'One edit' : `${after} edits`} in this thread build${after === 1 ? 's' : ''} on this one, so it cannot be rerun alone. Undo ${after === 1 ? 'it' : 'them'} first, or reply in the thread to change the latest image.`,
        );
        return;
      }
      if (at >= 0) await undoThread(this.context, thread, press.user, isAdmin);
    }
    let seed = randomInt(0, MAX_SEED);
    if (seed === view.result?.seed) seed = (seed + 1) % MAX_SEED;
    await startJob(this.context, this.follower, {
      thread,
      user: press.user,
      isAdmin,
      text: record.request,
      options: { ...record.options, seed },
      ...(record.check ? { check: record.check } : {}),
      // An adjusted edit runs its plan again (its text only describes the adjustment).
      ...(record.plan ? { plan: record.plan } : {}),
      postStatus: (m) => press.postStatus(m),
    });
  }

  /**
   * Adjust a part: the finished edit again, from the image it edited, with the same seed and
   * regions, one part's intensity changed (or the part left out), as a new step of the thread. An
   * edit that later steps build on, or that was undone, cannot be adjusted alone.
   */
  private async adjust(press: IncomingButton, record: JobRecord, isAdmin: boolean): Promise<void> {
    const view = await this.currentView(press.jobId, record);
    const choice = parseAdjustment(press.value);
    if (view.phase !== 'done' || !view.plan || !view.result) {
      await press.replyPrivately('Only a finished edit can be adjusted.');
      return;
    }
    if (!choice || choice.part >= view.plan.subtasks.length) {
      await press.replyPrivately('Choose a part and what to do with it from the menu.');
      return;
    }
    const thread = threadOf(record);
    const [chain, origin] = await Promise.all([this.context.threads.chain(thread), this.context.threads.origin(thread)]);
    const at = chain.findIndex((entry) => entry.jobId === press.jobId);
    if (at < 0) {
      await press.replyPrivately('This edit was undone, so it cannot be adjusted; press Retry on it to run it again.');
      return;
    }
    const after = chain.length - 1 - at;
    if (after > 0) {
      await press.replyPrivately(`${after === 1 ? 'One edit' : `${after} edits`} in this thread build${after === 1 ? 's' : ''} on this one, so it cannot be adjusted alone. Undo ${after === 1 ? 'it' : 'them'} first.`);
      return;
    }
    const source: BlobRef | undefined = at > 0 ? chain[at - 1].result : origin;
    if (!source) {
      await press.replyPrivately('The image this edit started from has expired; send the photo again to start over.');
      return;
    }
    const intensity = view.plan.subtasks.map((_, k) => view.result?.intensity?.[k] ?? 1);
    let plan: Plan = view.plan;
    let next = intensity;
    if (choice.how === 'remove') {
      if (plan.subtasks.length === 1) {
        await press.replyPrivately('That is the only part of this edit; press Undo to drop the whole edit.');
        return;
      }
      plan = withoutPart(plan, choice.part);
      next = intensity.filter((_, k) => k !== choice.part);
    } else {
      const changed = adjustedIntensity(intensity[choice.part], choice.how);
      if (changed === undefined) {
        await press.replyPrivately(`Part ${choice.part + 1} is already as ${choice.how === 'stronger' ? 'strong' : 'weak'} as it goes.`);
        return;
      }
      next = intensity.map((v, k) => (k === choice.part ? changed : v));
    }
    await startJob(this.context, this.follower, {
      thread,
      user: press.user,
      isAdmin,
      text: adjustedRequest(record.request, choice.part, choice.how).slice(0, 1000),
      options: { ...record.options, seed: view.result.seed, ...(next.some((v) => v !== 1) ? { intensity: next } : { intensity: undefined }) },
      source,
      plan,
      postStatus: (m) => press.postStatus(m),
    });
  }

  /** Undo: the thread goes back one edit; says so, with the image the next reply will edit. */
  private async undo(press: IncomingButton, record: JobRecord, isAdmin: boolean): Promise<void> {
    const { blobs, transport } = this.context;
    const source = await undoThread(this.context, threadOf(record), press.user, isAdmin);
    const stored = await blobs.get(source).catch(() => undefined);
    const image = stored ? await fitForUpload(stored, transport.uploadLimits) : undefined;
    await press.postStatus({
      text: `Went back one edit. A reply in this thread now edits ${image ? 'this image' : 'the original photo'}.`,
      images: image
        ? [{ name: image.contentType === 'image/png' ? 'current.png' : 'current.jpg', data: image.data, contentType: image.contentType, alt: 'The image the next edit in this thread starts from', placement: 'inline' }]
        : [],
      buttons: [],
      final: true,
    });
  }

  /** Masks: shows the job's mask overlay again, in a new message. */
  private async showMasks(press: IncomingButton, record: JobRecord): Promise<void> {
    const view = await this.currentView(press.jobId, record);
    const overlay = view.overlay ? await this.context.blobs.get(view.overlay).catch(() => undefined) : undefined;
    if (!overlay) {
      await press.replyPrivately(view.overlay ? 'The masks of this edit have expired.' : 'The masks of this edit are not ready yet.');
      return;
    }
    const format = this.context.transport.format;
    const plan = view.plan ? planLines(view.plan, format) : [];
    await press.postStatus({
      text: [`${format.bold('Masks')} of ${editName(view)}`, ...plan].join('\n'),
      images: [{ name: 'masks.png', data: overlay, contentType: 'image/png', alt: 'The regions that were edited, numbered as in the plan', placement: 'inline' }],
      buttons: [],
      final: true,
    });
  }

  private async currentView(jobId: string, record: JobRecord): Promise<JobView> {
    return foldEvents(newJobView({ jobId, request: record.request, step: record.step }), await this.context.queue.events.history(jobId));
  }
}

function threadOf(record: JobRecord): ThreadId {
  return { platform: record.requester.platform, channel: record.requester.channel, thread: record.requester.thread };
}
