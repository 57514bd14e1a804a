/**
 * The operations endpoint of a service process: `GET /healthz` for liveness probes and
 * `GET /metrics` for Prometheus. Plain node:http, bound to loopback unless told otherwise; no
 * request can crash the process: handler errors answer 500 and go to `onError`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceMetrics } from './metrics.js';
import { TimeoutError, withTimeout } from './timeout.js';

export interface HealthReport {
  ok: boolean;
  /** Merged into the JSON body (e.g. `{ redis: 'up' }`); must be JSON-serialisable. */
  details: Record<string, unknown>;
}

export interface OpsServerOptions {
  /** 0 picks a free port; the returned `port` is the real one. */
  port: number;
  /** Default 127.0.0.1: reachable from this machine only. */
  host?: string;
  metrics: ServiceMetrics;
  /** Typically pings Redis. Throwing, or taking longer than `healthTimeoutMs`, counts as unhealthy. */
  health: () => Promise<HealthReport>;
  /** Default 2000. */
  healthTimeoutMs?: number;
  /** Told about errors no response can carry (handler failures, health failures, socket errors), for logs. */
  onError?: (error: unknown, context: string) => void;
}

export interface OpsServer {
  /** The port the server listens on. */
  port: number;
  /** Stops listening and drops open connections; safe to call twice. */
  close(): Promise<void>;
}

export const DEFAULT_OPS_HOST = '127.0.0.1';
export const DEFAULT_HEALTH_TIMEOUT_MS = 2000;

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { port, host = DEFAULT_OPS_HOST, metrics, health, healthTimeoutMs = DEFAULT_HEALTH_TIMEOUT_MS } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!Number.isFinite(healthTimeoutMs) || healthTimeoutMs <= 0) {
    throw new RangeError(`healthTimeoutMs must be a positive number of milliseconds, got ${healthTimeoutMs}`);
  }
  const onError = options.onError ?? (() => {});

  const routes: Record<string, (response: ServerResponse) => Promise<void>> = {
    '/healthz': (response) => respondHealth(response, health, healthTimeoutMs, onError),
    '/metrics': (response) => respondMetrics(response, metrics),
  };

  const server = createServer((request, response) => {
    handle(request, response, routes).catch((error: unknown) => {
      onError(error, `ops server: ${request.method} ${request.url}`);
      respondError(response);
    });
  });
  // A listening server's errors (and broken client sockets) are logged, never thrown.
  server.on('clientError', (error, socket) => {
    onError(error, 'ops server: client connection');
    socket.destroy();
  });

  await listen(server, port, host);
  server.on('error', (error) => onError(error, 'ops server'));

  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  routes: Record<string, (response: ServerResponse) => Promise<void>>,
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://ops').pathname;
  const route = request.method === 'GET' && Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (route === undefined) {
    sendJson(response, 404, { status: 'not_found', error: 'Try GET /healthz or GET /metrics.' });
    return;
  }
  await route(response);
}

/** 200 `{status: 'ok', ...details}` when healthy; otherwise 503 `{status: 'unavailable', ...}`. */
async function respondHealth(
  response: ServerResponse,
  health: () => Promise<HealthReport>,
  timeoutMs: number,
  onError: (error: unknown, context: string) => void,
): Promise<void> {
  let report: HealthReport;
  try {
    // `Promise.resolve().then` also catches a callback that throws before returning a promise.
    report = await withTimeout(Promise.resolve().then(health), timeoutMs, 'health check');
  } catch (error) {
    onError(error, 'ops server: health check');
    // The cause goes to logs only: it may hold connection strings.
    const reason = error instanceof TimeoutError ? error.message : 'health check failed';
    sendJson(response, 503, { status: 'unavailable', error: reason });
    return;
  }
  const body = JSON.stringify({ ...report.details, status: report.ok ? 'ok' : 'unavailable' });
  send(response, report.ok ? 200 : 503, 'application/json; charset=utf-8', body);
}

async function respondMetrics(response: ServerResponse, metrics: ServiceMetrics): Promise<void> {
  const text = await metrics.metrics();
  send(response, 200, metrics.contentType, text);
}

function sendJson(response: ServerResponse, status: number, body: Record<string, unknown>): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}

/** 500 if nothing was sent yet; otherwise the half-sent response is cut off. */
function respondError(response: ServerResponse): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, 500, { status: 'error', error: 'internal error; see the service logs' });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onListenError = (error: Error) => reject(error);
    server.once('error', onListenError);
    server.listen(port, host, () => {
      server.off('error', onListenError);
      resolve();
    });
  });
}
