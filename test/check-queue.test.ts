/**
 * The check step in the queue (docs/architecture.md, "The check step"): a paused job holds no
 * worker but keeps its person's slot; Go puts its edit stage behind the jobs waiting at that
 * moment (FIFO at Go); a running edit stage is cancelled through its job's id; Go, cancel and the
 * expiry racing each other end the job once. Real Redis, in-process colour-world workers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isGasError } from '../src/errors.js';
import type { JobEvent } from '../src/jobs/contracts.js';
import { collectEvents, eventually, queueHarness, REQUEST, type QueueHarness } from './helpers/queue.js';

const requester = (user: string) => ({ platform: 'discord' as const, user, channel: 'c1' });
const CHECK = { when: 'always' as const, timeoutMs: 60_000 };
const terminal = (events: readonly JobEvent[]) => events.filter((e) => e.type === 'done' || e.type === 'failed' || e.type === 'cancelled');

describe('the check step in the queue', { timeout: 120_000 }, () => {
  let harness: QueueHarness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  /** Submits a job that pauses at its check, and waits until it has. */
  async function paused(user: string): Promise<string> {
    const { jobId } = await harness!.queue.submit({ requester: requester(user), source: harness!.scene, request: REQUEST, options: { steps: 10 }, check: CHECK });
    await collectEvents(harness!.queue, jobId, (e) => e.type === 'checking');
    return jobId;
  }

  it('puts Go behind the jobs queued while the person looked and ahead of those queued after, keeping their slot throughout', async () => {
    harness = await queueHarness({ perUserLimit: 1 });
    const worker = await harness.startWorker();
    const a = await paused('alice');
    // While alice looks: no worker runs (so the order is the queue's), and bob and carol queue up.
    await worker.close('drain');
    const b = (await harness.queue.submit({ requester: requester('bob'), source: harness.scene, request: REQUEST, options: { steps: 10 } })).jobId;
    const c = (await harness.queue.submit({ requester: requester('carol'), source: harness.scene, request: REQUEST, options: { steps: 10 } })).jobId;
    // Her paused job is still hers: her next one is held back by her limit of 1.
    const held = await harness.queue.submit({ requester: requester('alice'), source: harness.scene, request: REQUEST, options: { steps: 10 } });
    expect(held.held).toBe(true);
    expect(await harness.queue.standing(a)).toBeUndefined();

    await harness.queue.go(a, 'alice');
    const queued = (await harness.queue.events.history(a)).at(-1);
    expect(queued).toMatchObject({ type: 'queued', position: 2 });
    expect(await harness.queue.standing(a)).toMatchObject({ position: 2 });
    const d = (await harness.queue.submit({ requester: requester('dave'), source: harness.scene, request: REQUEST, options: { steps: 10 } })).jobId;
    expect(await harness.queue.standing(d)).toMatchObject({ position: 3 });
    // A second Go is the same one: nothing more is queued.
    await expect(harness.queue.go(a, 'alice')).rejects.toThrow('This edit has already been started.');

    await harness.startWorker({ concurrency: 1 });
    const ends = await Promise.all([a, b, c, d, held.jobId].map(async (id) => ({ id, at: terminal(await collectEvents(harness!.queue, id, undefined, 60_000))[0]?.at ?? NaN })));
    const order = ends.sort((x, y) => x.at - y.at).map((e) => e.id);
    expect(order.slice(0, 4)).toEqual([b, c, a, d]);
    for (const id of [a, b, c, d]) expect(terminal(await harness.queue.events.history(id)).map((e) => e.type)).toEqual(['done']);
  });

  it("keeps a check's record until its deadline and an hour, even under a shorter GAS_TTL_SECONDS, so the check ends as expired rather than vanishing", async () => {
    harness = await queueHarness({ ttlSeconds: 2 });
    await harness.startWorker();
    const jobId = await paused('alice');
    const ttl = await harness.redis.pttl(harness.keys.check(jobId));
    expect(ttl).toBeGreaterThan(CHECK.timeoutMs + 3_500_000);
    expect(ttl).toBeLessThanOrEqual(CHECK.timeoutMs + 3_600_000);
  });

  it('is cancelled at once while paused, and through its edit stage once going; others may not', async () => {
    harness = await queueHarness();
    const worker = await harness.startWorker();
    const a = await paused('alice');
    await expect(harness.queue.cancel(a, 'mallory')).rejects.toThrow(`Only the person who asked for edit ${a} can cancel it.`);
    await expect(harness.queue.go(a, 'mallory')).rejects.toSatisfy((error: unknown) => isGasError(error, 'not_allowed'));
    expect(await harness.queue.cancel(a, 'alice')).toBe('cancelled');
    expect(terminal(await harness.queue.events.history(a))).toMatchObject([{ type: 'cancelled', by: 'alice' }]);
    await expect(harness.queue.go(a, 'alice')).rejects.toThrow('This edit was cancelled.');

    // Going, waiting in line: removed from the queue.
    const b = await paused('bob');
    await worker.close('drain');
    await harness.queue.go(b, 'bob');
    expect(await harness.queue.cancel(b, 'bob')).toBe('cancelled');
    expect((await harness.queue.depth()).waiting).toBe(0);

    // Going and running: stopped by its worker within an iteration.
    await harness.startWorker();
    const { jobId: c } = await harness.queue.submit({ requester: requester('carol'), source: harness.scene, request: REQUEST, options: { steps: 5000 }, check: CHECK });
    await collectEvents(harness.queue, c, (e) => e.type === 'checking');
    await harness.queue.go(c, 'carol');
    await collectEvents(harness.queue, c, (e) => e.type === 'progress');
    expect(await harness.queue.cancel(c, 'carol')).toBe('cancelling');
    const events = await collectEvents(harness.queue, c);
    expect(terminal(events).map((e) => e.type)).toEqual(['cancelled']);
    for (const user of ['alice', 'bob', 'carol']) await eventually(async () => (await harness!.redis.scard(harness!.keys.userActive(user))) === 0, 10_000, `${user}'s slot`);
  });

  it('ends once when Go, cancel and the expiry race', async () => {
    harness = await queueHarness();
    await harness.startWorker();
    for (let round = 0; round < 5; round++) {
      const { jobId } = await harness.queue.submit({ requester: requester('alice'), source: harness.scene, request: REQUEST, options: { steps: 5 }, check: { when: 'always', timeoutMs: 1000 } });
      const check = await collectEvents(harness.queue, jobId, (e) => e.type === 'checking');
      const deadline = (check.at(-1) as Extract<JobEvent, { type: 'checking' }>).deadline;
      await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now() - 5)));
      await Promise.allSettled([harness.queue.go(jobId, 'alice'), harness.queue.cancel(jobId, 'alice'), harness.queue.expire(jobId, deadline)]);
      const events = await collectEvents(harness.queue, jobId, undefined, 30_000);
      expect(terminal(events), JSON.stringify(events.map((e) => e.type))).toHaveLength(1);
      expect(events.at(-1)).toBe(terminal(events)[0]);
    }
    await eventually(async () => (await harness!.redis.scard(harness!.keys.userActive('alice'))) === 0, 10_000, "alice's slot");
    expect(await harness.queue.checks.waitingCount()).toBe(0);
  });

  it('loses nothing when the first stage runs again after a crash between the pause and BullMQ recording it: no new event, the slot kept', async () => {
    harness = await queueHarness();
    await harness.startWorker();
    const a = await paused('alice');
    const before = await harness.queue.events.history(a);
    // The same job's first stage handed to a worker again, as BullMQ's stalled check would after a crash.
    const data = (await harness.queue.queue.getJob(a))!.data;
    const rerun = await harness.queue.queue.add('edit', data, { jobId: `${a}-rerun`, priority: 1 });
    await eventually(async () => (await rerun.getState()) === 'completed', 20_000, 'the rerun to complete');
    expect(rerun.id && (await harness.queue.queue.getJob(rerun.id))?.returnvalue).toEqual({ outcome: 'paused' });
    expect(await harness.queue.events.history(a)).toEqual(before);
    expect((await harness.queue.checks.get(a))?.status).toBe('waiting');
    expect(await harness.redis.sismember(harness.keys.userActive('alice'), a)).toBe(1);
    // …and Go still edits it, once.
    await harness.queue.go(a, 'alice');
    const events = await collectEvents(harness.queue, a, undefined, 60_000);
    expect(terminal(events).map((e) => e.type)).toEqual(['done']);
  });
});
