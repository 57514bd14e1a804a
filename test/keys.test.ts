/** Every key in one place: the formats stay those Redis already holds, and ids cannot make two keys collide. */
import { describe, expect, it } from 'vitest';
import { redisKeys } from '../src/jobs/keys.js';

const keys = redisKeys('gas');

describe('Redis keys', () => {
  it("keep the chat flow's formats, under <prefix>:chat", () => {
    expect(keys.chatJob('j1')).toBe('gas:chat:job:j1');
    expect(keys.unfinishedJobs('slack')).toBe('gas:chat:unfinished:slack');
    expect(keys.editThread('discord', 'T1')).toBe('gas:chat:edit-thread:discord:T1');
    // A press is claimed per status message: the same button on another message is another action.
    expect(keys.buttonPress('undo', 'j1', 'm1', 'U1')).toBe('gas:chat:press:4.undo:2.j1:2.m1:2.U1');
    expect(keys.messageSeen('slack', 'C1', '1700000000.000100', '1700000000.000101')).toBe('gas:chat:seen:5.slack:2.C1:17.1700000000.000100:17.1700000000.000101');
  });

  it('give identities whose ids contain ":" keys of their own', () => {
    const seen = [
      keys.messageSeen('slack', 'C1:T1', 'M1', 'x'),
      keys.messageSeen('slack', 'C1', 'T1:M1', 'x'),
      keys.messageSeen('slack', 'C1', 'T1', 'M1:x'),
      keys.messageSeen('slack:C1', 'T1', 'M1', 'x'),
    ];
    expect(new Set(seen).size).toBe(seen.length);
    const threads = [keys.thread('cli', 'a:b', 't'), keys.thread('cli', 'a', 'b:t'), keys.thread('cli', 'a%3Ab', 't')];
    expect(new Set(threads).size).toBe(threads.length);
  });

  it("keep a platform's own state apart from another platform's, whatever its names hold", () => {
    expect(keys.platformState('discord', 'menu-target:1')).toBe('gas:platform:7.discord:13.menu-target:1');
    expect(keys.platformState('discord', 'a:b')).not.toBe(keys.platformState('discord:a', 'b'));
  });

  it('put every key under the prefix', () => {
    const other = redisKeys('p1');
    const all = [
      other.bull, other.blob('h'), other.events('j'), other.seq('j'), other.terminal('j'), other.runner('j'), other.cancel('j'), other.cancelChannel,
      other.handoff('j'), other.userActive('u'), other.userBacklog('u'), other.held('j'), other.heldJobs, other.admitting, other.durations, other.runSamples,
      other.thread('p', 'c', 't'), other.threadOrigin('p', 'c', 't'), other.threadOwner('p', 'c', 't'),
      other.chatJob('j'), other.unfinishedJobs('p'), other.editThread('p', 't'), other.buttonPress('a', 'j', 'm', 'u'), other.messageSeen('p', 'c', 't', 'm'), other.threadSteps('p', 't'), other.notified('j'),
      other.platformState('p', 'n'),
    ];
    for (const key of all) expect(key.startsWith('p1:')).toBe(true);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('a platform store', () => {
  it('keeps a value for its lifetime, in Redis under the platform, and gives it to one taker', async () => {
    const { Redis } = await import('ioredis');
    const { redisPlatformStore } = await import('../src/jobs/platform-store.js');
    const { DEFAULT_REDIS_URL } = await import('../src/jobs/redis.js');
    const redis = new Redis(DEFAULT_REDIS_URL);
    const prefixed = redisKeys(`test-platform-store-${process.pid}-${Date.now()}`);
    try {
      const discord = redisPlatformStore(redis, prefixed, 'discord');
      const slack = redisPlatformStore(redis, prefixed, 'slack');
      await discord.set('target', '{"a":1}', 200);
      expect([await discord.get('target'), await slack.get('target')]).toEqual(['{"a":1}', undefined]);
      expect(await redis.get(prefixed.platformState('discord', 'target'))).toBe('{"a":1}');
      expect(await Promise.all([discord.take('target'), discord.take('target')])).toEqual(['{"a":1}', undefined]);
      await discord.set('short', 'x', 50);
      await new Promise((r) => setTimeout(r, 120));
      expect(await discord.get('short')).toBeUndefined();
    } finally {
      const left = await redis.keys(`${prefixed.prefix}:*`);
      if (left.length > 0) await redis.del(...left);
      redis.disconnect();
    }
  });
});
