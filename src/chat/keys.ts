/** The chat flow's Redis keys, under the deployment's prefix (src/jobs/keys.ts holds the queue's). */
import type { Keys } from '../jobs/keys.js';

export interface ChatKeys {
  /** A hash per job the bot shows: its status message, requester, request and last rendered seq. */
  job(jobId: string): string;
  /** The jobs a platform's bot shows that have not reached their terminal event yet. */
  unfinished(platform: string): string;
  /** Marks a conversation thread as one of the bot's edit threads; holds the channel it was recorded under. */
  editThread(platform: string, thread: string): string;
  /** Held for a moment by the first press of a button that rewinds a thread, so a double click acts once. */
  press(action: string, jobId: string): string;
}

export function chatKeys(keys: Keys): ChatKeys {
  const prefix = `${keys.prefix}:chat`;
  return {
    job: (jobId) => `${prefix}:job:${jobId}`,
    unfinished: (platform) => `${prefix}:unfinished:${platform}`,
    editThread: (platform, thread) => `${prefix}:edit-thread:${platform}:${thread}`,
    press: (action, jobId) => `${prefix}:press:${action}:${jobId}`,
  };
}
