/** The fake Slack that tests run the real Bolt and Web API client against; see server.ts. */
export { startFakeSlack } from './server.js';
export type { Delivery, Ephemeral, FakeSlack, FakeSlackOptions, FileInput, Notification, OpenedView, PostedByPerson, RateLimit, RecordedRequest, Violation, WireFile, WireMessage } from './server.js';
export { checkBlocks, BLOCK_LIMITS } from './rules.js';
