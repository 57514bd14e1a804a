/**
 * The Lua scripts as defined commands: loaded once per connection and then run by their SHA1,
 * back after a SCRIPT FLUSH, on any connection; and no Lua left in TypeScript. Command counts
 * come from a Redis of the test's own, which nothing else talks to.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { redisKeys } from '../src/jobs/keys.js';
import { connectRedis } from '../src/jobs/redis.js';
import { scripts, scriptSource, type ScriptName } from '../src/jobs/scripts/index.js';
import { startPrivateRedis, type PrivateRedis } from './helpers/private-redis.js';

const SCRIPT_DIR = 'src/jobs/scripts';
const keys = redisKeys('gas-test-scripts');
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

let server: PrivateRedis;
const connections: Redis[] = [];

function connect(): Redis {
  const connection = connectRedis(server.url);
  connections.push(connection);
  return connection;
}

/** Calls of a command since the last CONFIG RESETSTAT. */
function calls(command: string): number {
  const line = server.cli('info', 'commandstats').split('\n').find((l) => l.startsWith(`cmdstat_${command}:`));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

/** A held-back job, so that `unhold` has something to take out. */
async function holdJob(redis: Redis, jobId: string): Promise<void> {
  await redis.multi().rpush(keys.userBacklog('U1'), jobId).sadd(keys.heldJobs, jobId).set(keys.held(jobId), '{}').exec();
}

const unhold = (redis: Redis, jobId: string) => scripts(redis).unhold({ backlog: keys.userBacklog('U1'), heldJobs: keys.heldJobs, held: keys.held(jobId) }, { jobId });

beforeAll(async () => {
  server = await startPrivateRedis();
});

beforeEach(() => {
  server.cli('flushall');
  server.cli('script', 'flush');
  server.cli('config', 'resetstat');
});

afterAll(async () => {
  for (const connection of connections) connection.disconnect();
  await server?.stop();
});

describe('Lua scripts', () => {
  it('are each a .lua file with its KEYS, ARGV and reply documented, and none is left in TypeScript', () => {
    const luaFiles = readdirSync(SCRIPT_DIR).filter((f) => f.endsWith('.lua')).sort();
    expect(luaFiles).toEqual([
      'admit.lua', 'check-pause.lua', 'check-settle.lua', 'check-update.lua', 'lease-release.lua', 'lease-renew.lua', 'publish.lua', 'rate-take.lua', 'release.lua', 'set-origin.lua',
      'thread-undo.lua', 'unhold.lua',
    ]);
    for (const file of luaFiles) {
      const header = readFileSync(join(SCRIPT_DIR, file), 'utf8').split(']]')[0];
      expect(header, file).toMatch(/^--\[\[/);
      expect(header, file).toContain('KEYS[1]');
      expect(header, file).toContain('Output:');
    }
    const names: ScriptName[] = ['admit', 'publish', 'release', 'unhold', 'setOrigin', 'threadUndo', 'leaseRenew', 'leaseRelease', 'checkPause', 'checkUpdate', 'checkSettle'];
    for (const name of names) expect(luaFiles.map((f) => readFileSync(join(SCRIPT_DIR, f), 'utf8'))).toContain(scriptSource(name));

    const typescript = ['src', 'gpu-worker', 'adapters'].flatMap((dir) =>
      (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f)),
    );
    expect(typescript.filter((file) => /redis\.p?call\(|\bKEYS\[\d\]\s*[~=]/.test(readFileSync(file, 'utf8')))).toEqual([]);
  });

  it('are loaded once per connection and then run by their SHA1', async () => {
    const redis = connect();
    expect(scripts(redis)).toBe(scripts(redis));
    for (const id of ['j1', 'j2', 'j3']) await holdJob(redis, id);
    expect(await unhold(redis, 'j1')).toBe(1);
    expect(await unhold(redis, 'j2')).toBe(1);
    expect(await unhold(redis, 'j3')).toBe(1);
    expect(await unhold(redis, 'j3')).toBe(0);

    expect(await redis.script('EXISTS', sha1(readFileSync(join(SCRIPT_DIR, 'unhold.lua'), 'utf8')))).toEqual([1]);
    expect(calls('eval')).toBe(1);
    expect(calls('evalsha')).toBe(3);
  });

  it('work on every connection handed in: another one, and a duplicate', async () => {
    const first = connect();
    const second = connect();
    const duplicate = first.duplicate();
    connections.push(duplicate);
    for (const id of ['a', 'b', 'c']) await holdJob(first, id);
    expect(await unhold(first, 'a')).toBe(1);
    expect(await unhold(second, 'b')).toBe(1);
    expect(await unhold(duplicate, 'c')).toBe(1);
    expect(scripts(duplicate)).not.toBe(scripts(first));
    // Each connection loads the script once (ioredis sends EVAL on a socket's first call).
    expect(calls('eval')).toBe(3);
    expect(calls('evalsha')).toBe(0);
  });

  it('recover from NOSCRIPT after SCRIPT FLUSH, loading the script again', async () => {
    const redis = connect();
    for (const id of ['j1', 'j2', 'j3']) await holdJob(redis, id);
    expect(await unhold(redis, 'j1')).toBe(1);
    expect(await unhold(redis, 'j2')).toBe(1);
    expect(await redis.script('FLUSH')).toBe('OK');
    expect(await unhold(redis, 'j3')).toBe(1);
    expect(await redis.llen(keys.userBacklog('U1'))).toBe(0);
    expect(await redis.script('EXISTS', sha1(scriptSource('unhold')))).toEqual([1]);
    // EVAL, EVALSHA, then EVALSHA answered NOSCRIPT and EVAL again.
    expect(calls('eval')).toBe(2);
    expect(calls('evalsha')).toBe(2);
    expect(await unhold(redis, 'j3')).toBe(0);
    expect(calls('evalsha')).toBe(3);
  });
});
