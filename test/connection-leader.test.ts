/** One platform connection among bot processes: the lease's holder connects, the others stand by and take over. */
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConnectionLeader, LEADER_TICK_MS } from '../src/chat/connection-leader.js';
import { Leases } from '../src/jobs/lease.js';
import { connectRedis, deleteKeysWithPrefix } from '../src/jobs/redis.js';
import { uniquePrefix } from './helpers/queue.js';

const silent = pino({ level: 'silent' });

/** A connection that takes `connectMs` to open, recording when it opened and closed. */
function slowConnection(connectMs: number) {
  const events: string[] = [];
  return {
    events,
    open: () => events.filter((e) => e === 'connected').length - events.filter((e) => e === 'disconnected').length,
    connect: async () => {
      events.push('connecting');
      await new Promise((r) => setTimeout(r, connectMs));
      events.push('connected');
    },
    disconnect: async () => {
      events.push('disconnected');
    },
  };
}

describe('ConnectionLeader', { timeout: 60_000 }, () => {
  const redis = connectRedis();
  const prefix = uniquePrefix();
  const leaders: ConnectionLeader[] = [];
  afterEach(async () => {
    await Promise.all(leaders.splice(0).map((l) => l.stop()));
    await deleteKeysWithPrefix(redis, prefix);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('keeps its lease while a connection takes longer than the lease to open, so a standby never opens a second one', async () => {
    const key = `${prefix}:lease:gateway`;
    // The lease outlives one tick (as in production: 10 s against 3 s), but not the connect.
    const ttlMs = LEADER_TICK_MS + 1_000;
    const first = slowConnection(3 * ttlMs);
    const second = slowConnection(100);
    const leader = new ConnectionLeader(new Leases(redis, 'process-1', { ttlMs }), key, first, silent);
    const standby = new ConnectionLeader(new Leases(redis, 'process-2', { ttlMs }), key, second, silent);
    leaders.push(leader, standby);
    const leading = leader.start();
    await new Promise((r) => setTimeout(r, 50));
    await standby.start();
    await leading;
    expect(leader.isLeader()).toBe(true);
    // Two more ticks of the standby after the leader connected.
    await new Promise((r) => setTimeout(r, 2 * LEADER_TICK_MS + 500));
    expect(second.events, `leader: ${first.events.join(', ')}`).toEqual([]);
    expect(standby.isLeader()).toBe(false);
    expect(await redis.get(key)).toBe('process-1');
  });

  it('lets a standby connect once the leader is gone and its lease has run out', async () => {
    const key = `${prefix}:lease:gateway-2`;
    const ttlMs = LEADER_TICK_MS + 1_000;
    const first = slowConnection(10);
    const second = slowConnection(10);
    const leader = new ConnectionLeader(new Leases(redis, 'process-1', { ttlMs }), key, first, silent);
    const standby = new ConnectionLeader(new Leases(redis, 'process-2', { ttlMs }), key, second, silent);
    leaders.push(standby);
    await leader.start();
    await standby.start();
    expect([leader.isLeader(), standby.isLeader()]).toEqual([true, false]);
    await leader.stop(); // gives the lease up
    const deadline = Date.now() + ttlMs + 2 * LEADER_TICK_MS;
    while (!standby.isLeader() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(standby.isLeader()).toBe(true);
    expect(second.open()).toBe(1);
    expect(first.open()).toBe(0);
  });
});
