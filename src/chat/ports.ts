/**
 * What the chat flow needs from src/jobs/submit.ts, which is being written at the same time: a
 * verbatim copy of its types, so the flow takes the functions as dependencies. The integrator
 * replaces this file by `import type { … } from '../jobs/submit.js'`.
 */
import type { BlobRef, EditJobOptions, Requester } from '../jobs/contracts.js';
import type { Submitted } from '../jobs/edit-queue.js';
import type { ThreadId } from '../jobs/thread-history.js';
import type { Plan } from '../plan/schema.js';

export interface SubmitEditInput {
  requester: Requester;          // with `thread` set when the edit belongs to a conversation thread
  isAdmin?: boolean;
  photo?: Buffer;                // as the person sent it; absent: continue the thread from its latest result (fromThread)
  request?: string; plan?: Plan; options?: EditJobOptions; priority?: number;
}
export interface SubmittedEdit extends Submitted { source: BlobRef; parent?: string }
export type SubmitEdit = (input: SubmitEditInput) => Promise<SubmittedEdit>;            // throws GasError (bad_input, bad_image, not_allowed, busy, too_many_jobs)
export type UndoThread = (thread: ThreadId, by: string, isAdmin: boolean) => Promise<BlobRef | undefined>; // throws GasError not_allowed / bad_input
