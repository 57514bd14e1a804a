/**
 * The buttons on a status message (`gas:<action>:<jobId>`): Cancel, Retry (a new seed, in the same
 * thread), Undo (the thread steps back) and Masks (the regions again). State lives in Redis, so
 * buttons on old messages keep working after a restart.
 */
import { randomInt } from 'node:crypto';
import { MAX_SEED } from '../distill/modes.js';
import { undoThread } from '../edits/submit.js';
import type { ThreadId } from '../jobs/thread-history.js';
import type { ChatContext } from './context.js';
import { startJob } from './job-start.js';
import type { JobRecord } from './job-records.js';
import { newJobView, planLines, isFinal, type JobView } from './render.js';
import { foldEvents, type StatusFollower } from './status-follower.js';
import type { ChatAction, IncomingButton } from './transport.js';
import { fitForUpload } from './upload.js';
import { tellPrivately } from './words.js';

const WHAT_ACTIONS_DO: Record<ChatAction, string> = {
  cancel: 'cancel this edit',
  retry: 'retry this edit',
  undo: 'undo edits in this thread',
  masks: 'show the masks of this edit',
};

export class ButtonActions {
  constructor(
    private readonly context: ChatContext,
    private readonly follower: StatusFollower,
  ) {}

  async buttonPressed(press: IncomingButton): Promise<void> {
    const { records, config, queue, logger } = this.context;
    try {
      const record = await records.get(press.jobId);
      if (!record) {
        await press.replyPrivately(`Edit ${press.jobId} is no longer known here (it may have expired); start a new one.`);
        return;
      }
      const owner = record.requester.user;
      const isAdmin = press.isAdmin || config.admins.includes(press.user);
      if (press.user !== owner && !isAdmin) {
        await press.replyPrivately(`Only <@${owner}> can ${WHAT_ACTIONS_DO[press.action]}.`);
        return;
      }
      switch (press.action) {
        case 'cancel':
          await queue.cancel(press.jobId, press.user, isAdmin);
          return;
        case 'retry':
          if (await records.claimPress(press.action, press.jobId)) await this.retry(press, record, isAdmin);
          return;
        case 'undo':
          if (await records.claimPress(press.action, press.jobId)) await this.undo(press, record, isAdmin);
          return;
        case 'masks':
          await this.showMasks(press, record);
          return;
      }
    } catch (error) {
      await tellPrivately(press, error, logger);
    }
  }

  /** Retry: the same request with a new seed, in the same thread, from the image that job edited. */
  private async retry(press: IncomingButton, record: JobRecord, isAdmin: boolean): Promise<void> {
    const view = await this.currentView(press.jobId, record);
    if (!isFinal(view)) {
      await press.replyPrivately('This edit is still running: cancel it first, or wait for it to finish.');
      return;
    }
    const thread = threadOf(record);
    if (view.phase === 'done') {
      // The thread must be back at the image this job edited: only possible while its result is the latest.
      if ((await this.context.threads.latest(thread))?.jobId !== press.jobId) {
        await press.replyPrivately('This thread was edited again since; reply in the thread to change the latest image instead.');
        return;
      }
      await undoThread(this.context, thread, press.user, isAdmin);
    }
    let seed = randomInt(0, MAX_SEED);
    if (seed === view.result?.seed) seed = (seed + 1) % MAX_SEED;
    await startJob(this.context, this.follower, {
      thread,
      user: press.user,
      isAdmin,
      text: record.request,
      options: { ...record.options, seed },
      postStatus: (m) => press.postStatus(m),
    });
  }

  /** Undo: the thread goes back one edit; says so, with the image the next reply will edit. */
  private async undo(press: IncomingButton, record: JobRecord, isAdmin: boolean): Promise<void> {
    const { blobs, transport } = this.context;
    const source = await undoThread(this.context, threadOf(record), press.user, isAdmin);
    const stored = await blobs.get(source).catch(() => undefined);
    const image = stored ? await fitForUpload(stored, transport.maxUploadBytes) : undefined;
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
      text: [`${format.bold('Masks')} of edit ${press.jobId}`, ...plan].join('\n'),
      images: [{ name: 'masks.png', data: overlay, contentType: 'image/png', alt: 'The regions that were edited, numbered as in the plan', placement: 'inline' }],
      buttons: [],
      final: true,
    });
  }

  private async currentView(jobId: string, record: JobRecord): Promise<JobView> {
    return foldEvents(newJobView({ jobId, request: record.request }), await this.context.queue.events.history(jobId));
  }
}

function threadOf(record: JobRecord): ThreadId {
  return { platform: record.requester.platform, channel: record.requester.channel, thread: record.requester.thread };
}
