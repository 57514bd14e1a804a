/**
 * Redis failures as classes, from the errors ioredis really reports: a closed port, a reset
 * connection, a Redis that never answers, a wrong or missing password (a Redis of the test's own).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GasError } from '../src/errors.js';
import { asRedisFailure, redisFailure } from '../src/jobs/redis.js';
import { classifyRedisError, RedisAuthError, RedisConnectionError, RedisUnavailableError } from '../src/jobs/redis-errors.js';
import { freePort, silentServer, startPrivateRedis, type PrivateRedis } from './helpers/private-redis.js';

const PASSWORD = 'the-right-password';
const WRONG_PASSWORD = 'wrong-pw-DO-NOT-LEAK';

const opened: Redis[] = [];
afterEach(() => {
  for (const redis of opened.splice(0)) redis.disconnect();
});

/** A connection that gives up at once, and every error it reported. */
function connection(url: string, options: RedisOptions = {}): { redis: Redis; reported: Error[] } {
  const reported: Error[] = [];
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, ...options });
  redis.on('error', (error: Error) => reported.push(error));
  opened.push(redis);
  return { redis, reported };
}

/** What a promise rejected with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

/** Classifies `error` and checks the class, the cause and the message. */
function expectClass(error: Error, kind: typeof RedisUnavailableError | typeof RedisAuthError): RedisConnectionError {
  const classified = classifyRedisError(error);
  expect(classified, error.message).toBeInstanceOf(kind);
  expect(classified).toBeInstanceOf(RedisConnectionError);
  expect(classified!.cause).toBe(error);
  expect(classified!.message).toBe(error.message);
  expect(classifyRedisError(classified)).toBe(classified);
  return classified!;
}

describe('an unreachable Redis', () => {
  it('a closed port: ECONNREFUSED as reported, then "Connection is closed" for connect and every command', async () => {
    const port = await freePort();
    const { redis, reported } = connection(`redis://127.0.0.1:${port}`);
    const connectError = await failure(redis.connect());
    expect(reported[0]).toMatchObject({ code: 'ECONNREFUSED' });
    expectClass(reported[0], RedisUnavailableError);
    expect(connectError.message).toMatch(/^Connection is closed/);
    expectClass(connectError, RedisUnavailableError);
    expectClass(await failure(redis.get('k')), RedisUnavailableError);
  });

  it('a command that ran out of retries while reconnecting: MaxRetriesPerRequestError', async () => {
    const port = await freePort();
    const { redis } = connection(`redis://127.0.0.1:${port}`, { lazyConnect: false, retryStrategy: () => 20 });
    const error = await failure(redis.get('k'));
    expect(error.name).toBe('MaxRetriesPerRequestError');
    expectClass(error, RedisUnavailableError);
  });

  it('a connection reset by the server: ECONNRESET', async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.resetAndDestroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { redis, reported } = connection(`redis://127.0.0.1:${(server.address() as { port: number }).port}`);
      await failure(redis.connect());
      const reset = reported.find((e) => (e as { code?: string }).code === 'ECONNRESET');
      expect(reset, reported.map((e) => e.message).join('; ')).toBeDefined();
      expectClass(reset!, RedisUnavailableError);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a Redis that never answers: "Command timed out"', async () => {
    const silent = await silentServer();
    try {
      const { redis } = connection(`redis://127.0.0.1:${silent.port}`, { enableReadyCheck: false, commandTimeout: 200 });
      await redis.connect();
      const error = await failure(redis.get('k'));
      expect(error.message).toBe('Command timed out');
      expectClass(error, RedisUnavailableError);
    } finally {
      await silent.close();
    }
  });

  it('a connection that queues nothing while away: "Stream isn\'t writeable"', async () => {
    const { redis } = connection('redis://127.0.0.1:6379', { enableOfflineQueue: false });
    const error = await failure(redis.get('k'));
    expect(error.message).toMatch(/^Stream isn't writeable/);
    expectClass(error, RedisUnavailableError);
  });

  it('a host that does not resolve (ENOTFOUND, or EAI_AGAIN without DNS)', async () => {
    const { redis, reported } = connection('redis://no-such-host.invalid:6379');
    await failure(redis.connect());
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain((reported[0] as { code?: string }).code);
    expectClass(reported[0], RedisUnavailableError);
  });

  it("Node's socket codes, also inside an AggregateError (several addresses tried), and a Redis still loading", () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']) {
      expectClass(Object.assign(new Error(`connect ${code} 127.0.0.1:6379`), { code }), RedisUnavailableError);
    }
    const refusedTwice = new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:6379'), { code: 'ECONNREFUSED' })], '');
    expectClass(refusedTwice, RedisUnavailableError);
    expectClass(new ReplyError('LOADING Redis is loading the dataset in memory'), RedisUnavailableError);
  });
});

describe('a Redis that refuses to authenticate', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    server = await startPrivateRedis({ password: PASSWORD });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a wrong password: WRONGPASS, classified without the password in what it shows', async () => {
    const { redis, reported } = connection(`redis://:${WRONG_PASSWORD}@127.0.0.1:${server.port}`);
    await failure(redis.connect());
    const wrongPass = reported.find((e) => e.message.startsWith('WRONGPASS'));
    expect(wrongPass, reported.map((e) => e.message).join('; ')).toBeDefined();
    const classified = expectClass(wrongPass!, RedisAuthError);
    expect(JSON.stringify(classified) + classified.message + String(classified)).not.toContain(WRONG_PASSWORD);
    expect(redisFailure(classified, { host: '127.0.0.1', port: server.port }).message).toBe(
      `Redis at 127.0.0.1:${server.port} refused to authenticate: the password (or user) in REDIS_URL is wrong or missing. Set REDIS_URL to redis://:<password>@127.0.0.1:${server.port}.`,
    );
  });

  it('no password: NOAUTH', async () => {
    const { redis, reported } = connection(`redis://127.0.0.1:${server.port}`);
    await failure(redis.connect());
    const noAuth = reported.find((e) => e.message.startsWith('NOAUTH'));
    expect(noAuth, reported.map((e) => e.message).join('; ')).toBeDefined();
    expectClass(noAuth!, RedisAuthError);
  });

  it('a password sent to a Redis that has none', async () => {
    const { redis } = connection('redis://127.0.0.1:6379');
    await redis.connect();
    const error = await failure(redis.auth(WRONG_PASSWORD));
    expect(error.message).toContain('AUTH <password> called without any password configured');
    expectClass(error, RedisAuthError);
  });
});

describe('other errors', () => {
  it('are no connection errors: a failed command, a GasError, a plain Error, a thrown string', async () => {
    const { redis } = connection('redis://127.0.0.1:6379');
    await redis.connect();
    const key = `gas-test-${process.pid}-${Date.now()}-wrongtype`;
    await redis.set(key, 'x', 'EX', 60);
    const wrongType = await failure(redis.lpush(key, 'y'));
    expect(wrongType.message).toMatch(/^WRONGTYPE/);
    await redis.del(key);
    for (const error of [wrongType, new GasError('service_unavailable', 'Cannot reach Redis at 127.0.0.1:6379.'), new Error('boom'), 'ECONNREFUSED']) {
      expect(classifyRedisError(error)).toBeUndefined();
    }
    expect(asRedisFailure(wrongType, 'redis://127.0.0.1:6379')).toBe(wrongType);
  });

  it('a lost connection after connecting reads as "Cannot reach Redis" for a shell command', () => {
    const closed = new Error('Connection is closed.');
    const shown = asRedisFailure(closed, 'redis://:secret@redis-host:6380/0');
    expect(shown).toBeInstanceOf(GasError);
    expect((shown as GasError).message).toBe('Cannot reach Redis at redis-host:6380. Is it running? Set REDIS_URL to where it is.');
  });
});
