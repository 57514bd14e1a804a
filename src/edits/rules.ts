/**
 * Who may do what with an edit and its thread: one rule for every button and every message.
 * The thread's owner (whose photo started it) may undo any step of it; whoever made the latest
 * step may undo that step; the person who asked for an edit may cancel or retry it and see its
 * masks; admins (GAS_ADMINS, or a platform's admins) may do anything. Anyone in a thread may add
 * an edit. The thread history enforces the undo part atomically (thread-undo.lua).
 */
export { mayUndo } from '../jobs/thread-history.js';

export type EditAction = 'cancel' | 'retry' | 'undo' | 'masks' | 'go' | 'adjust';

/** The person acting, and who they stand against. */
export interface Standing {
  user: string;
  isAdmin: boolean;
}

/** Which actions are the requester's alone (with admins'); undo is decided by the thread (`mayUndo`). */
export function mayActOnEdit(action: Exclude<EditAction, 'undo'>, who: Standing, requester: string): boolean {
  return who.isAdmin || who.user === requester;
}
