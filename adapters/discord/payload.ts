/**
 * A ChatMessage as a Discord message payload, made with discord.js's builders and validated as they
 * serialise: content within 2000 characters, inline images as attachments shown in embeds, the
 * result as a plain attachment at full resolution, buttons as one action row, no pings. Edits
 * replace the attachments (`attachments` lists only the new files).
 */
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  MessageFlags,
  StringSelectMenuBuilder,
  type InteractionReplyOptions,
  type RawFile,
  type RESTPostAPIChannelMessageJSONBody,
} from 'discord.js';
import { buttonId, type ChatButton, type ChatImage, type ChatMenu, type ChatMessage } from '../../src/chat/transport.js';
import { truncate } from '../../src/chat/truncate.js';
import { DISCORD_BOLD } from './format.js';

/** Discord's limits on one message. */
const LIMITS = { contentChars: 2000, buttonsPerRow: 5, buttonLabel: 80, altText: 1024, embeds: 10, attachments: 10, rows: 5, menuOptions: 25, optionLabel: 100, placeholder: 150 } as const;

export interface DiscordPayload {
  body: RESTPostAPIChannelMessageJSONBody;
  files: RawFile[];
}

const BUTTON_STYLES: Record<ChatButton['style'], ButtonStyle> = {
  primary: ButtonStyle.Primary,
  secondary: ButtonStyle.Secondary,
  danger: ButtonStyle.Danger,
};

/** Text within Discord's limit (2000 by default), cut safely (src/chat/truncate.ts). */
export const truncateContent = (text: string, max: number = LIMITS.contentChars): string => truncate(text, max, DISCORD_BOLD);

/**
 * The text with its last lines kept whole: a resize note, then the footer as small subtext
 * (`-# `); the text is cut to make room, so both always show.
 */
function withTail(text: string, note?: string, footer?: string): string {
  const tail = [note, footer ? `-# ${footer}` : undefined].filter((line): line is string => Boolean(line)).join('\n');
  return tail ? `${truncateContent(text, LIMITS.contentChars - tail.length - 1)}\n${tail}` : truncateContent(text);
}

function attachments(images: readonly ChatImage[]): AttachmentBuilder[] {
  const seen = new Set<string>();
  return images.map((image, i) => {
    const name = seen.has(image.name) ? `${i}-${image.name}` : image.name;
    seen.add(name);
    return new AttachmentBuilder(image.data, { name, ...(image.alt ? { description: image.alt.slice(0, LIMITS.altText) } : {}) });
  });
}

function buttonRows(buttons: readonly ChatButton[]) {
  if (buttons.length === 0) return [];
  const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
    buttons.slice(0, LIMITS.buttonsPerRow).map((button) =>
      new ButtonBuilder().setCustomId(buttonId(button.action, button.jobId)).setLabel(button.label.slice(0, LIMITS.buttonLabel)).setStyle(BUTTON_STYLES[button.style]),
    ),
  );
  return [row.toJSON()];
}

/** One row per menu (a string select), after the buttons' row; Discord allows 5 rows. */
function menuRows(menus: readonly ChatMenu[]) {
  return menus.slice(0, LIMITS.rows - 1).map((menu) =>
    new ActionRowBuilder<StringSelectMenuBuilder>()
      .addComponents(
        new StringSelectMenuBuilder()
          .setCustomId(buttonId(menu.action, menu.jobId))
          .setPlaceholder(menu.placeholder.slice(0, LIMITS.placeholder))
          .addOptions(menu.options.slice(0, LIMITS.menuOptions).map((option) => ({ label: option.label.slice(0, LIMITS.optionLabel), value: option.value }))),
      )
      .toJSON(),
  );
}

export function discordPayload(message: ChatMessage, note?: string): DiscordPayload {
  const images = message.images.slice(0, LIMITS.attachments);
  const files = attachments(images);
  const embeds = files.filter((_, i) => images[i].placement === 'inline').slice(0, LIMITS.embeds).map((file) => new EmbedBuilder().setImage(`attachment://${file.name}`));
  return {
    body: {
      content: withTail(message.text, note, message.footer),
      embeds: embeds.map((embed) => embed.toJSON()),
      components: [...buttonRows(message.buttons), ...menuRows(message.menus ?? [])],
      // Discord's description types an attachment id as a snowflake string; a new upload's is its index ("0").
      attachments: files.map((file, id) => ({ id: String(id), filename: file.name!, ...(file.description ? { description: file.description } : {}) })),
      // Nobody is pinged but the users the message names as its mentions (a requester told that their edit ended).
      allowed_mentions: { parse: [], ...(message.mentions?.length ? { users: [...message.mentions] } : {}), ...(message.replyTo ? { replied_user: false } : {}) },
      ...(message.replyTo ? { message_reference: { message_id: message.replyTo.message, fail_if_not_exists: false } } : {}),
    },
    files: files.map((file, i) => ({ name: file.name!, data: images[i].data, contentType: images[i].contentType })),
  };
}

/** An ephemeral answer to an interaction: only the person sees it, and it pings nobody. */
export const privateReply = (text: string): InteractionReplyOptions & { flags: MessageFlags.Ephemeral } => ({
  content: truncateContent(text),
  flags: MessageFlags.Ephemeral,
  allowedMentions: { parse: [] },
});

/** An answer to a person's message that pings only them (outside an interaction Discord has no private replies). */
export const replyBody = (text: string, messageId: string): RESTPostAPIChannelMessageJSONBody => ({
  content: truncateContent(text),
  message_reference: { message_id: messageId, fail_if_not_exists: false },
  allowed_mentions: { parse: [], replied_user: true },
});
