/**
 * A check's `checking` event from its state (docs/architecture.md, "The check step"): the plan as
 * numbered, the regions that will be edited (and how many instances each found), why it asks, the
 * lettered masks and when it expires. Both the run that pauses a job and the check lane's fixes
 * publish it.
 */
import type { CheckState } from '../src/jobs/checks.js';
import type { JobEventBody } from '../src/jobs/contracts.js';
import { checkedRegions, missingOf } from '../src/pipeline/check.js';

export type CheckingEvent = JobEventBody & { type: 'checking' };

export function checkingEvent(state: CheckState, round: number, deadline: number, unread?: { text: string; reason?: string }): CheckingEvent {
  const { checked } = state;
  return {
    type: 'checking',
    round,
    plan: checked.plan,
    regions: checkedRegions(checked).map(({ scores, boxes, ...region }) => ({ ...region, boxes: [...boxes], ...(scores ? { scores: [...scores] } : {}) })),
    missing: missingOf(checked),
    overlay: state.overlay,
    reasons: state.reasons,
    deadline,
    ...(unread ? { unread: { text: unread.text.slice(0, 400), ...(unread.reason ? { reason: unread.reason.slice(0, 400) } : {}) } } : {}),
  };
}
