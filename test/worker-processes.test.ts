/**
 * `gas worker` processes that die or are stopped mid-job, and a Redis restart: what a crash does
 * to a job. Real child processes, the real Redis (and a private one for the restart).
 *
 * Sized for a busy 2-core machine: jobs are a few hundred steps (long enough to be running when
 * a worker is killed, short enough to finish), every wait has its own deadline well inside the
 * test's limit, and each check fails with the worker's output rather than a bare timeout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { demoScenePng } from '../src/cli/demo-scene.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobEvent } from '../src/jobs/contracts.js';
import { REQUEST, collectEvents, eventually, queueHarness, spawnWorker, uniquePrefix, type QueueHarness } from './helpers/queue.js';
import { freePort } from './helpers/private-redis.js';

const requester = { platform: 'slack' as const, user: 'u1', channel: 'c1' };
const count = (events: JobEvent[], type: JobEvent['type']) => events.filter((e) => e.type === type).length;

/** A test's limit: its waits below add up to less, so a slow machine fails an assertion, with output. */
const TEST_LIMIT_MS = 120_000;
/** Steps of the job a worker is killed in: ~1 s on an idle machine, under 10 s on a loaded one. */
const STEPS = 300;

/** A child worker on a fresh prefix, running a job: resolves once the job's first progress is out. */
async function jobOnChildWorker(children: ReturnType<typeof spawnWorker>[], onHarness: (harness: QueueHarness) => void) {
  const prefix = uniquePrefix();
  const harness = await queueHarness({}, undefined, prefix);
  onHarness(harness);
  const first = spawnWorker(prefix);
  children.push(first);
  const { jobId } = await harness.queue.submit({ requester, source: harness.scene, request: REQUEST, options: { steps: STEPS } });
  const events = await collectEvents(harness.queue, jobId, (e) => e.type === 'progress', 30_000);
  expect(events.at(-1)?.type, first.output()).toBe('progress');
  return { prefix, harness, first, jobId };
}

/** Kills a worker outright and starts another on the same prefix. */
async function killAndReplace(worker: ReturnType<typeof spawnWorker>, prefix: string, children: ReturnType<typeof spawnWorker>[]) {
  worker.child.kill('SIGKILL');
  await worker.exited;
  const next = spawnWorker(prefix);
  children.push(next);
  return next;
}

describe('worker processes', () => {
  let harness: QueueHarness | undefined;
  const children: ReturnType<typeof spawnWorker>[] = [];
  afterEach(async () => {
    for (const { child, exited } of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
    await harness?.close();
    harness = undefined;
  });

  it('gives the job of a worker killed with SIGKILL to another worker, which restarts it and finishes it exactly once', async () => {
    const { prefix, first, jobId, harness: h } = await jobOnChildWorker(children, (made) => (harness = made));
    const second = await killAndReplace(first, prefix, children);
    const events = await collectEvents(h.queue, jobId, undefined, 60_000);
    expect(events.at(-1)?.type, second.output()).toBe('done');
    const all = await h.queue.events.history(jobId);
    expect(count(all, 'done')).toBe(1);
    expect(count(all, 'failed')).toBe(0);
    expect(all.find((e) => e.type === 'restarted')).toMatchObject({ attempt: 2, reason: 'restarted after a worker stopped unexpectedly' });
  }, TEST_LIMIT_MS);

  it('fails a job with a message when its worker dies a second time, instead of running it a third time', async () => {
    const { prefix, first, jobId, harness: h } = await jobOnChildWorker(children, (made) => (harness = made));
    const second = await killAndReplace(first, prefix, children);
    let restarted = false;
    const rerun = await collectEvents(h.queue, jobId, (e) => (restarted ||= e.type === 'restarted') && e.type === 'progress', 30_000);
    expect(rerun.at(-1)?.type, second.output()).toBe('progress');
    const third = await killAndReplace(second, prefix, children);
    const events = await collectEvents(h.queue, jobId, undefined, 40_000);
    expect(events.at(-1), third.output()).toMatchObject({
      type: 'failed',
      code: 'internal',
      details: { attempts: 2 },
    });
    const all = await h.queue.events.history(jobId);
    expect(count(all, 'restarted')).toBe(1);
    expect(count(all, 'done')).toBe(0);
  }, TEST_LIMIT_MS);

  it('hands a job back on SIGTERM after the current iteration; the next worker finishes it', async () => {
    const { prefix, first, jobId, harness: h } = await jobOnChildWorker(children, (made) => (harness = made));
    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    expect(first.output()).toContain('job handed back on shutdown');
    expect(['wait', 'prioritized']).toContain(await h.queue.getJob(jobId).then((j) => j?.getState()));

    const second = spawnWorker(prefix);
    children.push(second);
    const events = await collectEvents(h.queue, jobId, undefined, 60_000);
    expect(events.at(-1)?.type, second.output()).toBe('done');
    const all = await h.queue.events.history(jobId);
    expect(count(all, 'done')).toBe(1);
    expect(all.find((e) => e.type === 'restarted')).toMatchObject({ attempt: 2, reason: 'handed back by a worker that was shutting down' });
  }, TEST_LIMIT_MS);

  it('enqueues with `gas submit --wait`, prints the events as JSON lines, and refuses `gas cancel` by someone else', async () => {
    const prefix = uniquePrefix();
    harness = await queueHarness({}, undefined, prefix);
    await harness.startWorker();
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENAI_|GAS_)/.test(k))), GAS_PREFIX: prefix };
    const scene = join(mkdtempSync(join(tmpdir(), 'gas-submit-')), 'scene.png');
    writeFileSync(scene, await demoScenePng());
    const submit = spawn(process.execPath, [resolve('dist/src/cli.js'), 'submit', scene, REQUEST, '--wait', '--steps', '10', '--user', 'alice'], { env });
    let stdout = '';
    let stderr = '';
    submit.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    submit.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => submit.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((done) => submit.on('exit', done));
    clearTimeout(killer);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as JobEvent);
    expect(lines[0]).toMatchObject({ type: 'queued', seq: 1 });
    expect(lines.at(-1)?.type).toBe('done');

    // A few steps: the worker finishes it quickly, so closing the harness never waits on a long edit.
    const other = await harness.queue.submit({ requester: { ...requester, user: 'alice' }, source: harness.scene, request: REQUEST, options: { steps: 5 } });
    const cancel = spawnSync(process.execPath, [resolve('dist/src/cli.js'), 'cancel', other.jobId, '--user', 'mallory'], { env, encoding: 'utf8' });
    expect(cancel.status).toBe(2);
    expect(cancel.stderr).toContain(`Only the person who asked for edit ${other.jobId} can cancel it.`);
  }, TEST_LIMIT_MS);

  it('runs a job that was queued while Redis restarted, once the worker reconnects', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'gas-redis-'));
    // Persistent, so a restart keeps the queue, as a production Redis would.
    const startRedis = () => {
      const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
      return server;
    };
    const ping = () => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG';
    let server = startRedis();
    try {
      await eventually(ping, 10_000, 'the private Redis');
      const url = `redis://127.0.0.1:${port}`;
      const prefix = uniquePrefix();
      harness = await queueHarness({}, url, prefix);
      const { jobId } = await harness.queue.submit({ requester, source: harness.scene, request: REQUEST, options: { steps: 20 } });

      spawnSync('redis-cli', ['-p', String(port), 'shutdown']);
      await new Promise((r) => server.on('exit', r));
      const worker = spawnWorker(prefix, { REDIS_URL: url });
      children.push(worker);
      await new Promise((r) => setTimeout(r, 1000)); // the worker starts against a Redis that is down
      server = startRedis();
      await eventually(ping, 10_000, 'the restarted Redis');

      const events = await collectEvents(harness.queue, jobId, undefined, 60_000);
      expect(events.at(-1)?.type, worker.output()).toBe('done');
    } finally {
      for (const { child, exited } of children.splice(0)) {
        child.kill('SIGKILL');
        await exited;
      }
      await harness?.close();
      harness = undefined;
      spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
    }
  }, TEST_LIMIT_MS);
});
