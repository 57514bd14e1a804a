/**
 * Cutting a message to a platform's length limit without breaking what it shows: never inside a
 * surrogate pair (half an emoji) or a `<…>` token (a mention, a timestamp, a link), and never
 * leaving bold open, since an unclosed marker would show as a stray `*` or bold the ellipsis.
 */

/** How a platform marks bold, as data: the adapter knows its markup, this module does not. */
export interface BoldMarkup {
  /** `**` (Discord markdown), `*` (Slack mrkdwn). */
  marker: string;
  /** Whether bold runs across line breaks (Discord) or ends at one (Slack). */
  spansLines: boolean;
}

const ELLIPSIS = '…';
const HIGH_SURROGATE = { from: 0xd800, to: 0xdbff };

/** `text` within `max` characters, ending with an ellipsis when it had to be cut. */
export function truncate(text: string, max: number, bold: BoldMarkup): string {
  if (text.length <= max) return text;
  let cut = max - ELLIPSIS.length - bold.marker.length; // room to close a bold the cut leaves open
  const code = text.charCodeAt(cut - 1);
  if (code >= HIGH_SURROGATE.from && code <= HIGH_SURROGATE.to) cut -= 1;
  const open = text.lastIndexOf('<', cut - 1);
  if (open > text.lastIndexOf('>', cut - 1)) cut = open;
  let head = text.slice(0, cut);
  const scope = bold.spansLines ? head : head.slice(head.lastIndexOf('\n') + 1);
  // An odd number of markers: the cut fell inside a bold.
  if (scope.split(bold.marker).length % 2 === 0) head += bold.marker;
  return head + ELLIPSIS;
}
