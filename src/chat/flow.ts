/**
 * The platform-neutral chat flow (DESIGN.md, "The chat flow"): takes what a person does on a
 * platform (an edit request, a reply in an edit thread, a button), submits jobs, and keeps each
 * job's one status message up to date from the job's events, at the platform's pace. Everything
 * it must remember lives in Redis, so a restarted bot resumes every unfinished status message
 * from the last event it rendered, and buttons keep working.
 */
import { createHash, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { GasError, isGasError } from '../errors.js';
import type { BlobStore } from '../jobs/blob-store.js';
import type { EditJobOptions, JobEvent, Platform } from '../jobs/contracts.js';
import { MAX_SEED, MAX_STEPS } from '../distill/modes.js';
import type { EditQueue } from '../jobs/edit-queue.js';
import type { Keys } from '../jobs/keys.js';
import type { ThreadHistory, ThreadId } from '../jobs/thread-history.js';
import { EditCadence } from './cadence.js';
import { MessageDedupe } from './dedupe.js';
import { JobRecords, type JobRecord } from './job-records.js';
import { submitEdit, undoThread } from '../jobs/submit.js';
import { applyEvent, imagesShown, isFinal, newJobView, planLines, renderStatus, type JobView, type StatusImages } from './render.js';
import type {
  ChatAction,
  ChatFlowHandlers,
  ChatMessage,
  ChatTransport,
  IncomingBase,
  IncomingButton,
  IncomingEdit,
  IncomingFile,
  IncomingMessage,
  StatusRef,
} from './transport.js';
import { fitForUpload } from './upload.js';

export interface ChatFlowConfig {
  /** The largest photo a person may send. */
  maxImageBytes: number;
  /** Users who may press any job's buttons, on top of those the platform marks as admins. */
  admins: readonly string[];
  /** How long jobs' status records and edit threads are remembered (the blobs' TTL). */
  ttlSeconds: number;
}

export const DEFAULT_CHAT_FLOW_CONFIG: ChatFlowConfig = {
  maxImageBytes: 20 * 1024 * 1024,
  admins: [],
  ttlSeconds: 7 * 24 * 3600,
};

export interface ChatFlowDeps {
  redis: Redis;
  keys: Keys;
  queue: EditQueue;
  blobs: BlobStore;
  threads: ThreadHistory;
  transport: ChatTransport;
  logger: Logger;
  config?: Partial<ChatFlowConfig>;
}

/** A status message the flow keeps up to date. */
interface Following {
  controller: AbortController;
  cadence: EditCadence<JobView>;
  loop: Promise<void>;
}

/** What starting a job needs, from whichever event asked for it. */
interface JobStart {
  thread: ThreadId;
  user: string;
  isAdmin: boolean;
  text: string;
  options: EditJobOptions;
  photo?: Buffer;
  message?: string;
  postStatus(message: ChatMessage): Promise<StatusRef>;
}

const WHAT_ACTIONS_DO: Record<ChatAction, string> = {
  cancel: 'cancel this edit',
  retry: 'retry this edit',
  undo: 'undo edits in this thread',
  masks: 'show the masks of this edit',
};

/** How long one blocking read of a job's events waits before checking whether the flow stopped. */
const FOLLOW_BLOCK_MS = 500;
/** Reading a job's events again after a failure: how long to wait, and how many failures in a row end it. */
const FOLLOW_RETRY_MS = 1000;
const MAX_FOLLOW_FAILURES = 30;


const SOMETHING_WENT_WRONG = 'Something went wrong on our side; it has been logged. Please try again.';

export class ChatFlow implements ChatFlowHandlers {
  readonly config: ChatFlowConfig;
  private readonly records: JobRecords;
  private readonly dedupe: MessageDedupe;
  private readonly following = new Map<string, Following>();
  private readonly platform: Platform;
  private stopped = false;

  constructor(private readonly deps: ChatFlowDeps) {
    // Records live as long as the queue keeps the jobs' events, unless told otherwise.
    this.config = { ...DEFAULT_CHAT_FLOW_CONFIG, ttlSeconds: deps.queue.config.ttlSeconds, ...deps.config };
    const { maxImageBytes, ttlSeconds } = this.config;
    if (!(Number.isInteger(maxImageBytes) && maxImageBytes >= 1)) throw new Error(`maxImageBytes must be a whole number of at least 1 (got ${maxImageBytes}).`);
    if (!(Number.isInteger(ttlSeconds) && ttlSeconds >= 1)) throw new Error(`ttlSeconds must be a whole number of at least 1 (got ${ttlSeconds}).`);
    this.records = new JobRecords(deps.redis, deps.keys, ttlSeconds);
    this.dedupe = new MessageDedupe(deps.redis, deps.keys);
    this.platform = deps.transport.platform;
  }

  /** Resumes every unfinished job this platform's bot was showing, then starts taking events. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.resumeUnfinished();
    await this.deps.transport.start(this);
  }

  /** Stops taking events and following jobs; the jobs themselves keep running, and `start` picks them up again. */
  async stop(): Promise<void> {
    this.stopped = true;
    try {
      await this.deps.transport.stop();
    } finally {
      const all = [...this.following.values()];
      for (const f of all) f.controller.abort();
      await Promise.all(
        all.map(async (f) => {
          await f.loop;
          await f.cadence.close();
        }),
      );
    }
  }

  /** Jobs whose status messages this flow is keeping up to date now. */
  followedJobs(): string[] {
    return [...this.following.keys()];
  }

  async editRequest(request: IncomingEdit): Promise<void> {
    try {
      // A redelivered message (retry, redelivery, app_mention + message) was handled by its first delivery.
      if (request.message && request.messageIsRequest && !(await this.dedupe.claim({ platform: this.platform, channel: request.channel, thread: request.thread, message: request.message }))) return;
      const known = await this.records.editThread(this.platform, request.thread);
      // Without a photo, a request in one of our threads continues it; anywhere else it has nothing to edit.
      if (!request.image && !known) throw new GasError('bad_input', 'Attach the image to edit: a request needs a photo to work on.');
      const options = pickOptions(request.options);
      const photo = request.image ? await this.download(request.image) : undefined;
      await this.startJob({
        thread: known?.thread ?? { platform: this.platform, channel: request.channel, thread: request.thread },
        user: request.user,
        isAdmin: request.isAdmin,
        text: request.text,
        options: { ...stepsOf(known), ...options },
        photo,
        message: request.message,
        postStatus: (m) => request.postStatus(m),
      });
    } catch (error) {
      await this.tellPrivately(request, error);
    }
  }

  async threadMessage(message: IncomingMessage): Promise<void> {
    try {
      if (message.thread === undefined) return;
      const known = await this.records.editThread(this.platform, message.thread);
      if (!known) return; // not a conversation of ours
      if (!(await this.dedupe.claim({ platform: this.platform, channel: message.channel, thread: message.thread, message: message.message }))) return;
      const photo = message.image ? await this.download(message.image) : undefined;
      await this.startJob({
        thread: known.thread,
        user: message.user,
        isAdmin: message.isAdmin,
        text: message.text,
        options: stepsOf(known),
        photo,
        message: message.message,
        postStatus: (m) => message.postStatus(m),
      });
    } catch (error) {
      await this.tellPrivately(message, error);
    }
  }

  async buttonPressed(press: IncomingButton): Promise<void> {
    try {
      const record = await this.records.get(press.jobId);
      if (!record) {
        await press.replyPrivately(`Edit ${press.jobId} is no longer known here (it may have expired); start a new one.`);
        return;
      }
      const owner = record.requester.user;
      const isAdmin = press.isAdmin || this.config.admins.includes(press.user);
      if (press.user !== owner && !isAdmin) {
        await press.replyPrivately(`Only <@${owner}> can ${WHAT_ACTIONS_DO[press.action]}.`);
        return;
      }
      switch (press.action) {
        case 'cancel':
          await this.deps.queue.cancel(press.jobId, press.user, isAdmin);
          return;
        case 'retry':
          if (await this.records.claimPress(press.action, press.jobId)) await this.retry(press, record, isAdmin);
          return;
        case 'undo':
          if (await this.records.claimPress(press.action, press.jobId)) await this.undo(press, record, isAdmin);
          return;
        case 'masks':
          await this.showMasks(press, record);
          return;
      }
    } catch (error) {
      await this.tellPrivately(press, error);
    }
  }

  /** Submits a job, posts its status message, remembers both, and follows the job's events. */
  private async startJob(start: JobStart): Promise<void> {
    const requester = {
      platform: this.platform,
      user: start.user,
      channel: start.thread.channel,
      thread: start.thread.thread,
      ...(start.message ? { message: start.message } : {}),
    };
    const text = start.text.trim();
    const submitted = await submitEdit(this.deps, { requester, isAdmin: start.isAdmin, photo: start.photo, request: text, options: start.options });
    const log = this.deps.logger.child({ jobId: submitted.jobId });
    await this.records.addEditThread(start.thread, start.options.steps);
    let view = newJobView({ jobId: submitted.jobId, request: text });
    view = { ...view, queue: { position: submitted.position, startsAt: Date.now() + submitted.startsInMs } };
    let status: StatusRef;
    try {
      status = await start.postStatus(renderStatus(view, this.deps.transport.format));
    } catch (error) {
      // Nobody would see this job: take it back rather than spend GPU time on it.
      log.error({ err: error }, 'could not post a status message; cancelling the job');
      await this.deps.queue.cancel(submitted.jobId, start.user).catch((e: unknown) => log.warn({ err: e }, 'could not cancel the job'));
      throw new GasError('internal', 'I could not post the status of your edit here, so it was not started. Please try again.');
    }
    const postedAt = Date.now();
    const record: JobRecord = { status, requester, request: text, options: start.options, lastSeq: 0 };
    await this.records.add(submitted.jobId, record);
    log.info({ user: start.user, position: submitted.position, held: submitted.held }, 'edit submitted');
    const posted = renderSignature(renderStatus(view, this.deps.transport.format));
    this.follow(submitted.jobId, record, { ...view, queue: undefined }, postedAt, posted);
  }

  /**
   * Keeps a job's status message up to date from its events after `view.lastSeq`, until its
   * terminal event. `unshown`: the view holds events the message does not show yet.
   */
  private follow(jobId: string, record: JobRecord, view: JobView, lastWriteAt: number, lastSignature?: string, unshown = false): void {
    if (this.following.has(jobId) || this.stopped) return;
    const { transport, queue, logger } = this.deps;
    const log = logger.child({ jobId });
    const controller = new AbortController();
    let delivered = lastSignature;
    const cadence = new EditCadence<JobView>({
      intervalMs: transport.editIntervalMs,
      lastWriteAt,
      logger: log,
      isFinal,
      deliver: async (state) => {
        const message = renderStatus(state, transport.format, await this.loadImages(state, log));
        const signature = renderSignature(message);
        // An event that changes nothing people see (the first `queued`, say) costs no edit.
        if (signature !== delivered) await transport.editStatus(record.status, message);
        delivered = signature;
        await this.records.rendered(jobId, this.platform, state.lastSeq, isFinal(state));
      },
    });
    if (unshown) cadence.push(view);
    const loop = (async () => {
      let current = view;
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
              log.error({ err: error }, 'gave up following a job; a restart of the bot resumes it');
              return;
            }
            log.warn({ err: error, failures }, "could not read a job's events; trying again");
            await sleep(FOLLOW_RETRY_MS, undefined, { signal: controller.signal }).catch(() => {});
          }
        }
        if (!controller.signal.aborted) await cadence.idle();
      } finally {
        if (this.following.get(jobId)?.controller === controller) this.following.delete(jobId);
      }
    })();
    this.following.set(jobId, { controller, cadence, loop });
  }

  private async resumeUnfinished(): Promise<void> {
    for (const jobId of await this.records.unfinished(this.platform)) {
      const record = await this.records.get(jobId);
      const history = record ? await this.deps.queue.events.history(jobId) : [];
      if (!record || history.length === 0) {
        // Its record or its events expired: there is nothing left to show.
        await this.records.forget(jobId, this.platform);
        continue;
      }
      // Everything that happened while no bot ran goes into one edit, straight to where the job is now.
      const view = foldEvents(newJobView({ jobId, request: record.request }), history);
      this.deps.logger.info({ jobId, lastSeq: record.lastSeq, latestSeq: view.lastSeq }, 'resuming a status message');
      this.follow(jobId, record, view, 0, undefined, view.lastSeq > record.lastSeq);
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
      if ((await this.deps.threads.latest(thread))?.jobId !== press.jobId) {
        await press.replyPrivately('This thread was edited again since; reply in the thread to change the latest image instead.');
        return;
      }
      await undoThread(this.deps, thread, press.user, isAdmin);
    }
    let seed = randomInt(0, MAX_SEED);
    if (seed === view.result?.seed) seed = (seed + 1) % MAX_SEED;
    await this.startJob({
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
    const source = await undoThread(this.deps, threadOf(record), press.user, isAdmin);
    const stored = await this.deps.blobs.get(source).catch(() => undefined);
    const image = stored ? await fitForUpload(stored, this.deps.transport.uploadLimits) : undefined;
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
    const overlay = view.overlay ? await this.deps.blobs.get(view.overlay).catch(() => undefined) : undefined;
    if (!overlay) {
      await press.replyPrivately(view.overlay ? 'The masks of this edit have expired.' : 'The masks of this edit are not ready yet.');
      return;
    }
    const format = this.deps.transport.format;
    const plan = view.plan ? planLines(view.plan, format) : [];
    await press.postStatus({
      text: [`${format.bold('Masks')} of edit ${press.jobId}`, ...plan].join('\n'),
      images: [{ name: 'masks.png', data: overlay, contentType: 'image/png', alt: 'The regions that were edited, numbered as in the plan', placement: 'inline' }],
      buttons: [],
      final: true,
    });
  }

  private async currentView(jobId: string, record: JobRecord): Promise<JobView> {
    return foldEvents(newJobView({ jobId, request: record.request }), await this.deps.queue.events.history(jobId));
  }

  /** The images the view shows, as bytes; one that expired is left out (the text says so). */
  private async loadImages(view: JobView, log: Logger): Promise<StatusImages> {
    const shown = imagesShown(view);
    const get = async (ref: string | undefined) => {
      if (!ref) return undefined;
      try {
        return await this.deps.blobs.get(ref);
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
      if (result) images.result = await fitForUpload(result, this.deps.transport.uploadLimits);
    }
    return images;
  }

  /** The photo's bytes, refused early when the platform already says it is too big or not an image. */
  private async download(file: IncomingFile): Promise<Buffer> {
    const max = this.config.maxImageBytes;
    if (file.contentType && !file.contentType.startsWith('image/')) {
      throw new GasError('bad_image', `${file.name} is not an image. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF photo.`);
    }
    const tooBig = () => new GasError('bad_image', `The image is over the ${formatMb(max)} MB limit; send a smaller one.`);
    if (file.size !== undefined && file.size > max) throw tooBig();
    let bytes: Buffer;
    try {
      bytes = await file.download(max);
    } catch (error) {
      if (isGasError(error)) throw error;
      this.deps.logger.warn({ err: error, file: file.name }, 'could not download an image');
      throw new GasError('bad_image', 'The image could not be downloaded; post it again.');
    }
    if (bytes.length > max) throw tooBig();
    return bytes;
  }

  /** Tells the person what went wrong, in words for people; details go to the log only. */
  private async tellPrivately(incoming: IncomingBase, error: unknown): Promise<void> {
    // A GasError's message is written for people; anything else is ours to read in the log.
    const text = isGasError(error) ? wordedForChat(error) : SOMETHING_WENT_WRONG;
    if (!isGasError(error)) this.deps.logger.error({ err: error, user: incoming.user }, 'a chat event failed');
    try {
      await incoming.replyPrivately(text);
    } catch (replyError) {
      this.deps.logger.warn({ err: replyError }, 'could not reply privately');
    }
  }
}

/** A GasError's message as chat shows it: the queue names a thread's owner by id, a mention shows the person. */
function wordedForChat(error: GasError): string {
  const owner = error.details?.owner;
  if (error.code === 'not_allowed' && typeof owner === 'string') return error.message.replace(owner, `<@${owner}>`);
  return error.message;
}

function foldEvents(view: JobView, events: readonly JobEvent[], uptoSeq = Infinity): JobView {
  return events.filter((e) => e.seq <= uptoSeq).reduce(applyEvent, view);
}

/** The steps a conversation's person chose, which its later edits keep (absent: the worker's default). */
function stepsOf(known: { steps?: number } | undefined): EditJobOptions {
  return known?.steps !== undefined ? { steps: known.steps } : {};
}

function threadOf(record: JobRecord): ThreadId {
  return { platform: record.requester.platform, channel: record.requester.channel, thread: record.requester.thread };
}

/** The options a person may set, checked here so that a bad one is their mistake, not ours. */
function pickOptions(options: { steps?: number; seed?: number }): EditJobOptions {
  const { steps, seed } = options;
  const whole = (value: number, name: string, max: number) => {
    if (!Number.isInteger(value) || value < (name === 'seed' ? 0 : 1) || value > max) {
      throw new GasError('bad_input', `${name} must be a whole number from ${name === 'seed' ? 0 : 1} to ${max} (got ${value}).`);
    }
    return value;
  };
  return {
    ...(steps !== undefined ? { steps: whole(steps, 'steps', MAX_STEPS) } : {}),
    ...(seed !== undefined ? { seed: whole(seed, 'seed', MAX_SEED) } : {}),
  };
}

/** What a person would see of a message: two messages with the same signature look the same. */
function renderSignature(message: ChatMessage): string {
  const hash = createHash('sha256').update(message.text).update(JSON.stringify(message.buttons));
  for (const image of message.images) hash.update(image.name).update(image.data);
  return hash.digest('hex');
}

function formatMb(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return String(mb >= 1 ? Math.round(mb * 10) / 10 : Number(mb.toPrecision(2)));
}
