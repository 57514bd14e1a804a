/**
 * Every job reaches exactly one terminal event, whatever happens around it: a malformed payload,
 * a lost lock (as after a Redis outage longer than the lock), an ops port that cannot be bound,
 * a SIGTERM while Redis is down, a Redis restart under `gas submit --wait`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { demoScenePng } from '../src/cli/demo-scene.js';
import type { JobEvent } from '../src/jobs/contracts.js';
import { EDIT_JOB_NAME } from '../src/jobs/edit-queue.js';
import { ServiceMetrics } from '../src/ops/metrics.js';
import { GpuWorker } from '../gpu-worker/worker.js';
import { offlinePlanner } from '../src/plan/offline.js';
import { startPrivateRedis, type PrivateRedis } from './helpers/private-redis.js';
import { REQUEST, collectEvents, colourWorldModels, eventually, queueHarness, spawnWorker, uniquePrefix, type QueueHarness } from './helpers/queue.js';

const requester = { platform: 'slack' as const, user: 'u1', channel: 'c1' };
const count = (events: JobEvent[], type: JobEvent['type']) => events.filter((e) => e.type === type).length;
const silent = pino({ level: 'silent' });

/** Lines of `text` that are not JSON (a log that should be JSON lines only). */
const strayLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '').filter((l) => {
  try {
    JSON.parse(l);
    return false;
  } catch {
    return true;
  }
});

/** Resolves with the exit code, or 'still running' after `ms`. */
const exitWithin = (exited: Promise<number | null>, ms: number) =>
  Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]);

describe('in-process faults', () => {
  let harness: QueueHarness | undefined;
  const workers: GpuWorker[] = [];
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.close('handoff').catch(() => {});
    await harness?.close();
    harness = undefined;
  });

  it('fails a job whose payload a buggy producer got wrong with bad_input, once, without retrying it', async () => {
    harness = await queueHarness();
    const metrics = new ServiceMetrics({ queueDepth: () => harness!.queue.depth() });
    const { bundle, detector } = await colourWorldModels();
    workers.push(await GpuWorker.start({ redis: harness.redis, keys: harness.keys, bundle, detector, planner: offlinePlanner, logger: silent, metrics }));
    // Straight into BullMQ, as a producer that skips the contract would; attempts 3 so that a retry would show.
    await harness.queue.queue.add(EDIT_JOB_NAME, { id: 'bad-1', requester: { platform: 'fax' }, source: 'not a blob' }, { jobId: 'bad-1', attempts: 3 });
    const events = await collectEvents(harness.queue, 'bad-1', undefined, 20_000);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'failed', code: 'bad_input', seq: 1, details: { malformed: true } });
    // The event goes out first; BullMQ records the failure just after.
    await eventually(async () => (await harness!.queue.getJob('bad-1').then((j) => j?.getState())) === 'failed', 10_000, 'BullMQ to record the failure').catch(() => {});
    const job = await harness.queue.getJob('bad-1');
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);
    expect(await metrics.metrics()).toContain('gas_failures_total{code="bad_input"} 1');
  });

  it('finishes a job whose lock was lost mid-run (a Redis outage longer than the lock) once: one done, counted once, no events from the stale run', async () => {
    harness = await queueHarness();
    const { bundle, detector } = await colourWorldModels();
    const metrics = [0, 1].map(() => new ServiceMetrics({ queueDepth: async () => ({}) }));
    for (const m of metrics) {
      workers.push(await GpuWorker.start(
        { redis: harness.redis, keys: harness.keys, bundle, detector, planner: offlinePlanner, logger: silent, metrics: m },
        { lockDurationMs: 2000, stalledIntervalMs: 300, progressIntervalMs: 20 },
      ));
    }
    const { jobId } = await harness.queue.submit({ requester, source: harness.scene, request: REQUEST, options: { steps: 400 } });
    const before = await collectEvents(harness.queue, jobId, (e) => e.type === 'progress', 30_000);
    expect(before.at(-1)?.type).toBe('progress');
    // What an outage longer than the lock leaves behind: the running job without its lock.
    await harness.redis.del(`${harness.keys.bull}:${harness.queue.config.queueName}:${jobId}:lock`);

    const rest = await collectEvents(harness.queue, jobId, undefined, 90_000);
    expect(rest.at(-1)?.type).toBe('done');
    const all = await harness.queue.events.history(jobId);
    expect(count(all, 'done')).toBe(1);
    expect(count(all, 'restarted')).toBe(1);
    const afterRestart = all.slice(all.findIndex((e) => e.type === 'restarted'));
    const iterations = afterRestart.flatMap((e) => (e.type === 'progress' ? [e.iteration] : []));
    expect(iterations).toEqual([...iterations].sort((a, b) => a - b));
    // The ending is counted just after its event is out.
    await eventually(() => metrics.every((m) => m.activeJobCount === 0), 10_000, 'both workers to count the job as ended').catch(() => {});
    const doneCounts = await Promise.all(metrics.map(async (m) => Number(/gas_jobs_total\{outcome="done"\} (\d+)/.exec(await m.metrics())?.[1])));
    expect(doneCounts.reduce((a, b) => a + b, 0), (await Promise.all(metrics.map((m) => m.metrics()))).join("\n").split("\n").filter((l) => l.startsWith("gas_")).join("\n")).toBe(1);
    expect(metrics.map((m) => m.activeJobCount)).toEqual([0, 0]);
  });
});

describe('worker processes and Redis faults', () => {
  let harness: QueueHarness | undefined;
  let redis: PrivateRedis | undefined;
  let blocker: Server | undefined;
  const children: ReturnType<typeof spawnWorker>[] = [];
  afterEach(async () => {
    for (const { child, exited } of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
    if (redis) {
      harness?.redis.disconnect(); // its keys go with the private Redis
      await redis.stop();
    } else {
      await harness?.close();
    }
    harness = undefined;
    redis = undefined;
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    blocker = undefined;
  });

  it('stops a worker that cannot bind its ops port before it takes a job: the job stays waiting', async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const prefix = uniquePrefix();
    harness = await queueHarness({}, undefined, prefix);
    const { jobId } = await harness.queue.submit({ requester, source: harness.scene, request: REQUEST, options: { steps: 5 } });
    const worker = spawnWorker(prefix, { GAS_OPS_PORT: String(port) });
    children.push(worker);
    expect(await exitWithin(worker.exited, 30_000), worker.output()).toBe(2);
    expect(worker.output()).toContain(`gas: Cannot serve /healthz and /metrics on 127.0.0.1:${port}: the port is in use. Choose another --ops-port (GAS_OPS_PORT); no job was taken.`);
    expect(['wait', 'prioritized']).toContain(await harness.queue.getJob(jobId).then((j) => j?.getState()));
    expect((await harness.queue.events.history(jobId)).map((e) => e.type)).toEqual(['queued']);
  });

  it('exits within its shutdown limit on SIGTERM while Redis is down, saying why (exit 3)', async () => {
    redis = await startPrivateRedis();
    const prefix = uniquePrefix();
    harness = await queueHarness({}, redis.url, prefix);
    const worker = spawnWorker(prefix, { REDIS_URL: redis.url, GAS_SHUTDOWN_MS: '3000' });
    children.push(worker);
    const { jobId } = await harness.queue.submit({ requester, source: harness.scene, request: REQUEST, options: { steps: 2000 } });
    const running = await collectEvents(harness.queue, jobId, (e) => e.type === 'progress', 30_000);
    expect(running.at(-1)?.type, worker.output()).toBe('progress');
    await redis.stop();
    const asked = Date.now();
    worker.child.kill('SIGTERM');
    // 3 s of shutdown limit, plus the CLI's 3 s grace for handles a library left open.
    expect(await exitWithin(worker.exited, 20_000), worker.output()).toBe(3);
    expect(Date.now() - asked).toBeLessThan(15_000);
    expect(worker.output()).toContain('could not stop cleanly in time');
    expect(worker.output()).toContain('gas: The worker could not hand its running edit back within 3 s');
  });

  it('keeps following with `gas submit --wait` across a Redis restart, to one done, with JSON lines only and no stack traces', async () => {
    redis = await startPrivateRedis();
    const prefix = uniquePrefix();
    harness = await queueHarness({}, redis.url, prefix);
    const worker = spawnWorker(prefix, { REDIS_URL: redis.url });
    children.push(worker);
    const scene = join(mkdtempSync(join(tmpdir(), 'gas-wait-')), 'scene.png');
    writeFileSync(scene, await demoScenePng());
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENAI_|GAS_)/.test(k))), GAS_PREFIX: prefix, REDIS_URL: redis.url };
    const submit = spawn(process.execPath, [resolve('dist/src/cli.js'), 'submit', scene, REQUEST, '--wait', '--steps', '300', '--user', 'alice'], { env });
    let stdout = '';
    let stderr = '';
    submit.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    submit.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => submit.on('exit', r));
    const deadline = Date.now() + 30_000;
    while (!stdout.includes('"type":"progress"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(stdout, stderr + worker.output()).toContain('"type":"progress"');

    await redis.shutdown();
    await new Promise((r) => setTimeout(r, 1000));
    await redis.restart();

    const code = await exitWithin(exited, 90_000);
    if (code === 'still running') submit.kill('SIGKILL');
    const context = `submit stdout:\n${stdout}\nsubmit stderr:\n${stderr}\nworker:\n${worker.output()}`;
    expect(code, context).toBe(0);
    expect(strayLines(stdout), context).toEqual([]);
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as JobEvent);
    expect(events.at(-1)?.type, context).toBe('done');
    expect(count(events, 'done')).toBe(1);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(stderr, context).not.toContain('Unhandled error event');
    expect(stderr, context).not.toMatch(/\n\s+at /);
    expect(strayLines(worker.output()), context).toEqual([]);
  });
});
