/**
 * The use cases every front end shares (`gas submit`, the chat flow of every platform), above
 * the queue and its storage (src/jobs): submitting an edit (check the photo and the request,
 * store the photo as sent, start or continue the conversation thread, enqueue), and undoing a
 * thread's latest edit. Only the person who started a thread, or an admin, may replace its
 * photo; anyone in the thread may add an edit.
 */
import { GasError } from '../errors.js';
import { decodePhoto } from '../image/decode.js';
import { checkRequestText } from '../plan/planner.js';
import type { Plan } from '../plan/schema.js';
import type { BlobStore } from '../jobs/blob-store.js';
import { blobRefSchema, requesterSchema, type BlobRef, type EditJob, type EditJobOptions, type Requester } from '../jobs/contracts.js';
import type { EditQueue, Submitted } from '../jobs/edit-queue.js';
import type { ThreadActor, ThreadHistory, ThreadId } from '../jobs/thread-history.js';

export interface SubmitEditInput {
  /** With `thread` set when the edit belongs to a conversation thread. */
  requester: Requester;
  /** The person may act on any thread (platform admin); GAS_ADMINS are admins too. */
  isAdmin?: boolean;
  /** The photo as the person sent it (any decodable format); absent: continue the thread from its latest result (fromThread). */
  photo?: Buffer;
  /** Or an image already stored: an earlier step's source, which an adjusted rerun edits again. */
  source?: BlobRef;
  /** Pause after grounding for the masks to be checked (absent: never). */
  check?: EditJob['check'];
  request?: string;
  plan?: Plan;
  options?: EditJobOptions;
  priority?: number;
}

export interface SubmittedEdit extends Submitted {
  source: BlobRef;
  parent?: string;
}

export interface EditSubmitterDeps {
  queue: EditQueue;
  blobs: BlobStore;
  threads: ThreadHistory;
}

/** Checks the photo (bytes, pixels, decodable) and the request, stores the photo, starts or continues the thread, enqueues. */
export async function submitEdit(deps: EditSubmitterDeps, input: SubmitEditInput): Promise<SubmittedEdit> {
  const { queue, blobs, threads } = deps;
  const requester = checkRequester(input.requester);
  if (input.plan === undefined) checkRequestText(input.request);
  // Decoding proves the bytes are an image the worker can read; the bytes themselves are stored.
  if (input.photo !== undefined) await decodePhoto(input.photo);

  const thread = threadOf(requester);
  const actor = actorOf(queue, requester.user, input.isAdmin);
  let source: BlobRef;
  if (input.photo !== undefined) {
    // Refuse before storing megabytes that no job would use; setOrigin checks again, atomically.
    if (thread) await threads.checkOwner(thread, actor, 'replace');
    source = await blobs.put(input.photo);
    if (thread) await threads.setOrigin(thread, source, actor);
  } else if (input.source !== undefined) {
    source = blobRefSchema.parse(input.source);
  } else {
    if (!thread) throw new GasError('bad_input', 'Attach the photo to edit, or reply in a thread to edit its latest result.');
    const latest = await threads.sourceFor(thread);
    if (!latest) throw new GasError('bad_input', 'This thread has no image yet: send a photo with your request to start it.');
    source = latest;
  }
  const parent = thread ? (await threads.latest(thread))?.jobId : undefined;

  const submitted = await queue.submit({
    requester,
    source,
    ...(input.request !== undefined ? { request: input.request } : {}),
    ...(input.plan !== undefined ? { plan: input.plan } : {}),
    options: input.options ?? {},
    ...(parent !== undefined ? { parent } : {}),
    // Without a photo or a given image, the worker edits the thread's latest result as of when the job starts.
    ...(input.photo === undefined && input.source === undefined ? { fromThread: true } : {}),
    ...(input.check ? { check: input.check } : {}),
    priority: input.priority ?? 0,
  });
  return { ...submitted, source, ...(parent !== undefined ? { parent } : {}) };
}

/**
 * Undoes the thread's latest edit for `by` (its owner, or an admin: `isAdmin` or GAS_ADMINS) and
 * returns the image the thread's next edit starts from: the edit before it, or the original photo.
 */
export async function undoThread(
  deps: Pick<EditSubmitterDeps, 'queue' | 'threads'>,
  thread: ThreadId,
  by: string,
  isAdmin = false,
): Promise<BlobRef> {
  const actor = actorOf(deps.queue, by, isAdmin);
  // Others are refused before they learn whether there is anything to undo.
  await deps.threads.checkOwner(thread, actor, 'undo');
  if (!(await deps.threads.latest(thread))) throw new GasError('bad_input', 'This thread has no edit to undo.');
  await deps.threads.undo(thread, actor);
  const source = await deps.threads.sourceFor(thread);
  if (!source) throw new GasError('bad_input', "This thread has no image left to edit; send a photo to start over.");
  return source;
}

function checkRequester(requester: Requester): Requester {
  const checked = requesterSchema.safeParse(requester);
  if (!checked.success) {
    throw new GasError('bad_input', 'An edit needs the platform, user and channel it comes from.', { issues: checked.error.issues });
  }
  return checked.data;
}

function threadOf(requester: Requester): ThreadId | undefined {
  return requester.thread === undefined ? undefined : { platform: requester.platform, channel: requester.channel, thread: requester.thread };
}

function actorOf(queue: EditQueue, user: string, isAdmin: boolean | undefined): ThreadActor {
  return { user, isAdmin: isAdmin === true || queue.config.admins.includes(user) };
}
