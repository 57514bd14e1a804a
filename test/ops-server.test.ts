import { Gauge, register as globalRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceMetrics } from '../src/ops/metrics.js';
import { startOpsServer, type HealthReport, type OpsServer } from '../src/ops/ops-server.js';

/** What the fake health callback does next: answer a report, throw, or never answer. */
type HealthBehaviour = HealthReport | 'throw' | 'hang';

describe('ops server', () => {
  let healthBehaviour: HealthBehaviour = { ok: true, details: {} };
  let depth: Record<string, number> | 'throw' = { waiting: 3, active: 1, delayed: 0 };
  const errors: string[] = [];
  const metrics = new ServiceMetrics({
    queueDepth: async () => {
      if (depth === 'throw') throw new Error('redis is down');
      return depth;
    },
  });
  let server: OpsServer;
  let base: string;

  beforeAll(async () => {
    server = await startOpsServer({
      port: 0,
      metrics,
      health: async () => {
        if (healthBehaviour === 'throw') throw new Error('connect ECONNREFUSED redis://:secret@127.0.0.1');
        if (healthBehaviour === 'hang') return new Promise<never>(() => {});
        return healthBehaviour;
      },
      onError: (_error, context) => errors.push(context),
    });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  async function scrape(): Promise<string> {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    return response.text();
  }

  it('listens on the free port it picked for port 0', () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it('answers 200 with the details when the health callback says ok', async () => {
    healthBehaviour = { ok: true, details: { redis: 'up', worker: 'w1' } };
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ status: 'ok', redis: 'up', worker: 'w1' });
  });

  it('answers 503 when the health callback says not ok, and details cannot override the status', async () => {
    healthBehaviour = { ok: false, details: { redis: 'down', status: 'ok' } };
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'unavailable', redis: 'down' });
  });

  it('answers 503 without the error text when the health callback throws', async () => {
    healthBehaviour = 'throw';
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(503);
    const body = await response.json();
    expect(body).toEqual({ status: 'unavailable', error: 'health check failed' });
    expect(JSON.stringify(body)).not.toContain('secret');
    expect(errors).toContain('ops server: health check');
  });

  it('answers 503 within about 2.5 s when the health callback hangs', async () => {
    healthBehaviour = 'hang';
    const started = performance.now();
    const response = await fetch(`${base}/healthz`);
    const elapsedMs = performance.now() - started;
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'unavailable' });
    expect(elapsedMs).toBeGreaterThanOrEqual(1900);
    expect(elapsedMs).toBeLessThan(2500);
  });

  it('serves the queue depth read from the callback at scrape time', async () => {
    depth = { waiting: 3, active: 1, delayed: 0 };
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(metrics.contentType);
    const text = await response.text();
    expect(text).toContain('# HELP gas_queue_depth ');
    expect(text).toContain('gas_queue_depth{state="waiting"} 3');
    expect(text).toContain('gas_queue_depth{state="active"} 1');
    expect(text).toContain('gas_queue_depth{state="held"} 0');

    depth = { waiting: 7 };
    expect(await scrape()).toContain('gas_queue_depth{state="waiting"} 7');
  });

  it('still serves every other metric when the queue depth callback fails', async () => {
    depth = 'throw';
    const text = await scrape();
    expect(text).not.toMatch(/^gas_queue_depth\{/m);
    expect(text).toContain('gas_active_jobs 0');
    depth = { waiting: 3 };
  });

  it('includes the default Node process metrics', async () => {
    const text = await scrape();
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it('counts running jobs, durations, iterations and outcomes as jobs start and finish', async () => {
    metrics.jobStarted();
    metrics.jobStarted();
    expect(await scrape()).toContain('gas_active_jobs 2');

    metrics.jobFinished('done', { durationMs: 4000, iterations: 200 });
    metrics.jobFinished('failed', { durationMs: 500, iterations: 0, code: 'not_found' });
    const text = await scrape();
    expect(text).toContain('gas_active_jobs 0');
    expect(text).toContain('gas_job_duration_seconds_bucket{le="5",outcome="done"} 1');
    expect(text).toContain('gas_job_duration_seconds_bucket{le="2",outcome="done"} 0');
    expect(text).toContain('gas_job_duration_seconds_sum{outcome="done"} 4');
    expect(text).toContain('gas_job_duration_seconds_count{outcome="failed"} 1');
    expect(text).toContain('gas_iterations_total 200');
    expect(text).toContain('gas_iterations_per_second 50');
    expect(text).toContain('gas_jobs_total{outcome="done"} 1');
    expect(text).toContain('gas_jobs_total{outcome="failed"} 1');
    expect(text).toContain('gas_jobs_total{outcome="cancelled"} 0');
  });

  it('counts failures by error code, and errors without a known code as internal', async () => {
    metrics.jobStarted();
    metrics.jobFinished('failed', { durationMs: 100, iterations: 0, code: 'model_error' });
    metrics.jobStarted();
    metrics.jobFinished('failed', { durationMs: 100, iterations: 0 });
    metrics.jobStarted();
    metrics.jobFinished('failed', { durationMs: 100, iterations: 0, code: 'ECONNRESET' });
    const text = await scrape();
    expect(text).toContain('gas_failures_total{code="model_error"} 1');
    expect(text).toContain('gas_failures_total{code="internal"} 2');
    expect(text).toContain('gas_failures_total{code="bad_input"} 0');
    expect(text.match(/^gas_failures_total\{code="internal"\}/gm)).toHaveLength(1);
  });

  it('rejects impossible job reports with the offending value', () => {
    expect(() => metrics.jobFinished('done', { durationMs: -1, iterations: 0 })).toThrow(/durationMs .* got -1/);
    expect(() => metrics.jobFinished('done', { durationMs: 1, iterations: 1.5 })).toThrow(/iterations .* got 1.5/);
  });

  it('answers 404 for other paths and methods', async () => {
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/extra`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })).status).toBe(404);
  });

  it('answers 500 and keeps serving when collecting metrics fails', async () => {
    const broken = new ServiceMetrics({ queueDepth: async () => ({}) });
    new Gauge({
      name: 'broken_metric',
      help: 'Throws on collect.',
      registers: [broken.registry],
      collect: () => {
        throw new Error('collector bug');
      },
    });
    const brokenServer = await startOpsServer({
      port: 0,
      metrics: broken,
      health: async () => ({ ok: true, details: {} }),
      onError: (_error, context) => errors.push(context),
    });
    try {
      const url = `http://127.0.0.1:${brokenServer.port}`;
      const response = await fetch(`${url}/metrics`);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ status: 'error', error: 'internal error; see the service logs' });
      expect(errors).toContain('ops server: GET /metrics');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await brokenServer.close();
    }
  });

  it('fails to start, rather than crash, when the port is taken', async () => {
    await expect(
      startOpsServer({ port: server.port, metrics, health: async () => ({ ok: true, details: {} }) }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('ServiceMetrics', () => {
  it('keeps two instances in one process apart, and out of the global registry', async () => {
    const first = new ServiceMetrics({ queueDepth: async () => ({ waiting: 1 }) });
    const second = new ServiceMetrics({ queueDepth: async () => ({ waiting: 2 }) });
    first.jobStarted();
    first.jobFinished('done', { durationMs: 1000, iterations: 10 });

    const [a, b] = await Promise.all([first.metrics(), second.metrics()]);
    expect(a).toContain('gas_queue_depth{state="waiting"} 1');
    expect(b).toContain('gas_queue_depth{state="waiting"} 2');
    expect(a).toContain('gas_iterations_total 10');
    expect(b).toContain('gas_iterations_total 0');
    expect(globalRegistry.getSingleMetric('gas_queue_depth')).toBeUndefined();
    expect(globalRegistry.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
  });

  it('stops waiting for a hanging queue depth callback and reports no depth', async () => {
    const collectErrors: unknown[] = [];
    const metrics = new ServiceMetrics({
      queueDepth: () => new Promise<never>(() => {}),
      queueDepthTimeoutMs: 50,
      onCollectError: (error) => collectErrors.push(error),
    });
    const text = await metrics.metrics();
    expect(text).not.toMatch(/^gas_queue_depth\{/m);
    expect(String(collectErrors[0])).toMatch(/queue depth took longer than 50 ms/);
  });
});
