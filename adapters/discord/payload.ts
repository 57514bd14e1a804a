/**
 * A ChatMessage as a Discord message payload: content within 2000 characters, inline images as
 * attachments shown in embeds, the result as a plain attachment at full resolution, buttons as one
 * action row, no pings. Edits replace the attachments (`attachments` lists only the new files).
 */
import { ButtonStyle, ComponentType, type RawFile, type APIActionRowComponent, type APIButtonComponentWithCustomId, type APIEmbed } from 'discord.js';
import { buttonId, type ChatButton, type ChatImage, type ChatMessage } from '../../src/chat/transport.js';

export const MAX_CONTENT_CHARS = 2000;
export const MAX_BUTTONS_PER_ROW = 5;
const MAX_BUTTON_LABEL = 80;
const MAX_ALT_TEXT = 1024;
const MAX_EMBEDS = 10;
const MAX_ATTACHMENTS = 10;
const ELLIPSIS = '…';

export interface DiscordMessageBody {
  content: string;
  embeds: APIEmbed[];
  components: APIActionRowComponent<APIButtonComponentWithCustomId>[];
  attachments: Array<{ id: number; filename: string; description?: string }>;
  allowed_mentions: { parse: [] };
}

export interface DiscordPayload {
  body: DiscordMessageBody;
  files: RawFile[];
}

const BUTTON_STYLES: Record<ChatButton['style'], ButtonStyle> = {
  primary: ButtonStyle.Primary,
  secondary: ButtonStyle.Secondary,
  danger: ButtonStyle.Danger,
};

/**
 * Cuts text to `max` characters with an ellipsis, never inside a surrogate pair or a `<…>` token
 * (mention, timestamp), and closes a `**` left open by the cut.
 */
export function truncateContent(text: string, max = MAX_CONTENT_CHARS): string {
  if (text.length <= max) return text;
  let cut = max - ELLIPSIS.length - 2; // room for a closing `**`
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  const open = text.lastIndexOf('<', cut - 1);
  if (open > text.lastIndexOf('>', cut - 1)) cut = open;
  let head = text.slice(0, cut);
  if ((head.match(/\*\*/g) ?? []).length % 2 === 1) head += '**';
  return head + ELLIPSIS;
}

function uniqueNames(images: readonly ChatImage[]): string[] {
  const seen = new Set<string>();
  return images.map((image, i) => {
    const name = seen.has(image.name) ? `${i}-${image.name}` : image.name;
    seen.add(name);
    return name;
  });
}

function buttonRow(buttons: readonly ChatButton[]): APIActionRowComponent<APIButtonComponentWithCustomId>[] {
  if (buttons.length === 0) return [];
  return [
    {
      type: ComponentType.ActionRow,
      components: buttons.slice(0, MAX_BUTTONS_PER_ROW).map((button) => ({
        type: ComponentType.Button,
        style: BUTTON_STYLES[button.style] as ButtonStyle.Primary | ButtonStyle.Secondary | ButtonStyle.Danger,
        label: button.label.slice(0, MAX_BUTTON_LABEL),
        custom_id: buttonId(button.action, button.jobId),
      })),
    },
  ];
}

export function discordPayload(message: ChatMessage): DiscordPayload {
  const images = message.images.slice(0, MAX_ATTACHMENTS);
  const names = uniqueNames(images);
  const files: RawFile[] = images.map((image, i) => ({ name: names[i], data: image.data, contentType: image.contentType }));
  const embeds: APIEmbed[] = images
    .map((image, i) => ({ image, name: names[i] }))
    .filter(({ image }) => image.placement === 'inline')
    .slice(0, MAX_EMBEDS)
    .map(({ name }) => ({ image: { url: `attachment://${name}` } }));
  return {
    body: {
      content: truncateContent(message.text),
      embeds,
      components: buttonRow(message.buttons),
      attachments: images.map((image, i) => ({ id: i, filename: names[i], ...(image.alt ? { description: image.alt.slice(0, MAX_ALT_TEXT) } : {}) })),
      allowed_mentions: { parse: [] },
    },
    files,
  };
}
