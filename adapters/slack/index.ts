/**
 * The Slack platform, as the registry (adapters/registry.ts) lists it: its settings, its bot
 * transport (Bolt, loaded only when the bot starts) and `gas slack manifest`.
 */
import { definePlatform } from '../../src/chat/platform.js';
import { GasError } from '../../src/errors.js';
import { slackSection } from './config.js';
import { slackManifest } from './manifest.js';

/** Where Bolt's HTTP receiver takes events and button presses. */
const EVENTS_PATH = '/slack/events';

export const slack = definePlatform({
  name: 'slack',
  title: 'Slack',
  config: slackSection,
  async createTransport(config, logger) {
    const { SlackTransport } = await import('./transport.js');
    return new SlackTransport(config, logger);
  },
  commands: [
    {
      name: 'manifest',
      description: 'print the Slack app manifest (YAML) with the scopes and events the bot uses: Socket Mode, or HTTP mode with --request-url',
      options: [
        { flags: '--request-url <url>', description: 'HTTP mode: the public https URL Slack sends events and button presses to (…/slack/events)' },
        { flags: '--name <name>', description: 'the app and bot user name', default: 'Ground-A-Score' },
      ],
      run({ flags, nameOf }) {
        const name = flags.name ?? 'Ground-A-Score';
        if (name.trim() === '') throw new GasError('bad_input', `${nameOf('name')} is empty: give it a value, e.g. ${nameOf('name')} Ground-A-Score, or leave it out.`);
        const requestUrl = flags.requestUrl === undefined ? undefined : checkedRequestUrl(flags.requestUrl, nameOf('requestUrl'));
        return slackManifest({ name, ...(requestUrl ? { requestUrl } : {}) });
      },
    },
  ],
});

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
