/** The fake Hugging Face hub that `gas models pull` is tested against; see server.ts. */
export { readTree, startFakeHub } from './server.js';
export type { FakeHub, FakeRepoFile, RecordedRequest } from './server.js';
