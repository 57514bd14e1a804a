/**
 * A ChatMessage as a Slack message, built from @slack/types' Block Kit types (the one place the
 * adapter makes blocks): mrkdwn sections (each within 3000 characters), the inline images as
 * `slack_file` image blocks (files uploaded and processed beforehand), the buttons as one actions
 * block, a plain fallback `text` for notifications; at most 50 blocks. The result image is not a
 * block: the transport uploads it into the thread at full resolution.
 */
import type { types } from '@slack/bolt';
import { buttonId, type ChatButton, type ChatMenu, type ChatMessage } from '../../src/chat/transport.js';
import { truncate } from '../../src/chat/truncate.js';
import { SLACK_BOLD } from './format.js';

/** Block Kit's limits on one message. */
const LIMITS = { blocks: 50, sectionChars: 3000, fallbackChars: 3000, buttonLabel: 75, altText: 2000, buttons: 25, options: 100, optionText: 75, placeholder: 150, contextChars: 3000 } as const;

export interface SlackMessageBody {
  text: string;
  blocks: types.KnownBlock[];
}

/** An inline image already uploaded: its file id (processed) and alt text. */
export interface ShownFile {
  fileId: string;
  alt: string;
}

/** Text within `max` characters, cut safely (src/chat/truncate.ts). */
export const truncateText = (text: string, max: number): string => truncate(text, max, SLACK_BOLD);

const STYLES: Record<ChatButton['style'], types.Button['style']> = { primary: 'primary', danger: 'danger', secondary: undefined };

export function sectionBlock(text: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

export function imageBlock(file: ShownFile): types.ImageBlock {
  return { type: 'image', slack_file: { id: file.fileId }, alt_text: file.alt.slice(0, LIMITS.altText) || 'image' };
}

export function buttonElement(button: ChatButton): types.Button {
  const id = buttonId(button.action, button.jobId);
  const style = STYLES[button.style];
  return { type: 'button', action_id: id, value: id, text: { type: 'plain_text', text: button.label.slice(0, LIMITS.buttonLabel) }, ...(style ? { style } : {}) };
}

export function menuElement(menu: ChatMenu): types.StaticSelect {
  return {
    type: 'static_select',
    action_id: buttonId(menu.action, menu.jobId),
    placeholder: { type: 'plain_text', text: menu.placeholder.slice(0, LIMITS.placeholder) },
    options: menu.options.slice(0, LIMITS.options).map((option) => ({ text: { type: 'plain_text', text: option.label.slice(0, LIMITS.optionText) }, value: option.value })),
  };
}

export function actionsBlock(buttons: readonly ChatButton[], menus: readonly ChatMenu[] = []): types.ActionsBlock {
  return { type: 'actions', elements: [...buttons.slice(0, LIMITS.buttons).map(buttonElement), ...menus.map(menuElement)].slice(0, LIMITS.buttons) };
}

/** A line in small grey type, for operators (a job id to look up in the logs). */
export function contextBlock(text: string): types.ContextBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncateText(text, LIMITS.contextChars) }] };
}

/** Splits text into section-sized pieces at line breaks where it can. */
function sections(text: string, maxSections: number): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const candidate = current ? `${current}\n${line}` : line;
    if (candidate.length <= LIMITS.sectionChars) {
      current = candidate;
      continue;
    }
    if (current) pieces.push(current);
    current = line.length <= LIMITS.sectionChars ? line : truncateText(line, LIMITS.sectionChars);
  }
  if (current) pieces.push(current);
  return pieces.slice(0, maxSections);
}

export function slackMessage(message: ChatMessage, shown: readonly ShownFile[]): SlackMessageBody {
  const menus = message.menus ?? [];
  const tail: types.KnownBlock[] = [
    ...(message.buttons.length > 0 || menus.length > 0 ? [actionsBlock(message.buttons, menus)] : []),
    ...(message.footer ? [contextBlock(message.footer)] : []),
  ];
  const images = shown.map(imageBlock);
  const room = LIMITS.blocks - tail.length;
  const text = sections(message.text, Math.max(1, room - images.length)).map(sectionBlock);
  const blocks: types.KnownBlock[] = [...text, ...images].slice(0, room);
  return { text: truncateText(message.text || ' ', LIMITS.fallbackChars), blocks: blocks.concat(tail) };
}
