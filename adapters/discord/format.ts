/** Discord markup for the flow's renderer: bold, relative timestamps, and escaping of what people wrote. */
import { escapeMarkdown } from 'discord.js';
import type { TextFormat } from '../../src/chat/transport.js';
import type { BoldMarkup } from '../../src/chat/truncate.js';

const ZERO_WIDTH_SPACE = '\u200b';

/** Breaks the syntax of mentions (`@everyone`, `@here`, `<@id>`, `<@&id>`, `<#id>`), slash links, emoji and timestamps. */
export function neutraliseMentions(text: string): string {
  return text
    .replace(/@(everyone|here)/g, `@${ZERO_WIDTH_SPACE}$1`)
    .replace(/<(?=[@#/:]|a:|t:)/g, `<${ZERO_WIDTH_SPACE}`);
}

/** Discord's bold may run across lines. */
export const DISCORD_BOLD: BoldMarkup = { marker: '**', spansLines: true };

export const discordFormat: TextFormat = {
  bold: (text) => `${DISCORD_BOLD.marker}${text}${DISCORD_BOLD.marker}`,
  relativeTime: (epochMs) => `<t:${Math.round(epochMs / 1000)}:R>`,
  escape: (text) => neutraliseMentions(escapeMarkdown(text, { maskedLink: true, heading: true, bulletedList: true, numberedList: true })),
};
