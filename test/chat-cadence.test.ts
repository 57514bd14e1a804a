/** The pace of one status message's edits, with real timers: latest wins, spaced, final always delivered. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { EditCadence } from '../src/chat/cadence.js';

interface State {
  n: number;
  final: boolean;
}

function recorder(options: { intervalMs: number; finalIntervalMs?: number; latencyMs?: number; failing?: (s: State, attempt: number) => boolean; lastWriteAt?: number }) {
  const starts: { n: number; at: number }[] = [];
  const delivered: number[] = [];
  const warnings: string[] = [];
  const attempts = new Map<number, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  const cadence = new EditCadence<State>({
    intervalMs: options.intervalMs,
    ...(options.finalIntervalMs !== undefined ? { finalIntervalMs: options.finalIntervalMs } : {}),
    isFinal: (s) => s.final,
    logger,
    lastWriteAt: options.lastWriteAt,
    deliver: async (s) => {
      const attempt = (attempts.get(s.n) ?? 0) + 1;
      attempts.set(s.n, attempt);
      starts.push({ n: s.n, at: Date.now() });
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, options.latencyMs ?? 0));
      inFlight -= 1;
      if (options.failing?.(s, attempt)) throw new Error(`platform refused edit ${s.n}`);
      delivered.push(s.n);
    },
  });
  return { cadence, starts, delivered, warnings, maxInFlight: () => maxInFlight };
}

const gaps = (starts: { at: number }[]) => starts.slice(1).map((s, i) => s.at - starts[i].at);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EditCadence', () => {
  it('coalesces a burst to the latest state, spaces edits by the interval and delivers the final one', async () => {
    const r = recorder({ intervalMs: 120, latencyMs: 30 });
    const began = Date.now();
    for (let n = 1; n <= 30; n++) {
      r.cadence.push({ n, final: false });
      await sleep(10);
    }
    r.cadence.push({ n: 31, final: true });
    await r.cadence.idle();
    const report = JSON.stringify(r.starts);
    expect(r.delivered.at(-1), report).toBe(31);
    expect(r.delivered[0], report).toBe(1);
    // One edit per interval at most (however slow the machine made the pushes), far fewer than 31.
    const elapsed = Date.now() - began;
    expect(r.delivered.length, report).toBeLessThanOrEqual(Math.floor(elapsed / 120) + 1);
    expect(r.delivered.length, report).toBeLessThan(31);
    // Measured from the end of the previous edit: the interval plus its 30 ms latency between starts.
    expect(Math.min(...gaps(r.starts)), report).toBeGreaterThanOrEqual(149);
    expect([...r.delivered].sort((a, b) => a - b), report).toEqual(r.delivered);
    expect(r.maxInFlight()).toBe(1);
  });

  it('keeps the interval after the message was posted', async () => {
    const posted = Date.now();
    const r = recorder({ intervalMs: 150, lastWriteAt: posted });
    r.cadence.push({ n: 1, final: true });
    await r.cadence.idle();
    expect(r.starts[0].at - posted).toBeGreaterThanOrEqual(149);
  });

  it("delivers a final state after the platform's own interval, not the one a shared budget stretched, even while an ordinary edit waits", async () => {
    const posted = Date.now();
    const r = recorder({ intervalMs: 2000, finalIntervalMs: 100, lastWriteAt: posted });
    r.cadence.push({ n: 1, final: false });
    await sleep(20);
    r.cadence.push({ n: 2, final: true });
    await r.cadence.idle();
    const report = JSON.stringify(r.starts.map((s) => ({ n: s.n, after: s.at - posted })));
    expect(r.delivered, report).toEqual([2]);
    expect(r.starts[0].at - posted, report).toBeGreaterThanOrEqual(99);
    expect(r.starts[0].at - posted, report).toBeLessThan(1500);
  });

  it('logs a failed edit and goes on with the next state', async () => {
    const r = recorder({ intervalMs: 50, failing: (s) => s.n === 1 });
    r.cadence.push({ n: 1, final: false });
    await sleep(5);
    r.cadence.push({ n: 2, final: true });
    await r.cadence.idle();
    expect(r.delivered).toEqual([2]);
    expect(r.warnings.join('')).toContain('platform refused edit 1');
  });

  it('tries a refused final state again, spaced like any edit', async () => {
    const r = recorder({ intervalMs: 60, failing: (s, attempt) => s.final && attempt < 3 });
    r.cadence.push({ n: 7, final: true });
    await r.cadence.idle();
    expect(r.delivered).toEqual([7]);
    expect(r.starts.map((s) => s.n)).toEqual([7, 7, 7]);
    expect(Math.min(...gaps(r.starts))).toBeGreaterThanOrEqual(59);
  });

  it('drops what is pending on close and waits for the edit in flight', async () => {
    const r = recorder({ intervalMs: 200, latencyMs: 40 });
    r.cadence.push({ n: 1, final: false });
    await sleep(5);
    r.cadence.push({ n: 2, final: true });
    await r.cadence.close();
    expect(r.delivered).toEqual([1]);
    await sleep(250);
    expect(r.delivered).toEqual([1]);
  });
});
