/** The queue and in-process GPU workers against the real Redis on 127.0.0.1:6379, a prefix per test. */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeImage } from '../src/image/decode.js';
import { isGasError, type GasError } from '../src/errors.js';
import { ThreadHistory } from '../src/jobs/thread-history.js';
import { RunSupersededError } from '../src/jobs/job-events.js';
import { startsIn } from '../src/jobs/edit-queue.js';
import type { JobEvent } from '../src/jobs/contracts.js';
import { PALETTE, fractionOfWay, maxDifference, meanColour, sceneImage } from './helpers/colour-world.js';
import { REQUEST, collectEvents, eventually, queueHarness, type QueueHarness } from './helpers/queue.js';

const requester = (user: string, thread?: string) => ({ platform: 'discord' as const, user, channel: 'c1', ...(thread ? { thread } : {}) });

describe('the edit queue with GPU workers', () => {
  let harness: QueueHarness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('runs a job: events in order with increasing sequence numbers, then done with the edited image', async () => {
    harness = await queueHarness();
    await harness.startWorker();
    const { jobId, position } = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: REQUEST, options: { steps: 200, seed: 3 } });
    expect(position).toBe(0);
    const events = await collectEvents(harness.queue, jobId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const types = events.map((e) => e.type).filter((t, i, all) => t !== all[i - 1]);
    expect(types).toEqual(['queued', 'planned', 'grounded', 'progress', 'done']);
    expect(events.some((e) => e.type === 'progress' && e.preview)).toBe(true);

    const done = events.at(-1) as Extract<JobEvent, { type: 'done' }>;
    const edit = await decodeImage(await harness.blobs.get(done.result));
    const scene = await sceneImage();
    expect(fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(edit, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    expect(maxDifference(scene, edit, 'sky')).toBeLessThanOrEqual(2);
    expect(done.seed).toBe(3);
    // Its slot is free again, once BullMQ has recorded the job as completed (just after `done`).
    await eventually(async () => (await harness!.redis.scard(harness!.keys.userActive('u1'))) === 0, 10_000, "the job's slot to be freed");
  });

  it('cancels a running job within one iteration, frees the worker, and refuses cancels by others', async () => {
    harness = await queueHarness();
    await harness.startWorker();
    const { jobId } = await harness.queue.submit({ requester: requester('owner'), source: harness.scene, request: REQUEST, options: { steps: 5000 } });
    const running = await collectEvents(harness.queue, jobId, (e) => e.type === 'progress');
    expect(running.at(-1)?.type).toBe('progress');

    const refusal = await harness.queue.cancel(jobId, 'someone-else').catch((e: unknown) => e);
    expect(isGasError(refusal, 'not_allowed')).toBe(true);
    expect((refusal as Error).message).toBe(`Only the person who asked for edit ${jobId} can cancel it.`);

    const asked = Date.now();
    expect(await harness.queue.cancel(jobId, 'owner')).toBe('cancelling');
    const rest = await collectEvents(harness.queue, jobId);
    const last = rest.at(-1)!;
    expect(last).toMatchObject({ type: 'cancelled', by: 'owner' });
    expect(last.at - asked).toBeLessThan(1000);
    const progressAfter = rest.filter((e) => e.type === 'progress' && e.at > last.at);
    expect(progressAfter).toEqual([]);

    // The worker is free: the next job runs at once.
    const next = await harness.queue.submit({ requester: requester('owner'), source: harness.scene, request: REQUEST, options: { steps: 10 } });
    expect((await collectEvents(harness.queue, next.jobId, undefined, 10_000)).at(-1)?.type).toBe('done');
  });

  it('stops a job that runs past its time limit and fails it with a timeout', async () => {
    harness = await queueHarness();
    await harness.startWorker({ jobTimeoutMs: 400 });
    const { jobId } = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: REQUEST, options: { steps: 10000 } });
    const last = (await collectEvents(harness.queue, jobId)).at(-1);
    expect(last).toMatchObject({ type: 'failed', code: 'timeout' });
    expect(last).toMatchObject({ details: { limitMs: 400 } });
  });

  it('cancels a waiting job at once', async () => {
    harness = await queueHarness();
    const { jobId } = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: REQUEST });
    expect(await harness.queue.cancel(jobId, 'u1')).toBe('cancelled');
    const events = await harness.queue.events.history(jobId);
    expect(events.map((e) => e.type)).toEqual(['queued', 'cancelled']);
    expect(await harness.queue.getJob(jobId)).toBeUndefined();
  });

  it('keeps every user at 2 jobs in the queue, finishes all 30 of 6 users, and reports consistent positions', async () => {
    harness = await queueHarness({ perUserLimit: 2, overLimit: 'queue' });
    const users = ['a', 'b', 'c', 'd', 'e', 'f'];
    const submitted = [];
    for (let i = 0; i < 30; i++) {
      submitted.push(await harness.queue.submit({ requester: requester(users[i % 6]), source: harness.scene, request: REQUEST, options: { steps: 5 } }));
    }
    // Nothing runs yet: each job has exactly the jobs submitted before it ahead of it.
    expect(submitted.map((s) => s.position)).toEqual(submitted.map((_, i) => i));
    expect(submitted.filter((s) => s.held)).toHaveLength(18);

    let worst = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const jobs = await harness!.queue.queue.getJobs(['wait', 'prioritized', 'active']);
        for (const user of users) worst = Math.max(worst, jobs.filter((j) => j?.data?.requester?.user === user).length);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await harness.startWorker();
    await harness.startWorker();
    const endings = await Promise.all(submitted.map((s) => collectEvents(harness!.queue, s.jobId, undefined, 60_000).then((e) => e.at(-1)?.type)));
    sampling = false;
    await sampler;
    expect(endings).toEqual(new Array(30).fill('done'));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(2);
  });

  it("caps one person's held-back jobs, so their burst never refuses someone else", async () => {
    harness = await queueHarness({ perUserLimit: 2, overLimit: 'queue', maxHeldPerUser: 5, maxQueueLength: 20 });
    const burst = await Promise.all(
      Array.from({ length: 30 }, () => harness!.queue.submit({ requester: requester('eager'), source: harness!.scene, request: REQUEST }).catch((e: unknown) => e)),
    );
    const accepted = burst.filter((r) => !(r instanceof Error));
    const refused = burst.filter((r): r is GasError => isGasError(r, 'too_many_jobs'));
    expect(accepted).toHaveLength(7);
    expect(refused).toHaveLength(23);
    expect(refused[0].message).toBe('You already have 7 edits in progress or waiting; wait for one to finish, or cancel one.');
    // Someone with nothing queued still gets in.
    expect(await harness.queue.submit({ requester: requester('patient'), source: harness.scene, request: REQUEST })).toMatchObject({ held: false });
  });

  it('refuses a job over the per-user limit when configured to, and every job when the queue is full', async () => {
    harness = await queueHarness({ perUserLimit: 1, overLimit: 'refuse', maxQueueLength: 2 });
    await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: REQUEST });
    const tooMany = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: REQUEST }).catch((e: unknown) => e);
    expect(isGasError(tooMany, 'too_many_jobs')).toBe(true);
    expect((tooMany as Error).message).toBe('You already have 1 edits in progress; wait for one to finish, or cancel one.');
    await harness.queue.submit({ requester: requester('u2'), source: harness.scene, request: REQUEST });
    const busy = await harness.queue.submit({ requester: requester('u3'), source: harness.scene, request: REQUEST }).catch((e: unknown) => e);
    expect(isGasError(busy, 'busy')).toBe(true);
  });

  it('admits exactly GAS_MAX_QUEUE jobs out of 12 submitted at once from 12 users, and 2 held jobs count toward the cap', async () => {
    harness = await queueHarness({ maxQueueLength: 5 });
    const h = harness;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => h.queue.submit({ requester: requester(`racer-${i}`), source: h.scene, request: REQUEST }).catch((e: unknown) => e)),
    );
    const admitted = results.filter((r) => !(r instanceof Error));
    const busy = results.filter((r) => isGasError(r, 'busy'));
    expect(admitted).toHaveLength(5);
    expect(busy).toHaveLength(7);
    expect((await h.queue.depth()).waiting).toBe(5);
    expect(await h.redis.zcard(h.keys.admitting)).toBe(0);

    const capped = await queueHarness({ maxQueueLength: 3, perUserLimit: 1 });
    try {
      const second = await Promise.all(
        Array.from({ length: 6 }, () => capped.queue.submit({ requester: requester('one-person'), source: capped.scene, request: REQUEST }).catch((e: unknown) => e)),
      );
      // One admitted, two held back by the per-user limit: three waiting, the cap; the rest are busy.
      expect(second.filter((r) => !(r instanceof Error)).map((r) => (r as { held: boolean }).held).sort()).toEqual([false, true, true]);
      expect(second.filter((r) => isGasError(r, 'busy'))).toHaveLength(3);
    } finally {
      await capped.close();
    }
  });

  it('runs higher-priority jobs first', async () => {
    harness = await queueHarness();
    const low = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: REQUEST, options: { steps: 5 }, priority: 10 });
    const high = await harness.queue.submit({ requester: requester('u2'), source: harness.scene, request: REQUEST, options: { steps: 5 }, priority: 0 });
    await harness.startWorker();
    const [lowEvents, highEvents] = await Promise.all([collectEvents(harness.queue, low.jobId), collectEvents(harness.queue, high.jobId)]);
    expect(highEvents.at(-1)!.at).toBeLessThan(lowEvents.find((e) => e.type === 'planned')!.at);
  });

  it('edits a thread from its latest result, and undo goes back one step', async () => {
    harness = await queueHarness();
    await harness.startWorker();
    const history = new ThreadHistory(harness.redis, harness.keys);
    const thread = { platform: 'discord' as const, channel: 'c1', thread: 't1' };
    await history.setOrigin(thread, harness.scene, { user: 'u1' });
    const results: string[] = [];
    for (const request of ['turn the dog into a tiger', 'turn the grass into snow', 'make the sky grey']) {
      const source = (await history.sourceFor(thread))!;
      expect(source).toBe(results.at(-1) ?? harness.scene);
      const { jobId } = await harness.queue.submit({ requester: requester('u1', 't1'), source, request, options: { steps: 20 } });
      const done = (await collectEvents(harness.queue, jobId)).at(-1) as Extract<JobEvent, { type: 'done' }>;
      expect(done.type).toBe('done');
      results.push(done.result);
    }
    expect((await history.chain(thread)).map((e) => e.result)).toEqual(results);
    await history.undo(thread, { user: 'u1' });
    expect(await history.sourceFor(thread)).toBe(results[1]);
  });

  it('shows the overlay before saying which object it could not find, with the phrases in the details', async () => {
    harness = await queueHarness();
    await harness.startWorker();
    const { jobId } = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: 'turn the cat into a fox', options: { steps: 10 } });
    const events = await collectEvents(harness.queue, jobId);
    expect(events.map((e) => e.type)).toEqual(['queued', 'planned', 'grounded', 'failed']);
    expect(events[2]).toMatchObject({ missing: ['cat'] });
    expect(await harness.blobs.has((events[2] as Extract<JobEvent, { type: 'grounded' }>).overlay)).toBe(true);
    expect(events[3]).toEqual({ jobId, seq: 4, at: events[3].at, type: 'failed', code: 'not_found', details: { missing: ['cat'], detector: true } });
  });

  it("fails a request the planner cannot read with bad_plan and the planner's words for the person as the reason", async () => {
    harness = await queueHarness();
    await harness.startWorker();
    const { jobId } = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: 'hello there', options: { steps: 10 } });
    const last = (await collectEvents(harness.queue, jobId)).at(-1);
    expect(last).toMatchObject({ type: 'failed', code: 'bad_plan' });
    const reason = (last as Extract<JobEvent, { type: 'failed' }>).details.reason;
    expect(reason).toMatch(/^I could not find an edit in "hello there"\. /);
    expect(Object.keys((last as Extract<JobEvent, { type: 'failed' }>).details)).toEqual(['reason']);
  });

  it('counts only the jobs that will start first in a position: not held jobs of others, not lower priorities', async () => {
    harness = await queueHarness({ perUserLimit: 1 });
    await harness.queue.submit({ requester: requester('a'), source: harness.scene, request: REQUEST });
    const heldOfA = await harness.queue.submit({ requester: requester('a'), source: harness.scene, request: REQUEST });
    expect(heldOfA).toMatchObject({ held: true, position: 1 });
    const low = await harness.queue.submit({ requester: requester('b'), source: harness.scene, request: REQUEST, priority: 5 });
    expect(low.position).toBe(1); // a's first job only
    const urgent = await harness.queue.submit({ requester: requester('c'), source: harness.scene, request: REQUEST, priority: 0 });
    expect(urgent.position).toBe(1); // a's first job (priority 0), not b's lower-priority one
  });

  it('refuses an id that was already submitted', async () => {
    harness = await queueHarness();
    await harness.queue.submit({ id: 'job-1', requester: requester('u1'), source: harness.scene, request: REQUEST });
    await expect(harness.queue.submit({ id: 'job-1', requester: requester('u1'), source: harness.scene, request: REQUEST })).rejects.toThrow('Edit job-1 was already submitted.');
  });

  it('stops following a job with the error when reading its events fails for a reason waiting cannot mend', async () => {
    harness = await queueHarness();
    // A key of the wrong type: every read fails the same way, so a follower must not wait on it forever.
    await harness.redis.set(harness.keys.events('broken'), 'not a stream');
    const follow = async () => {
      for await (const _event of harness!.queue.events.follow('broken', { blockMs: 100 })) void _event;
    };
    await expect(follow()).rejects.toThrow(/WRONGTYPE/);
  });

  it('publishes the terminal event of a job once, and nothing after it', async () => {
    harness = await queueHarness();
    const { jobId } = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: REQUEST });
    expect(await harness.queue.finish(jobId, { type: 'failed', code: 'internal', details: {} })).toBe(true);
    expect(await harness.queue.finish(jobId, { type: 'cancelled' })).toBe(false);
    expect(await harness.queue.events.publish(jobId, { type: 'progress', iteration: 1, total: 2, etaMs: 0 })).toBeUndefined();
    await eventually(async () => (await harness!.queue.events.history(jobId)).length === 2);
    expect((await harness.queue.events.history(jobId)).map((e) => e.type)).toEqual(['queued', 'failed']);
  });

  it("takes a run's events only while it is the job's current run, so a run that lost its lock cannot end the job", async () => {
    harness = await queueHarness();
    const { jobId } = await harness.queue.submit({ requester: requester('u1'), source: harness.scene, request: REQUEST });
    const key = harness.keys.runner(jobId);
    await harness.redis.set(key, 'run-2');
    const stale = { key, token: 'run-1' };
    await expect(harness.queue.events.publish(jobId, { type: 'progress', iteration: 1, total: 2, etaMs: 0 }, stale)).rejects.toBeInstanceOf(RunSupersededError);
    await expect(harness.queue.finish(jobId, { type: 'cancelled' }, undefined, stale)).rejects.toBeInstanceOf(RunSupersededError);
    expect(await harness.queue.finish(jobId, { type: 'cancelled' }, undefined, { key, token: 'run-2' })).toBe(true);
    expect((await harness.queue.events.history(jobId)).map((e) => e.type)).toEqual(['queued', 'cancelled']);
  });

  it('lets a platform admin (isAdmin) and a GAS_ADMINS user cancel anyone\'s job, and no one else', async () => {
    harness = await queueHarness({ admins: ['ops'] });
    const first = await harness.queue.submit({ requester: requester('owner'), source: harness.scene, request: REQUEST });
    const second = await harness.queue.submit({ requester: requester('owner'), source: harness.scene, request: REQUEST });

    const refusal = await harness.queue.cancel(first.jobId, 'mod', false).catch((e: unknown) => e);
    expect(isGasError(refusal, 'not_allowed')).toBe(true);
    expect(await harness.queue.events.ended(first.jobId)).toBe(false);

    expect(await harness.queue.cancel(first.jobId, 'mod', true)).toBe('cancelled');
    expect(await harness.queue.cancel(second.jobId, 'ops')).toBe('cancelled');
    expect((await harness.queue.events.history(first.jobId)).at(-1)).toMatchObject({ type: 'cancelled', by: 'mod' });
    expect((await harness.queue.events.history(second.jobId)).at(-1)).toMatchObject({ type: 'cancelled', by: 'ops' });
  });

  it('says when a job with two jobs ahead starts (after both) and when it finishes (one edit later)', async () => {
    harness = await queueHarness();
    // Recent edits took 10 s each; no worker is running, so one is assumed.
    await harness.redis.lpush(harness.keys.durations, '10000', '10000', '10000');
    await harness.queue.submit({ requester: requester('a'), source: harness.scene, request: REQUEST });
    await harness.queue.submit({ requester: requester('b'), source: harness.scene, request: REQUEST });
    const third = await harness.queue.submit({ requester: requester('c'), source: harness.scene, request: REQUEST });
    expect(third).toMatchObject({ position: 2, startsInMs: 20_000, etaMs: 30_000 });
    const [queued] = await harness.queue.events.history(third.jobId);
    expect(queued).toMatchObject({ type: 'queued', position: 2, startsInMs: 20_000, etaMs: 30_000 });
  });
});

describe('startsIn', () => {
  it.each([
    ['nothing ahead: at once', 0, 1, 0],
    ['one worker, two ahead: after both', 2, 1, 20_000],
    ['two workers, one ahead: at once on the free worker', 1, 2, 0],
    ['two workers, three ahead: once two have finished, at two per 10 s', 3, 2, 10_000],
  ])('%s', (_name, ahead, workers, expected) => {
    expect(startsIn(ahead, workers, 10_000)).toBe(expected);
  });
});
