/**
 * The chat flow at scale and through faults: a budget of edits shared by every live status (as
 * Slack limits chat.update per workspace), several bot processes sharing statuses by lease, and a
 * status whose job vanished with Redis's data.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EditBudget } from '../src/chat/edit-budget.js';
import { Leases } from '../src/jobs/lease.js';
import { deleteKeysWithPrefix } from '../src/jobs/redis.js';
import { encodePng } from '../src/image/decode.js';
import { chatHarness, type ChatHarness } from './helpers/chat-flow.js';
import { imageFile, RecordingTransport, type RecordedWrite } from './helpers/chat-transport.js';
import { sceneImage } from './helpers/colour-world.js';
import { REQUEST } from './helpers/queue.js';

const scenePng = async () => encodePng(await sceneImage());
const lines = (text: string) => text.split('\n');

/** The most writes (posts and edits) in any window of `windowMs`. */
function busiestWindow(writes: readonly RecordedWrite[], windowMs: number): number {
  const times = writes.map((w) => w.at).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('the chat flow at scale', { timeout: 240_000 }, () => {
  let chat: ChatHarness | undefined;
  afterEach(async () => {
    await chat?.close();
    chat = undefined;
  });

  it('keeps every live status inside a shared budget of edits, and still brings each to its final state', async () => {
    const budget = { scope: 'T-workspace', limit: 12, windowMs: 4000 };
    chat = await chatHarness({ transport: { editIntervalMs: 100, editBudget: budget } });
    await chat.queue.startWorker();
    const photo = imageFile(await scenePng());
    for (const user of ['a', 'b', 'c', 'd', 'e', 'f']) await chat.transport.edit({ user, text: REQUEST, image: photo, options: { steps: 60 } });
    const statuses = chat.transport.posts().map((p) => p.message);
    for (const message of statuses) await chat.until(message, (m) => m.final, 'the final state', 180_000);
    // Edits only: posts are separate calls on every platform (Slack's chat.postMessage is not chat.update).
    const edits = chat.transport.writes.filter((w) => w.kind === 'edit');
    expect(busiestWindow(edits, budget.windowMs), chat.transport.transcript()).toBeLessThanOrEqual(budget.limit);
    // Without the budget each status would be edited at its own 100 ms cadence: many more.
    expect(edits.length).toBeGreaterThanOrEqual(statuses.length);
  });

  it("counts an edit for the budget's window and a margin after it: an edit reaches the platform later than it is counted (its images go first), and the platform's window counts arrivals", async () => {
    chat = await chatHarness();
    const budget = new EditBudget(chat.queue.redis, chat.queue.keys, () => ({ scope: 'T-margin', limit: 3, windowMs: 1000 }));
    for (let i = 0; i < 3; i++) expect(await budget.take(true)).toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    // Past the window, inside the margin: an edit now could reach the platform while the first three still count there.
    const wait = await budget.take(true);
    expect(wait).toBeGreaterThan(2000);
    expect(wait).toBeLessThanOrEqual(5000);
    await new Promise((r) => setTimeout(r, wait + 100));
    expect(await budget.take(true)).toBe(0);
  });

  it('ends a status as lost, with Retry, when its job vanished from the queue (a Redis that restarted without its data)', async () => {
    chat = await chatHarness();
    await chat.transport.edit({ user: 'u1', text: REQUEST, image: imageFile(await scenePng()) });
    const { ref } = chat.lastPost();
    // No worker: the job waits. Then Redis loses everything under the prefix, as after a restart without persistence.
    await deleteKeysWithPrefix(chat.queue.redis, chat.queue.keys.prefix);
    const final = await chat.until(ref.message, (m) => m.final, 'the status to end as lost', 30_000);
    expect(lines(final.text)[1]).toBe('This edit was lost: the queue restarted without it. Press Retry to run it again.');
    expect(final.buttons.map((b) => b.action)).toEqual(['retry']);
    expect(final.footer).toMatch(/^ref /);
  });

  it('shares statuses between two bot processes: each follows its own, and a process that stops hands its statuses to the other', async () => {
    chat = await chatHarness();
    const other = new RecordingTransport();
    const second = chat.newFlow(other);
    await second.start();
    await chat.transport.edit({ user: 'u1', text: REQUEST, image: imageFile(await scenePng()) });
    const { ref, jobId } = chat.lastPost();
    expect(chat.flow.followedJobs()).toEqual([jobId]);
    expect(second.followedJobs()).toEqual([]);
    await chat.flow.stop();
    // The stopped process gave its lease up: the other adopts the status at its next tick.
    const deadline = Date.now() + 15_000;
    while (!second.followedJobs().includes(jobId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(second.followedJobs()).toEqual([jobId]);
    await chat.queue.startWorker();
    const final = await chat.until(ref.message, (m) => m.final, 'the final state, written by the second process', 120_000, other);
    expect(lines(final.text)[1]).toMatch(/^Done in /);
  });

  it('drops the edit it had pending when its lease goes to another process, so it never overwrites what that process shows', async () => {
    chat = await chatHarness({ transport: { editIntervalMs: 6_000 }, flow: { maxSteps: 10_000 } });
    await chat.queue.startWorker();
    await chat.transport.edit({ user: 'u1', text: REQUEST, image: imageFile(await scenePng()), options: { steps: 3000 } });
    const { ref, jobId } = chat.lastPost();
    // Another process holds the status now (this one stalled past its lease, say); the next tick (2 s) notices.
    await chat.queue.redis.set(chat.queue.keys.statusLease(jobId), 'other-host:1:abcdef01', 'PX', 60_000);
    const deadline = Date.now() + 15_000;
    while (chat.flow.followedJobs().includes(jobId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(chat.flow.followedJobs()).toEqual([]);
    // The worker's events kept coming, and an edit was due one interval after the post: none may go out.
    await new Promise((r) => setTimeout(r, 7_000));
    expect(chat.transport.writesOf(ref.message).map((w) => w.kind), chat.transport.transcript()).toEqual(['post']);
    await chat.queue.queue.cancel(jobId, 'u1');
  });

  it('never lets two processes follow one status: a lease is held by one holder at a time', async () => {
    chat = await chatHarness();
    const first = new Leases(chat.queue.redis, 'process-1', { ttlMs: 1000 });
    const second = new Leases(chat.queue.redis, 'process-2', { ttlMs: 1000 });
    const key = chat.queue.keys.statusLease('j1');
    const taken = await Promise.all([first.acquire(key), second.acquire(key)]);
    expect(taken.filter(Boolean)).toHaveLength(1);
    const [holder, waiter] = taken[0] ? [first, second] : [second, first];
    expect(await holder.renew(key)).toBe(true);
    expect(await waiter.renew(key)).toBe(false);
    // The holder dies: its lease runs out, and the other takes it.
    await new Promise((r) => setTimeout(r, 1200));
    expect(await waiter.acquire(key)).toBe(true);
    expect(await holder.renew(key)).toBe(false);
    await holder.release(key);
    expect(await waiter.holderOf(key)).toBe(waiter.holder);
  });
});

