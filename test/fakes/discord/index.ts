/** The fake Discord that tests run the real discord.js against; see server.ts. */
export { startFakeDiscord } from './server.js';
export type { FakeDiscord, FakeDiscordOptions, FileInput, InteractionRef, RecordedRequest, RouteMatcher, Violation } from './server.js';
export type { WireAttachment, WireMessage, WireUser } from './world.js';
export { INTENTS } from './gateway.js';
