/**
 * Starting a job from chat, whichever event asked for it (a request, a thread reply, Retry):
 * submit it through the shared use case, post its status message, remember both in Redis, and
 * hand the message to the status follower.
 */
import { GasError } from '../errors.js';
import { submitEdit } from '../edits/submit.js';
import type { BlobRef, CheckMode, EditJobOptions } from '../jobs/contracts.js';
import type { ThreadId } from '../jobs/thread-history.js';
import type { Plan } from '../plan/schema.js';
import type { ChatContext } from './context.js';
import type { JobRecord } from './job-records.js';
import { newJobView, renderStatus } from './render.js';
import { renderSignature, type StatusFollower } from './status-follower.js';
import type { ChatMessage, StatusRef } from './transport.js';

/** What starting a job needs, from whichever event asked for it. */
export interface JobStart {
  thread: ThreadId;
  user: string;
  isAdmin: boolean;
  text: string;
  options: EditJobOptions;
  photo?: Buffer;
  message?: string;
  /** When the person asked (default: now). */
  requestedAt?: number;
  /** An image already stored to edit (an adjusted rerun), instead of the photo or the thread's latest result. */
  source?: BlobRef;
  /** A plan as checked (an adjusted rerun): no planning, no grounding, no check. */
  plan?: Plan;
  /** When the masks are checked; absent: the bot's setting. */
  check?: CheckMode;
  postStatus(message: ChatMessage): Promise<StatusRef>;
}

export async function startJob(context: ChatContext, follower: StatusFollower, start: JobStart): Promise<void> {
  const { platform, queue, transport, records, logger } = context;
  const requester = {
    platform,
    user: start.user,
    channel: start.thread.channel,
    thread: start.thread.thread,
    ...(start.message ? { message: start.message } : {}),
  };
  const text = start.text.trim();
  const requestedAt = start.requestedAt ?? Date.now();
  // A plan that was checked already is not checked again.
  const check = start.plan ? 'never' : (start.check ?? context.config.checkMasks);
  const submitted = await submitEdit(context, {
    requester,
    isAdmin: start.isAdmin,
    photo: start.photo,
    ...(start.source ? { source: start.source } : {}),
    request: text,
    ...(start.plan ? { plan: start.plan } : {}),
    options: start.options,
    ...(check !== 'never' ? { check: { when: check, timeoutMs: context.config.checkTimeoutMs } } : {}),
  });
  const log = logger.child({ jobId: submitted.jobId });
  const opensThread = (await records.editThread(platform, start.thread.thread)) === undefined;
  await records.addEditThread(start.thread, start.options.steps);
  const step = await records.nextStep(start.thread);
  let view = newJobView({ jobId: submitted.jobId, request: text, step });
  view = { ...view, queue: { place: submitted.place, startsAt: Date.now() + submitted.startsInMs } };
  const first = renderStatus(view, transport.format);
  let status: StatusRef;
  try {
    status = await start.postStatus(first);
  } catch (error) {
    // Nobody would see this job: take it back rather than spend GPU time on it.
    log.error({ err: error }, 'could not post a status message; cancelling the job');
    await queue.cancel(submitted.jobId, start.user).catch((e: unknown) => log.warn({ err: e }, 'could not cancel the job'));
    throw new GasError('internal', 'I could not post the status of your edit here, so it was not started. Please try again.');
  }
  const postedAt = Date.now();
  const record: JobRecord = { status, requester, request: text, options: start.options, lastSeq: 0, requestedAt, step, ...(start.check ? { check: start.check } : {}), ...(start.plan ? { plan: start.plan } : {}) };
  await follower.reserve(submitted.jobId);
  await records.add(submitted.jobId, record);
  // A conversation's first status opens its thread: say once how to go on, since a reply the bot cannot see is met with silence.
  if (opensThread) await postThreadIntro(context, status).catch((error: unknown) => log.warn({ err: error }, 'could not post the line that opens the thread'));
  log.info({ user: start.user, position: submitted.position, held: submitted.held }, 'edit submitted');
  await follower.follow(submitted.jobId, record, { view: { ...view, queue: undefined }, lastWriteAt: postedAt, shownSignature: renderSignature(first) });
}

/** The one line a new conversation thread starts with: how to ask for the next change, and Undo. */
async function postThreadIntro(context: ChatContext, status: StatusRef): Promise<void> {
  const mention = context.transport.replyMention(status);
  const text = `Reply in this thread${mention ? ` with ${mention} and` : ' with'} what to change next; Undo steps back one edit.`;
  await context.transport.postInThread(status, { text, images: [], buttons: [], final: true });
}
