/** Slack mrkdwn for the flow's renderer: bold, dates in the reader's zone, and escaping of what people wrote. */
import type { TextFormat } from '../../src/chat/transport.js';
import type { BoldMarkup } from '../../src/chat/truncate.js';

const ZERO_WIDTH_SPACE = '\u200b';

/**
 * `&`, `<`, `>` as entities (Slack's own escaping: no mention, channel link, `<!here>` or URL can
 * be written), and formatting characters broken with a zero-width space so `*bold*` stays literal.
 */
export function escapeMrkdwn(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[*_~`]/g, (c) => `${c}${ZERO_WIDTH_SPACE}`);
}

/** Slack's bold ends at a line break. */
export const SLACK_BOLD: BoldMarkup = { marker: '*', spansLines: false };

export const slackFormat: TextFormat = {
  bold: (text) => `${SLACK_BOLD.marker}${text}${SLACK_BOLD.marker}`,
  relativeTime: (epochMs) => {
    const seconds = Math.round(epochMs / 1000);
    // Slack documents `{ago}` for past times only; the reader's own clock time says when, future or past.
    // The fallback is what clients that cannot render dates show.
    return `<!date^${seconds}^at {time}|at ${new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, ' UTC').replace('T', ' ')}>`;
  },
  escape: escapeMrkdwn,
};
