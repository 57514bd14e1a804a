/**
 * What a person sees of one job: `JobView` is the job's state folded from its events (pure), and
 * `renderStatus` turns it into the one status message that is edited in place. Words for
 * failures are chosen here, from the event's code and what earlier events carried; so are the
 * words of the check step (the masks to check, why it asks, how to fix a region) and of the
 * "Adjust a part" menu of a finished edit.
 */
import type { ErrorCode, FailureFacts } from '../errors.js';
import { regionDoubts, type RegionDoubt } from '../ground/region-checks.js';
import type { BlobRef, CheckReason, JobEvent } from '../jobs/contracts.js';
import type { Plan } from '../plan/schema.js';
import type { ChatAction, ChatButton, ChatImage, ChatMenu, ChatMessage, TextFormat } from './transport.js';
import { resizeNote, type FittedImage } from './upload.js';

/** `checking`: paused before any GPU time, for the person to check the masks and say go. */
export type JobPhase = 'queued' | 'running' | 'checking' | 'done' | 'failed' | 'cancelled';

/** Where a check stands: its round, when it expires, why it asks, how many instances each part found, a reply it could not apply. */
export interface CheckView {
  readonly round: number;
  readonly deadline: number;
  readonly reasons: readonly CheckReason[];
  /** Per part: instances found, and how many of them will be edited. */
  readonly parts: readonly { found: number; chosen: number }[];
  readonly unread?: { text: string; reason?: string };
}

export interface JobView {
  readonly jobId: string;
  /** What the person wrote. */
  readonly request: string;
  /** Its number in the thread ("edit 3"), when known. */
  readonly step?: number;
  readonly phase: JobPhase;
  /** The last event folded in: later events only, so none is applied twice. */
  readonly lastSeq: number;
  /** Where a waiting job stands: its place in line (1: next) and when it should start. */
  readonly queue?: { place: number; startsAt: number };
  /** Set when a worker stopped and the job runs again. */
  readonly attempt?: number;
  readonly plan?: Plan;
  readonly overlay?: BlobRef;
  /** Phrases the grounding found nowhere. */
  readonly missing: readonly string[];
  /** Phrases the grounding did find. */
  readonly found: readonly string[];
  /** What is doubtful about the regions found (a speck, one covering another), said with the masks. */
  readonly doubts: readonly RegionDoubt[];
  readonly progress?: { iteration: number; total: number; doneAt: number };
  readonly preview?: BlobRef;
  readonly result?: { image: BlobRef; seed: number; tookMs: number; intensity?: readonly number[] };
  /** Set while the job waits at its check. */
  readonly check?: CheckView;
  readonly failure?: ErrorCode;
  /** The failure's details: what its words are made from. */
  readonly failureDetails?: FailureFacts;
  readonly cancelledBy?: string;
  /** The job vanished from the queue (a Redis that restarted without its data): nothing more will come. */
  readonly lost?: boolean;
}

export function newJobView(job: { jobId: string; request: string; step?: number }): JobView {
  return { ...job, phase: 'queued', lastSeq: 0, missing: [], found: [], doubts: [] };
}

/** How people name an edit: "edit 3" of its thread, or "this edit". */
export const editName = (view: Pick<JobView, 'step'>) => (view.step ? `edit ${view.step}` : 'this edit');

export const isFinal = (view: JobView) => view.phase === 'done' || view.phase === 'failed' || view.phase === 'cancelled';

/** Folds one event into the view; events already folded in, and anything after the end, change nothing. */
export function applyEvent(view: JobView, event: JobEvent): JobView {
  if (event.seq <= view.lastSeq || isFinal(view)) return view;
  const next = { ...view, lastSeq: event.seq };
  switch (event.type) {
    case 'queued':
      // After a check, the plan and masks stay shown while the edit waits for a worker.
      return { ...next, phase: 'queued', check: undefined, queue: { place: event.place ?? event.position + 1, startsAt: event.at + event.startsInMs } };
    case 'restarted':
      // A rerun starts over: what the last attempt showed of its progress no longer holds.
      return { ...next, phase: 'running', attempt: event.attempt, progress: undefined, preview: undefined };
    case 'planned':
      return { ...next, phase: 'running', plan: event.plan };
    case 'grounded':
      return {
        ...next,
        phase: 'running',
        overlay: event.overlay,
        missing: event.missing,
        found: event.regions.filter((r) => r.boxes.length > 0).map((r) => r.phrase),
        // Several instances are normal (every one is edited); a speck or one region over another is worth a look.
        doubts: regionDoubts(event.regions).filter((d) => d.kind === 'tiny' || d.kind === 'overlap'),
      };
    case 'checking':
      return {
        ...next,
        phase: 'checking',
        plan: event.plan,
        overlay: event.overlay,
        missing: event.missing,
        found: event.regions.filter((r) => r.boxes.length > 0).map((r) => r.phrase),
        doubts: [],
        check: {
          round: event.round,
          deadline: event.deadline,
          reasons: event.reasons,
          parts: event.regions.map((r) => ({ found: r.found ?? r.boxes.length, chosen: r.boxes.length })),
          ...(event.unread ? { unread: event.unread } : {}),
        },
      };
    case 'progress':
      return {
        ...next,
        phase: 'running',
        progress: { iteration: event.iteration, total: event.total, doneAt: event.at + event.etaMs },
        preview: event.preview ?? view.preview,
      };
    case 'done':
      return {
        ...next,
        phase: 'done',
        plan: event.plan,
        overlay: event.overlay,
        result: { image: event.result, seed: event.seed, tookMs: event.timings.totalMs ?? 0, ...(event.intensity ? { intensity: event.intensity } : {}) },
      };
    case 'failed':
      return { ...next, phase: 'failed', failure: event.code, failureDetails: event.details };
    case 'cancelled':
      return { ...next, phase: 'cancelled', cancelledBy: event.by };
  }
}

/** The images a view names, as bytes (absent: expired or not loaded; the text still renders). */
export interface StatusImages {
  overlay?: Buffer;
  preview?: Buffer;
  /** The result, already fitted to the platform's upload limit. */
  result?: FittedImage;
}

/** Which of the view's images the status message shows now. */
export function imagesShown(view: JobView): { overlay: boolean; preview: boolean; result: boolean } {
  // The masks stay up while the edit runs: a coalesced edit must not skip past them to a preview.
  // They are what a check is about, and stay up while a checked edit waits for a worker.
  const running = view.phase === 'running';
  return {
    overlay: view.overlay !== undefined && (running || view.phase === 'failed' || view.phase === 'checking' || view.phase === 'queued'),
    preview: running && view.preview !== undefined,
    result: view.phase === 'done',
  };
}

/** What to say about a failure, and what to try, by its code. */
const FAILURE_WORDS: Record<ErrorCode, string> = {
  bad_input: 'The request could not be used. Check it and send it again.',
  bad_image: 'The image could not be used. Send a JPEG, PNG or WebP photo.',
  bad_plan: 'The edit plan was invalid. Rephrase the request, e.g. "turn the dog into a tiger".',
  bundle_invalid: 'The image model is not set up correctly on the server. Tell an admin; nothing you did caused this.',
  provider_unavailable: 'The GPU the server is set up for is not available. Tell an admin; nothing you did caused this.',
  planner_failed: 'I could not turn the request into edits. Rephrase it, e.g. "turn the dog into a tiger", and try again.',
  not_found: 'I could not find what you named in the image.',
  model_error: 'The model produced an unusable result. Press Retry to try again with a new seed.',
  cancelled: 'The edit was cancelled.',
  timeout: 'The edit took too long and was stopped. Try fewer steps or a smaller image.',
  expired: 'Nobody pressed Go in time, so this edit was not started. Press Retry to start it again.',
  busy: 'The service is at capacity. Try again in a few minutes.',
  too_many_jobs: 'You already have as many edits running as allowed. Wait for one to finish, or cancel one.',
  not_allowed: 'You may not do that.',
  internal: 'Something went wrong on our side; it has been logged. Press Retry to try again.',
  service_unavailable: 'The edit queue could not be reached. Try again in a few minutes.',
};

/** What people wrote, shortened so that a status message stays well inside platforms' length limits. */
const REQUEST_CHARS_SHOWN = 200;
const PHRASE_CHARS_SHOWN = 80;

function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

const shown = (text: string, format: TextFormat, max = PHRASE_CHARS_SHOWN) => format.escape(clip(text, max));

const quoteList = (phrases: readonly string[], format: TextFormat) => phrases.map((p) => `"${shown(p, format)}"`).join(', ');

/** Words for a failure from its details, where they say more than the code alone. */
function failureFromDetails(view: JobView, format: TextFormat): string | undefined {
  const details = view.failureDetails ?? {};
  switch (view.failure) {
    case 'not_found': {
      const missing = details.missing ?? view.missing;
      if (missing.length === 0) return undefined;
      const found = view.found.length > 0 ? ` I did find ${quoteList(view.found, format)}.` : '';
      return `I could not find ${quoteList(missing, format)} in the image.${found} The masks show what I found; name it as it appears in the photo, or leave it out, and try again.`;
    }
    case 'timeout':
      return details.limitMs === undefined ? undefined : `The edit took longer than ${formatLimit(details.limitMs)} and was stopped. Try fewer steps or a smaller image.`;
    case 'expired':
      return details.limitMs === undefined ? undefined : `Nobody pressed Go within ${formatLimit(details.limitMs)}, so this edit was not started. Press Retry to start it again.`;
    case 'bad_input':
      if (details.malformed) return 'This edit request was malformed: a fault in the app that sent it, not in your request. Tell an admin.';
      return details.reason === undefined ? undefined : shown(details.reason, format, REQUEST_CHARS_SHOWN);
    case 'bad_plan':
      return details.reason === undefined ? undefined : shown(details.reason, format, REQUEST_CHARS_SHOWN);
    case 'internal':
      return details.attempts === undefined ? undefined : `The edit was interrupted ${times(details.attempts)} by a worker failure and was stopped. Press Retry to try again.`;
    default:
      return undefined;
  }
}

function failureText(view: JobView, format: TextFormat): string {
  if (view.lost) return 'This edit was lost: the queue restarted without it. Press Retry to run it again.';
  return failureFromDetails(view, format) ?? FAILURE_WORDS[view.failure ?? 'internal'];
}

const times = (n: number) => (n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`);

/** A time limit as people say it: "40 s", "15 min". */
const formatLimit = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 6000) / 10} min`);

function stateLine(view: JobView, format: TextFormat): string {
  switch (view.phase) {
    case 'queued':
      if (!view.queue) return 'Queued';
      return `Queued · ${inLine(view.queue.place)} · starts ${format.relativeTime(view.queue.startsAt)}`;
    case 'running':
      if (view.progress) return `Editing · ${view.progress.iteration}/${view.progress.total} · done ${format.relativeTime(view.progress.doneAt)}`;
      if (!view.plan) return 'Planning…';
      if (!view.overlay) return 'Finding the objects…';
      return 'Editing · starting…';
    case 'checking':
      return `Check the masks: press Go to edit, or reply to fix a region · expires ${format.relativeTime(view.check?.deadline ?? 0)}`;
    case 'done':
      return `Done in ${formatSeconds(view.result?.tookMs ?? 0)} · seed ${view.result?.seed ?? '?'}`;
    case 'failed':
      return failureText(view, format);
    case 'cancelled':
      return `${view.cancelledBy ? `Cancelled by <@${view.cancelledBy}>` : 'Cancelled'}. Press Retry to run it again.`;
  }
}

/** "next in line", "2nd in line", "23rd in line". */
function inLine(place: number): string {
  if (place <= 1) return 'next in line';
  const tens = place % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][place % 10] ?? 'th');
  return `${place}${suffix} in line`;
}

const formatSeconds = (ms: number) => `${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;

/** The plan's subtasks, numbered as the masks are; while checking, with what was found of each. */
export function planLines(plan: Plan, format: TextFormat, check?: CheckView): string[] {
  return plan.subtasks.map((s, i) => `${i + 1} · ${shown(s.source, format)} → ${shown(s.target, format)}${check ? foundNote(check.parts[i]) : ''}`);
}

/** "(found in 2 places)", "(1 of 2 found)", "(not found)": what a part's region holds while checking. */
function foundNote(part: { found: number; chosen: number } | undefined): string {
  if (!part) return '';
  if (part.chosen === 0) return ' (not found)';
  if (part.chosen < part.found) return ` (${part.chosen} of the ${part.found} found)`;
  return part.found > 1 ? ` (found in ${part.found} places)` : '';
}

/** How to fix a region by a reply, with examples numbered as the plan. */
export const FIX_HINT = 'To fix a region, reply "1 is the dog on the left", "1 is the fence", "drop 1", "also turn the car into a tank", or a box on the grid: "1 is B3 to D5".';

/** What the status of a check says below the plan: why it asks, what was not found, a reply it could not apply, how to fix. */
function checkNotes(view: JobView, format: TextFormat, replyMention: string | undefined): string[] {
  const check = view.check;
  if (!check || !view.plan) return [];
  const lines: string[] = [];
  const why = check.reasons.filter((reason) => reason.kind !== 'missing').map((reason) => checkReasonText(reason, format));
  if (why.length > 0) lines.push(`Why I ask: ${why.join(' ')}`);
  if (view.missing.length > 0) {
    const found = view.plan.subtasks.filter((_, k) => (check.parts[k]?.chosen ?? 0) > 0).map((s) => shown(s.source, format));
    const first = view.plan.subtasks.findIndex((_, k) => (check.parts[k]?.chosen ?? 0) === 0) + 1;
    lines.push(`I could not find ${quoteList(view.missing, format)}.${found.length > 0 ? ` I did find: ${found.join(', ')}.` : ''}`);
    lines.push(
      found.length > 0
        ? `Reply "${first} is …" with what to edit instead, "drop ${first}", or press Go to edit the rest.`
        : `Reply "${first} is …" with what to look for, or a box on the grid such as "${first} is B3 to D5"; or press Cancel.`,
    );
  }
  if (check.unread) {
    const reason = check.unread.reason ? ` ${shown(check.unread.reason, format, REQUEST_CHARS_SHOWN)}` : ' Try one of the replies below.';
    lines.push(`I could not apply "${shown(check.unread.text, format)}".${reason}`);
  }
  lines.push(replyMention ? FIX_HINT.replace('reply "', `reply with ${replyMention}: "`) : FIX_HINT);
  return lines;
}

/** Why a check asks about one region, in words, pointing at the masks. */
function checkReasonText(reason: CheckReason, format: TextFormat): string {
  switch (reason.kind) {
    case 'several':
      return `"${shown(reason.phrase, format)}" was found in ${reason.count} places, and all of them would be edited.`;
    case 'tiny':
      return `"${shown(reason.phrase, format)}" was found only as ${reason.count > 1 ? 'small specks' : 'a small spot'} (${percent(reason.area)} of the image).`;
    case 'overlap':
      return `the region of "${shown(reason.phrase, format)}" covers most of "${shown(reason.other, format)}", so both would change there.`;
    case 'unsure':
      return `the detector is unsure of "${shown(reason.phrase, format)}" (score ${reason.score.toFixed(2)}, just over its threshold of ${reason.threshold.toFixed(2)}).`;
    case 'missing':
      return `"${shown(reason.phrase, format)}" was not found.`;
  }
}

function notes(view: JobView, images: StatusImages, format: TextFormat): string[] {
  const lines: string[] = [];
  if (view.phase === 'running' && view.attempt) lines.push(`A worker stopped, so the edit started again (attempt ${view.attempt}).`);
  if (view.phase === 'running' && view.missing.length > 0) lines.push(`Not found: ${quoteList(view.missing, format)}.`);
  if (view.phase === 'running' || view.phase === 'done') lines.push(...view.doubts.map((doubt) => doubtText(doubt, format)));
  const fitted = view.phase === 'done' ? images.result : undefined;
  const resized = fitted && resizeNote(fitted);
  if (resized) lines.push(resized);
  const shown = imagesShown(view);
  if ((shown.overlay || shown.preview) && !imageFor(view, images)) lines.push('(The image has expired.)');
  return lines;
}

/** Whether any image the view shows could be loaded. */
function imageFor(view: JobView, images: StatusImages): boolean {
  const shown = imagesShown(view);
  return (shown.overlay && !!images.overlay) || (shown.preview && !!images.preview) || (shown.result && !!images.result);
}

function chatImages(view: JobView, images: StatusImages): ChatImage[] {
  const shown = imagesShown(view);
  const out: ChatImage[] = [];
  if (shown.overlay && images.overlay) {
    const alt = view.phase === 'checking' ? 'The regions that would be edited, numbered as in the plan, on a grid of cells A1 to H8' : 'The regions that will be edited, numbered as in the plan';
    out.push({ name: 'masks.png', data: images.overlay, contentType: 'image/png', alt, placement: 'inline' });
  }
  if (shown.preview && images.preview) {
    out.push({ name: 'preview.png', data: images.preview, contentType: 'image/png', alt: 'A preview of the edit in progress', placement: 'inline' });
  }
  if (shown.result && images.result) {
    const jpeg = images.result.contentType === 'image/jpeg';
    out.push({ name: jpeg ? 'edit.jpg' : 'edit.png', data: images.result.data, contentType: images.result.contentType, alt: 'The edited image', placement: 'result' });
  }
  return out;
}

const LABELS: Record<ChatAction, { label: string; style: ChatButton['style'] }> = {
  cancel: { label: 'Cancel', style: 'danger' },
  retry: { label: 'Retry', style: 'primary' },
  undo: { label: 'Undo', style: 'secondary' },
  masks: { label: 'Masks', style: 'secondary' },
  go: { label: 'Go', style: 'primary' },
  adjust: { label: 'Adjust a part', style: 'secondary' },
};

/** Failures that the same request would meet again: Retry would only fail the same way. */
function retryWouldFailAgain(view: JobView): boolean {
  const details = view.failureDetails ?? {};
  switch (view.failure) {
    case 'not_found':
    case 'bad_plan':
    case 'planner_failed':
      return true;
    case 'bad_input':
      return details.reason !== undefined || details.malformed === true;
    default:
      return false;
  }
}

export function buttonsFor(view: JobView): ChatButton[] {
  const masks: ChatAction[] = view.overlay ? ['masks'] : [];
  const actions: ChatAction[] =
    view.phase === 'checking'
      ? ['go', 'cancel']
      : view.phase === 'queued' || view.phase === 'running'
      ? ['cancel']
      : view.phase === 'done'
        ? ['retry', 'undo', 'masks']
        : view.phase === 'failed'
          ? [...(retryWouldFailAgain(view) ? [] : (['retry'] as ChatAction[])), ...masks]
          : ['retry'];
  return actions.map((action) => ({ action, jobId: view.jobId, ...LABELS[action] }));
}

/** What "Adjust a part" does to one part: its intensity up or down, or the part left out. */
export const ADJUSTMENTS = ['stronger', 'weaker', 'remove'] as const;
export type Adjustment = (typeof ADJUSTMENTS)[number];

/** Intensities a part may reach by "stronger" and "weaker" (the engine takes 0–2). */
export const MAX_INTENSITY = 2;
export const MIN_INTENSITY = 0.25;

/** A part's intensity after an adjustment; undefined when it can go no further that way. */
export function adjustedIntensity(current: number, how: 'stronger' | 'weaker'): number | undefined {
  const next = how === 'stronger' ? Math.min(MAX_INTENSITY, current * 1.5) : Math.max(MIN_INTENSITY, current / 2);
  return Math.abs(next - current) < 1e-9 ? undefined : Math.round(next * 1000) / 1000;
}

/** The menu a finished edit offers: per part stronger, weaker, or (with several parts) remove; at most 25 options. */
export function menusFor(view: JobView): ChatMenu[] {
  if (view.phase !== 'done' || !view.plan) return [];
  const parts = view.plan.subtasks;
  const options = parts.flatMap((subtask, k) => {
    const intensity = view.result?.intensity?.[k] ?? 1;
    const what = clip(`${subtask.source} → ${subtask.target}`, 60);
    const hows = ADJUSTMENTS.filter((how) => (how === 'remove' ? parts.length > 1 : adjustedIntensity(intensity, how) !== undefined));
    return hows.map((how) => ({ label: `${k + 1} · ${how} · ${what}`, value: `${k + 1}:${how}` }));
  });
  return options.length > 0 ? [{ action: 'adjust', jobId: view.jobId, placeholder: 'Adjust a part', options: options.slice(0, 25) }] : [];
}

/** Reads a menu value back ("2:weaker"): the part's index and the adjustment; undefined when it is not one of ours. */
export function parseAdjustment(value: string | undefined): { part: number; how: Adjustment } | undefined {
  const match = /^(\d{1,2}):(stronger|weaker|remove)$/.exec(value ?? '');
  return match ? { part: Number(match[1]) - 1, how: match[2] as Adjustment } : undefined;
}

/** The request of an adjusted edit, as its status shows it: "turn the dog into a tiger (1 weaker)". */
export function adjustedRequest(request: string, part: number, how: Adjustment): string {
  return `${request} (${part + 1} ${how === 'remove' ? 'removed' : how})`;
}

/** A doubt about the regions, in words, pointing at the masks. */
function doubtText(doubt: RegionDoubt, format: TextFormat): string {
  switch (doubt.kind) {
    case 'tiny':
      return `Check the masks: "${shown(doubt.phrase, format)}" was found only as ${doubt.count > 1 ? 'small specks' : 'a small spot'} (${percent(doubt.area)} of the image).`;
    case 'overlap':
      return `Check the masks: the region of "${shown(doubt.phrase, format)}" covers most of "${shown(doubt.other, format)}".`;
    case 'several':
      return `"${shown(doubt.phrase, format)}" was found in ${doubt.count} places; all of them are edited.`;
    case 'missing':
      return `Not found: "${shown(doubt.phrase, format)}".`;
    case 'unsure':
      return `Check the masks: the detector was unsure of "${shown(doubt.phrase, format)}" (score ${doubt.score.toFixed(2)}).`;
  }
}

const percent = (share: number) => `${share < 0.001 ? '<0.1' : (share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;

/** Failures an operator may need to look up in the logs carry the job's id in a small footer. */
const OPERATOR_FAILURES: ReadonlySet<ErrorCode> = new Set(['internal', 'model_error', 'timeout', 'bundle_invalid', 'provider_unavailable', 'service_unavailable']);

/** What the renderer knows of where the message is shown. */
export interface RenderContext {
  /** How a reply must address the bot to be seen (ChatTransport.replyMention), for the fix hint of a check. */
  replyMention?: string;
}

/** The status message for a view: the request, where the job stands, the plan, notes, images, buttons and menus. */
export function renderStatus(view: JobView, format: TextFormat, images: StatusImages = {}, context: RenderContext = {}): ChatMessage {
  const title = view.step ? `Edit ${view.step}` : 'Edit';
  const lines = [`${format.bold(title)}: ${shown(view.request, format, REQUEST_CHARS_SHOWN)}`, stateLine(view, format)];
  if (view.plan) lines.push(...planLines(view.plan, format, view.phase === 'checking' ? view.check : undefined));
  lines.push(...checkNotes(view, format, context.replyMention));
  lines.push(...notes(view, images, format));
  const footer = view.phase === 'failed' && OPERATOR_FAILURES.has(view.failure ?? 'internal') ? `ref ${view.jobId}` : undefined;
  const menus = menusFor(view);
  return {
    text: lines.join('\n'),
    images: chatImages(view, images),
    buttons: buttonsFor(view),
    ...(menus.length > 0 ? { menus } : {}),
    final: isFinal(view),
    ...(footer ? { footer } : {}),
  };
}
