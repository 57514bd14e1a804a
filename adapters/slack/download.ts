/**
 * Where Slack files may come from (`url_private_download`, with the bot token), and what a person is
 * told when one cannot be downloaded; the checks themselves are the shared ones
 * (src/chat/download.ts). Slack answers a missing token or scope with its HTML sign-in page and
 * status 200, so the bytes are checked to be an image.
 */
import { downloadFile, incomingFile, isImageFile, PHOTO_FORMATS, type DownloadWords, type FileSource } from '../../src/chat/download.js';
import type { IncomingFile } from '../../src/chat/transport.js';
import { GasError } from '../../src/errors.js';
import { DEFAULT_SLACK_API_URL } from './config.js';

export const SLACK_FILE_HOST = 'files.slack.com';

/** A file as Slack describes it in message events (the fields the adapter reads; @slack/types has no exported name for it). */
export interface SlackFileObject {
  id: string;
  name?: string | null;
  title?: string | null;
  mimetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
  /** In Slack Connect channels: `file_access` with `check_file_info`, and no URLs (read it with files.info). */
  mode?: string;
  file_access?: string;
}

/** A file an event shows by its id only (Slack Connect: docs.slack.dev/reference/events/message/file_share, "Slack Connect files"). */
export const needsFileInfo = (file: SlackFileObject): boolean => file.file_access === 'check_file_info' || (!file.url_private && !file.url_private_download);

const WORDS: DownloadWords = {
  noAddress: 'The shared file has no valid address.',
  notHosted: 'That file is not hosted by Slack; share the image in your message.',
  // Redirects land here too: Slack redirects to its sign-in page when the token is refused.
  unreachable: 'The image could not be downloaded from Slack (check that the bot has the files:read scope); try again.',
  refused: 'The image could not be downloaded from Slack; try again.',
  verb: 'share',
  webPage: {
    page: 'Slack sent a web page instead of the image: the bot needs the files:read scope (reinstall the app after adding it).',
    notAnImage: 'That file is not an image. Share a JPEG, PNG, WebP, GIF or AVIF/HEIF photo.',
  },
};

/** The hosts files may come from: files.slack.com, plus SLACK_API_URL's host when it is not Slack's. */
export function fileHosts(apiUrl: string): string[] {
  return apiUrl === DEFAULT_SLACK_API_URL ? [SLACK_FILE_HOST] : [SLACK_FILE_HOST, new URL(apiUrl).host];
}

export function slackFileSource(token: string, hosts: readonly string[], fetcher?: typeof fetch): FileSource {
  return { hosts, platformHosts: [SLACK_FILE_HOST], bearer: token, words: WORDS, ...(fetcher ? { fetch: fetcher } : {}) };
}

export const downloadSlackFile = (url: string, token: string, maxBytes: number, hosts: readonly string[]): Promise<Buffer> =>
  downloadFile(url, maxBytes, slackFileSource(token, hosts));

/**
 * A shared file as the flow sees it. One shown by its id only is read with files.info when it is
 * downloaded (`info`), then downloaded as any other; what it is (a name, a type) is known only then.
 */
export function sharedFile(file: SlackFileObject, source: FileSource, info?: (id: string) => Promise<SlackFileObject | undefined>): IncomingFile {
  if (needsFileInfo(file) && info) {
    return {
      name: file.name ?? file.title ?? 'The shared file',
      download: async (maxBytes) => {
        const described = await info(file.id).catch(() => undefined);
        if (!described || needsFileInfo(described)) throw new GasError('bad_image', 'Slack did not say where the shared file is (the bot needs the files:read scope to read files shared from other organisations).');
        const name = described.name ?? described.title ?? file.id;
        if (described.mimetype && !described.mimetype.startsWith('image/')) throw new GasError('bad_image', `${name} is not an image. Send a ${PHOTO_FORMATS} photo.`);
        return sharedFile(described, source).download(maxBytes);
      },
    };
  }
  const url = file.url_private_download ?? file.url_private ?? '';
  return incomingFile({ name: file.name ?? file.title ?? file.id, url, contentType: file.mimetype, size: file.size }, source);
}

/** The first image shared; else the first file shown by its id only (it may be one); else the first file, so that the flow names it as not an image instead of asking for one. */
export function firstImage(files: readonly SlackFileObject[] = []): SlackFileObject | undefined {
  return files.find((file) => isImageFile({ name: file.name ?? '', contentType: file.mimetype })) ?? files.find(needsFileInfo) ?? files[0];
}
