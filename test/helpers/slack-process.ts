/**
 * The Slack bot as a process (`gas slack`, `gas serve --slack`) against the fake Slack in the test
 * process, and what a person saw of a status message, read back from the fake's recorded requests.
 */
import { spawnGas, type GasChild } from './gas-process.js';
import type { FakeSlack, RecordedRequest, WireMessage } from '../fakes/slack/index.js';

/** The fastest cadence the Slack settings allow: tests see several updates per job. */
export const EDIT_INTERVAL_MS = 1000;

export type BotChild = GasChild;

/** One successful write of a status message (its post, then each chat.update), as the fake received it. */
export interface StatusWrite {
  at: number;
  method: string;
  text: string;
  /** File ids of its image blocks. */
  images: string[];
  /** Its buttons' action ids. */
  actions: string[];
}

/** `node dist/src/cli.js <args>` in Socket Mode against the fake, on `prefix`, its output kept for assertion messages. */
export function spawnSlackBot(fake: FakeSlack, prefix: string, args: string[] = ['slack'], env: Record<string, string> = {}): BotChild {
  return spawnGas(args, {
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_APP_TOKEN: fake.appToken,
    SLACK_API_URL: fake.apiUrl,
    SLACK_EDIT_INTERVAL_MS: String(EDIT_INTERVAL_MS),
    GAS_PREFIX: prefix,
    // No ping when an edit ends (a busy machine makes short edits "long"); room for very long edits.
    GAS_NOTIFY_AFTER_MS: '3600000',
    GAS_MAX_STEPS: '10000',
    LOG_LEVEL: 'info',
    ...env,
  });
}

/**
 * Every successful write of the first status message in the thread `thread`: its post (the first
 * chat.postMessage into the thread), then its chat.updates, oldest first.
 */
export function statusWrites(fake: FakeSlack, channel: string, thread: string): StatusWrite[] {
  const ok = (r: RecordedRequest) => r.error === undefined && r.status === 200 && r.params.channel === channel;
  const status = botMessages(fake, channel, thread)[0];
  const post = fake.requests.find((r) => r.method === 'chat.postMessage' && ok(r) && r.params.thread_ts === thread);
  if (!status || !post) return [];
  const updates = fake.requests.filter((r) => r.method === 'chat.update' && ok(r) && r.params.ts === status.ts);
  return [post, ...updates].map((r) => ({
    at: r.at,
    method: r.method,
    text: String(r.params.text ?? ''),
    images: ((r.params.blocks ?? []) as Array<{ type: string; slack_file?: { id: string } }>).filter((b) => b.type === 'image').map((b) => b.slack_file!.id),
    actions: ((r.params.blocks ?? []) as Array<{ type: string; elements?: Array<{ action_id?: string }> }>).flatMap((b) => (b.type === 'actions' ? (b.elements ?? []).map((e) => e.action_id ?? '') : [])),
  }));
}

/**
 * The bot's messages in a thread other than file shares, the line that opens the thread
 * ("Reply in this thread …") and pings ("<@U…> edit 1 is done…"): its status messages and notes, oldest first.
 */
export function botMessages(fake: FakeSlack, channel: string, thread: string): WireMessage[] {
  return fake.messages(channel).filter((m) => m.user === fake.botUserId && m.thread_ts === thread && m.subtype === undefined && !/^Reply in this thread\b/.test(m.text) && !/^<@U[A-Z0-9]+> /.test(m.text));
}

/** The second line of a status ("Editing · 40/800 · …", "Done in …"): where the job stands. */
export const stateLine = (text: string) => text.split('\n')[1] ?? '';
export const isDone = (text: string) => /^Done in /.test(stateLine(text));
export const iterationOf = (text: string) => Number(/^Editing · (\d+)\//.exec(stateLine(text))?.[1] ?? NaN);
/** A status that can change no more: it has buttons, and none of them cancels. */
export const isFinalWrite = (write: StatusWrite) => write.actions.length > 0 && !write.actions.some((a) => a.startsWith('gas:cancel:'));

