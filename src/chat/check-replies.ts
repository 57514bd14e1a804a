/**
 * Replies to a check (docs/architecture.md, "The check step"): while a job of a conversation
 * thread waits at its check, what its requester (or an admin) writes there is read as a fix of
 * its regions ("1 is the dog on the left", "drop 2", "2 is B3 to D5") or as Go ("go", "looks
 * good"). The rules read it here (src/plan/fix.ts); a reply they cannot read goes to the worker's
 * planner model when there is one. The fix itself is applied by the check lane of a worker, which
 * publishes the new masks on the job's events; this module only answers mistakes, privately.
 * Anyone else who writes a fix is told privately that it is not theirs; anything else they write
 * is their own next edit, as any reply in the thread.
 */
import type { Check } from '../jobs/checks.js';
import type { ThreadId } from '../jobs/thread-history.js';
import { applyPlainFix, fixContext, fixErrorKind, isUnreadableFix, needsDetector, readFixes, type PlanFix } from '../plan/fix.js';
import type { ChatContext } from './context.js';
import type { IncomingBase } from './transport.js';
import { tellPrivately } from './words.js';

export class CheckReplies {
  constructor(private readonly context: ChatContext) {}

  /**
   * Handles a message in a thread whose jobs may wait at their check; true when it was about a
   * check (a fix, a Go, or someone else's attempt at one), false when it is an ordinary reply.
   */
  async handle(thread: ThreadId, from: IncomingBase & { text: string }): Promise<boolean> {
    const { queue, config, logger } = this.context;
    const waiting = await queue.checks.inThread(thread);
    if (waiting.length === 0) return false;
    const isAdmin = from.isAdmin || config.admins.includes(from.user);
    const own = waiting.find((check) => check.state.job.requester.user === from.user) ?? (isAdmin ? waiting[0] : undefined);
    if (!own) {
      const check = waiting[0];
      if (!readsAsFix(from.text, check)) return false;
      await from.replyPrivately(`Only <@${check.state.job.requester.user}> can fix the regions of this edit or start it.`).catch((error: unknown) => logger.warn({ err: error }, 'could not reply privately'));
      return true;
    }
    try {
      await this.apply(own, from, isAdmin);
    } catch (error) {
      await tellPrivately(from, error, logger);
    }
    return true;
  }

  private async apply(check: Check, from: IncomingBase & { text: string }, isAdmin: boolean): Promise<void> {
    const { queue } = this.context;
    let fixes: PlanFix[];
    try {
      fixes = readFixes(from.text, fixContext(check.state.checked));
    } catch (error) {
      // The rules could not read it: the worker's planner model may.
      if (isUnreadableFix(error) && check.state.reader === 'model') {
        await queue.requestFix({ kind: 'read', jobId: check.jobId, text: from.text.slice(0, 1000), parts: check.state.checked.plan.subtasks.length });
        return;
      }
      throw error;
    }
    if (fixes.length === 1 && fixes[0].kind === 'go') {
      await queue.go(check.jobId, from.user, isAdmin);
      return;
    }
    // Fixes that need no detector are tried here first, so a mistake ("drop 5") is answered at once.
    if (!fixes.some(needsDetector)) fixes.reduce((checked, fix) => applyPlainFix(checked, fix), check.state.checked);
    await queue.requestFix({ kind: 'fix', jobId: check.jobId, fixes, text: from.text.slice(0, 1000), parts: check.state.checked.plan.subtasks.length });
  }
}

/** Whether a message reads as a fix or a Go for this check (an edit sentence does not: it is the writer's own next edit). */
function readsAsFix(text: string, check: Check): boolean {
  try {
    return readFixes(text, fixContext(check.state.checked)).some((fix) => fix.kind !== 'add');
  } catch (error) {
    // Naming a part that does not exist is still a fix.
    return fixErrorKind(error) === 'part';
  }
}
