/**
 * `gas worker` processes that die or are stopped mid-job, and a Redis restart: what a crash does
 * to a job. Real child processes, the real Redis (and a private one for the restart).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { demoScenePng } from '../src/cli/demo-scene.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobEvent } from '../src/jobs/contracts.js';
import { REQUEST, collectEvents, eventually, queueHarness, spawnWorker, uniquePrefix, type QueueHarness } from './helpers/queue.js';

const requester = { platform: 'slack' as const, user: 'u1', channel: 'c1' };
const count = (events: JobEvent[], type: JobEvent['type']) => events.filter((e) => e.type === type).length;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A child worker on a fresh prefix, running a long job: resolves once the job's first progress is out. */
async function longJobOnChildWorker(children: ReturnType<typeof spawnWorker>[]) {
  const prefix = uniquePrefix();
  const harness = await queueHarness({}, undefined, prefix);
  const first = spawnWorker(prefix);
  children.push(first);
  const { jobId } = await harness.queue.submit({ requester, source: harness.scene, request: REQUEST, options: { steps: 1500 } });
  await collectEvents(harness.queue, jobId, (e) => e.type === 'progress', 30_000);
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
    const started = await longJobOnChildWorker(children);
    const { prefix, first, jobId } = started;
    harness = started.harness;
    const second = await killAndReplace(first, prefix, children);
    const events = await collectEvents(harness.queue, jobId, undefined, 60_000);
    expect(events.at(-1)?.type, second.output()).toBe('done');
    const all = await harness.queue.events.history(jobId);
    expect(count(all, 'done')).toBe(1);
    expect(count(all, 'failed')).toBe(0);
    expect(all.find((e) => e.type === 'restarted')).toMatchObject({ attempt: 2, reason: 'restarted after a worker stopped unexpectedly' });
  });

  it('fails a job with a message when its worker dies a second time, instead of running it a third time', async () => {
    const started = await longJobOnChildWorker(children);
    const { prefix, first, jobId } = started;
    harness = started.harness;
    const second = await killAndReplace(first, prefix, children);
    let restarted = false;
    await collectEvents(harness.queue, jobId, (e) => (restarted ||= e.type === 'restarted') && e.type === 'progress', 30_000);
    const third = await killAndReplace(second, prefix, children);
    const events = await collectEvents(harness.queue, jobId, undefined, 60_000);
    expect(events.at(-1), third.output()).toMatchObject({
      type: 'failed',
      code: 'internal',
      userMessage: `The edit was interrupted twice by a worker failure and was stopped. Please try again (job ${jobId}).`,
    });
    const all = await harness.queue.events.history(jobId);
    expect(count(all, 'restarted')).toBe(1);
    expect(count(all, 'done')).toBe(0);
  });

  it('hands a job back on SIGTERM after the current iteration; the next worker finishes it', async () => {
    const started = await longJobOnChildWorker(children);
    const { prefix, first, jobId } = started;
    harness = started.harness;
    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    expect(first.output()).toContain('job handed back on shutdown');
    expect(['wait', 'prioritized']).toContain(await harness.queue.getJob(jobId).then((j) => j?.getState()));

    const second = spawnWorker(prefix);
    children.push(second);
    const events = await collectEvents(harness.queue, jobId, undefined, 60_000);
    expect(events.at(-1)?.type).toBe('done');
    const all = await harness.queue.events.history(jobId);
    expect(count(all, 'done')).toBe(1);
    expect(all.find((e) => e.type === 'restarted')).toMatchObject({ attempt: 2, reason: 'handed back by a worker that was shutting down' });
  });

  it('enqueues with `gas submit --wait`, prints the events as JSON lines, and refuses `gas cancel` by someone else', async () => {
    const prefix = uniquePrefix();
    harness = await queueHarness({}, undefined, prefix);
    await harness.startWorker();
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENAI_|GAS_)/.test(k))), GAS_PREFIX: prefix };
    const scene = join(mkdtempSync(join(tmpdir(), 'gas-submit-')), 'scene.png');
    writeFileSync(scene, await demoScenePng());
    const submit = spawn(process.execPath, [resolve('dist/src/cli.js'), 'submit', scene, REQUEST, '--wait', '--steps', '10', '--user', 'alice'], { env });
    let stdout = '';
    submit.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((done) => submit.on('exit', done));
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as JobEvent);
    expect(code).toBe(0);
    expect(lines[0]).toMatchObject({ type: 'queued', seq: 1 });
    expect(lines.at(-1)?.type).toBe('done');

    const other = await harness.queue.submit({ requester: { ...requester, user: 'alice' }, source: harness.scene, request: REQUEST });
    const cancel = spawnSync(process.execPath, [resolve('dist/src/cli.js'), 'cancel', other.jobId, '--user', 'mallory'], { env, encoding: 'utf8' });
    expect(cancel.status).toBe(2);
    expect(cancel.stderr).toContain(`Only the person who asked for edit ${other.jobId} can cancel it.`);
  });

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
  });
});
