/**
 * A fake OpenAI-compatible server on 127.0.0.1 that speaks the real wire protocol
 * (POST /v1/chat/completions, chat.completion JSON, OpenAI-style error bodies, real status
 * codes), so the real `openai` SDK, with its retries and timeouts, is what the tests exercise.
 * Each test scripts a queue of replies and reads back every request it received.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeReply {
  /** HTTP status; 200 by default. */
  status?: number;
  /** JSON body: a `chatCompletion(…)` or an `apiError(…)`. */
  body: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (to provoke client timeouts). */
  delayMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body text, for "this string never appears" checks. */
  raw: string;
  /** The parsed JSON body. */
  body: any;
}

export interface FakeOpenAI {
  /** The `/v1` root to pass as the SDK's baseURL. */
  readonly baseURL: string;
  readonly requests: RecordedRequest[];
  /** Queues replies, answered in order, one per request. */
  reply(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

let completionCount = 0;

/** A chat.completion object whose first choice says `content`. */
export function chatCompletion(
  content: string | null,
  options: { finishReason?: 'stop' | 'length'; refusal?: string; model?: string } = {},
): Record<string, unknown> {
  return {
    id: `chatcmpl-fake-${++completionCount}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: options.model ?? 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: options.refusal ?? null },
        logprobs: null,
        finish_reason: options.finishReason ?? 'stop',
      },
    ],
    usage: { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150 },
  };
}

/** OpenAI's error body shape. */
export function apiError(
  message: string,
  options: { type?: string; code?: string | null; param?: string | null } = {},
): Record<string, unknown> {
  return {
    error: { message, type: options.type ?? 'invalid_request_error', param: options.param ?? null, code: options.code ?? null },
  };
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, body });

      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        if (res.destroyed) return; // the client gave up (timeout or abort)
        res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_fake_${requests.length}`, ...headers });
        res.end(JSON.stringify(payload));
      };
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        send(404, apiError(`Unknown request URL: ${req.method} ${req.url}`, { code: 'unknown_url' }));
        return;
      }
      const next = queue.shift();
      if (!next) {
        // Not retryable, so a test that sends more than it scripted fails fast and clearly.
        send(400, apiError('fake-openai: no scripted reply left for this request'), { 'x-should-retry': 'false' });
        return;
      }
      const answer = () => send(next.status ?? 200, next.body, next.headers);
      if (!next.delayMs) {
        answer();
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, next.delayMs);
      timers.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    reply: (...replies) => void queue.push(...replies),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // The SDK keeps connections alive; drop them so close() does not wait for their idle timeout.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
