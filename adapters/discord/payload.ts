/**
 * A ChatMessage as a Discord message payload, made with discord.js's builders and validated as they
 * serialise: content within 2000 characters, inline images as attachments shown in embeds, the
 * result as a plain attachment at full resolution, buttons as one action row and each menu as a
 * string select in a row of its own, a footer as `-# ` subtext. Nobody is pinged but the users the
 * message names as its mentions. `attachments` lists what the message has after the write: new
 * files by their index, and images it already carries by their attachment id (not uploaded again).
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

/** Each image's file name in the message, unique (a second `masks.png` becomes `1-masks.png`). */
export function attachmentNames(images: readonly ChatImage[]): string[] {
  const seen = new Set<string>();
  return images.map((image, i) => {
    const name = seen.has(image.name) ? `${i}-${image.name}` : image.name;
    seen.add(name);
    return name;
  });
}

function attachments(images: readonly ChatImage[], names: readonly string[]): AttachmentBuilder[] {
  return images.map((image, i) => new AttachmentBuilder(image.data, { name: names[i], ...(image.alt ? { description: image.alt.slice(0, LIMITS.altText) } : {}) }));
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

export interface PayloadOptions {
  /** A line saying how the images were made to fit, kept whole at the end of the text. */
  note?: string;
  /** Images the message already carries, by file name: the attachment id to keep instead of uploading them again. */
  keep?: ReadonlyMap<string, string>;
  /** Whether `message.replyTo` may be answered as a reply: only a message of the same channel can be. */
  reply?: boolean;
}

export function discordPayload(message: ChatMessage, options: PayloadOptions = {}): DiscordPayload {
  const images = message.images.slice(0, LIMITS.attachments);
  const names = attachmentNames(images);
  const kept = names.map((name) => options.keep?.get(name));
  const uploads = images.map((image, i) => ({ image, name: names[i] })).filter((_, i) => kept[i] === undefined);
  const files = attachments(
    uploads.map((u) => u.image),
    uploads.map((u) => u.name),
  );
  const embeds = names.filter((_, i) => images[i].placement === 'inline').slice(0, LIMITS.embeds).map((name) => new EmbedBuilder().setImage(`attachment://${name}`));
  const mentions = message.mentions ?? [];
  const reply = message.replyTo && options.reply !== false;
  return {
    body: {
      content: withTail(message.text, options.note, message.footer),
      embeds: embeds.map((embed) => embed.toJSON()),
      components: [...buttonRows(message.buttons), ...menuRows(message.menus ?? [])],
      // Discord's description types an attachment id as a snowflake string: a new upload's is its index ("0"), a kept one's its id.
      attachments: [
        ...kept.filter((id): id is string => id !== undefined).map((id) => ({ id })),
        ...files.map((file, id) => ({ id: String(id), filename: file.name!, ...(file.description ? { description: file.description } : {}) })),
      ],
      // Nobody is pinged but the users the message names as its mentions (a requester told that their edit ended): no parsing, so no @everyone, role or stray mention.
      allowed_mentions: { ...(mentions.length > 0 ? { users: [...mentions] } : { parse: [] }), ...(reply ? { replied_user: false } : {}) },
      ...(reply ? { message_reference: { message_id: message.replyTo!.message, fail_if_not_exists: false } } : {}),
    },
    files: files.map((file, i) => ({ name: file.name!, data: uploads[i].image.data, contentType: uploads[i].image.contentType })),
  };
}

/** An ephemeral answer to an interaction: only the person sees it, and it pings nobody. */
export const privateReply = (text: string): InteractionReplyOptions & { flags: MessageFlags.Ephemeral } => ({
  content: truncateContent(text),
  flags: MessageFlags.Ephemeral,
  allowedMentions: { parse: [] },
});

/**
 * An answer to a person's message (outside an interaction Discord has no private replies): a reply
 * to it, pinging nobody, the person included; the bot pings only a requester whose edit ended.
 */
export const replyBody = (text: string, messageId: string): RESTPostAPIChannelMessageJSONBody => ({
  content: truncateContent(text),
  message_reference: { message_id: messageId, fail_if_not_exists: false },
  allowed_mentions: { parse: [], replied_user: false },
});
