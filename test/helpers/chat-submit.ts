/**
 * `SubmitEdit` and `UndoThread` over EditQueue, BlobStore and ThreadHistory as they are today,
 * standing in for src/jobs/submit.ts (being written alongside) in the chat flow's tests.
 */
import { GasError } from '../../src/errors.js';
import type { SubmitEdit, UndoThread } from '../../src/chat/ports.js';
import { decodeImage, encodePng, type RgbImage } from '../../src/image/decode.js';
import type { BlobStore } from '../../src/jobs/blob-store.js';
import type { BlobRef } from '../../src/jobs/contracts.js';
import type { EditQueue } from '../../src/jobs/edit-queue.js';
import type { ThreadHistory } from '../../src/jobs/thread-history.js';
import { checkPlanRequest } from '../../src/plan/planner.js';

export function submitOver(deps: { queue: EditQueue; blobs: BlobStore; threads: ThreadHistory }, maxPixels?: number): SubmitEdit {
  return async (input) => {
    const { requester } = input;
    const thread = requester.thread ? { platform: requester.platform, channel: requester.channel, thread: requester.thread } : undefined;
    let source: BlobRef;
    let image: RgbImage;
    if (input.photo) {
      image = await decodeImage(input.photo, maxPixels ? { maxPixels } : {});
      if (!input.plan) checkPlanRequest({ text: input.request, image });
      source = await deps.blobs.put(await encodePng(image));
      if (thread) await deps.threads.setOrigin(thread, source);
    } else {
      const from = thread ? await deps.threads.sourceFor(thread) : undefined;
      if (!from) throw new GasError('bad_input', 'Attach the image to edit: a request needs a photo to work on.');
      source = from;
      if (!input.plan) checkPlanRequest({ text: input.request, image: await decodeImage(await deps.blobs.get(source)) });
    }
    const parent = thread ? (await deps.threads.latest(thread))?.jobId : undefined;
    const submitted = await deps.queue.submit({
      requester,
      source,
      ...(input.request !== undefined ? { request: input.request } : {}),
      ...(input.plan ? { plan: input.plan } : {}),
      options: input.options ?? {},
      ...(parent ? { parent } : {}),
      ...(input.photo ? {} : { fromThread: true }),
      priority: input.priority ?? 0,
    });
    return { ...submitted, source, ...(parent ? { parent } : {}) };
  };
}

export function undoOver(threads: ThreadHistory): UndoThread {
  return async (thread) => {
    if (!(await threads.latest(thread))) throw new GasError('bad_input', 'There is no edit to undo in this thread.');
    await threads.undo(thread);
    return threads.sourceFor(thread);
  };
}
