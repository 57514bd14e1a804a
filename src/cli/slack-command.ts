/** `gas slack` (the bot) and `gas slack manifest` (its app manifest), configured from SLACK_* variables. */
import { slackManifest } from '../../adapters/slack/manifest.js';
import { GasError } from '../errors.js';
import { createLogger } from '../log.js';
import type { BotFlags } from './bot-options.js';
import { nonEmpty, type NameOf } from './flag-values.js';

export interface ManifestFlags {
  requestUrl?: string;
  name?: string;
}

/** Where Bolt's HTTP receiver takes events and button presses. */
const EVENTS_PATH = '/slack/events';

/** Runs the Slack bot until SIGTERM or SIGINT. */
export async function runSlackCommand(flags: BotFlags, name: NameOf): Promise<void> {
  // Loaded here, not above: `gas slack manifest` prints text and needs neither Bolt nor Redis.
  const [{ runBotProcess }, { botOptions }] = await Promise.all([import('../chat/bot-process.js'), import('./bot-options.js')]);
  await runBotProcess(await botOptions({ ...flags, slack: true }, name, createLogger('gas-bot')));
}

/** The app manifest (YAML): Socket Mode, or HTTP mode when a request URL is given. */
export function runManifestCommand(flags: ManifestFlags, name: NameOf): string {
  const appName = nonEmpty(flags.name, name('name'), 'Ground-A-Score');
  const requestUrl = flags.requestUrl === undefined ? undefined : checkedRequestUrl(flags.requestUrl, name('requestUrl'));
  return slackManifest({ ...(appName ? { name: appName } : {}), ...(requestUrl ? { requestUrl } : {}) });
}

/** Slack sends events only to HTTPS, and the bot listens on /slack/events: a bare host would never receive one. */
function checkedRequestUrl(value: string, flag: string): string {
  const example = `https://bot.example.com${EVENTS_PATH}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new GasError('bad_input', `${flag} must be a URL, e.g. ${example} (got "${value}").`);
  }
  if (url.protocol !== 'https:') throw new GasError('bad_input', `${flag} must be an https URL (Slack sends events only over HTTPS), e.g. ${example} (got "${value}").`);
  if (!url.pathname.endsWith(EVENTS_PATH)) throw new GasError('bad_input', `${flag} must end in the path the bot listens on: ${url.origin}${EVENTS_PATH}.`);
  return url.href;
}
