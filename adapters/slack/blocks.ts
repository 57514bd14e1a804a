/**
 * A ChatMessage as a Slack message: mrkdwn sections (each within 3000 characters), the inline
 * images as `slack_file` image blocks (files uploaded and processed beforehand), the buttons as one
 * actions block, a plain fallback `text` for notifications; at most 50 blocks. The result image is
 * not a block: the transport uploads it into the thread at full resolution.
 */
import { buttonId, type ChatButton, type ChatMessage } from '../../src/chat/transport.js';

export const MAX_BLOCKS = 50;
export const MAX_SECTION_CHARS = 3000;
const MAX_FALLBACK_CHARS = 3000;
const MAX_BUTTON_LABEL = 75;
const MAX_ALT_TEXT = 2000;
const MAX_BUTTONS = 25;
const ELLIPSIS = '…';

export interface SlackBlock {
  type: string;
  [field: string]: unknown;
}

export interface SlackMessageBody {
  text: string;
  blocks: SlackBlock[];
}

/** An inline image already uploaded: its file id (processed) and alt text. */
export interface ShownFile {
  fileId: string;
  alt: string;
}

/** Cuts text to `max` characters, never inside a surrogate pair or a `<…>` token, and never leaving `*` bold open. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - ELLIPSIS.length - 1; // room for a closing `*`
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  const open = text.lastIndexOf('<', cut - 1);
  if (open > text.lastIndexOf('>', cut - 1)) cut = open;
  let head = text.slice(0, cut);
  // An odd count of `*` on the last line means a bold left open by the cut.
  if (((head.split('\n').at(-1) ?? '').match(/\*/g) ?? []).length % 2 === 1) head += '*';
  return head + ELLIPSIS;
}

/** Splits text into section-sized pieces at line breaks where it can. */
function sections(text: string, maxSections: number): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const candidate = current ? `${current}\n${line}` : line;
    if (candidate.length <= MAX_SECTION_CHARS) {
      current = candidate;
      continue;
    }
    if (current) pieces.push(current);
    current = line.length <= MAX_SECTION_CHARS ? line : truncateText(line, MAX_SECTION_CHARS);
  }
  if (current) pieces.push(current);
  return pieces.slice(0, maxSections);
}

const STYLES: Record<ChatButton['style'], 'primary' | 'danger' | undefined> = { primary: 'primary', danger: 'danger', secondary: undefined };

function actions(buttons: readonly ChatButton[]): SlackBlock[] {
  if (buttons.length === 0) return [];
  return [
    {
      type: 'actions',
      elements: buttons.slice(0, MAX_BUTTONS).map((button) => {
        const id = buttonId(button.action, button.jobId);
        const style = STYLES[button.style];
        return { type: 'button', action_id: id, value: id, text: { type: 'plain_text', text: button.label.slice(0, MAX_BUTTON_LABEL) }, ...(style ? { style } : {}) };
      }),
    },
  ];
}

export function slackMessage(message: ChatMessage, shown: readonly ShownFile[]): SlackMessageBody {
  const buttonBlocks = actions(message.buttons);
  const images: SlackBlock[] = shown.map((file) => ({ type: 'image', slack_file: { id: file.fileId }, alt_text: file.alt.slice(0, MAX_ALT_TEXT) || 'image' }));
  const room = MAX_BLOCKS - buttonBlocks.length;
  const textBlocks = sections(message.text, Math.max(1, room - images.length)).map((text) => ({ type: 'section', text: { type: 'mrkdwn', text } }));
  const blocks = [...textBlocks, ...images].slice(0, room).concat(buttonBlocks);
  return { text: truncateText(message.text || ' ', MAX_FALLBACK_CHARS), blocks };
}
