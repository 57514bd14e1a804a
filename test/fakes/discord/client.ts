/** A real discord.js Client logged in to a fake Discord, for tests. */
import { Client, Events, GatewayIntentBits } from 'discord.js';
import type { FakeDiscord } from './server.js';

export const DEFAULT_INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages];

/** Logs in and resolves once discord.js has the guild (its `clientReady`). */
export async function loginClient(fake: FakeDiscord, intents: GatewayIntentBits[] = DEFAULT_INTENTS): Promise<Client> {
  const client = new Client({ intents, rest: { api: fake.apiUrl } });
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(fake.token);
  await Promise.race([
    ready,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`discord.js did not become ready within 15 s.\n${fake.describe()}`)), 15_000)),
  ]);
  return client;
}
