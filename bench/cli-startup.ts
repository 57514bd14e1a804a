/**
 * `npm run bench:cli`: how long `gas --help` takes against a bare `node -e 0`, as the median of
 * N runs each (N from BENCH_RUNS, default 15), and their ratio. The runs alternate, so a busy
 * shared machine slows both alike; compare figures within one run. BENCH_CLI=path/to/cli.js
 * times another build instead (e.g. the one before a change).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const runs = Number(process.env.BENCH_RUNS ?? 15);
// BENCH_CLI: another build's cli.js, to compare before and after on the same machine.
const CLI = resolve(process.env.BENCH_CLI ?? 'dist/src/cli.js');

/** Wall time of one child process, in ms; throws with its output if it fails. */
function timeOnce(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}:\n${result.stdout}${result.stderr}`);
  return ms;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const bare: number[] = [];
const help: number[] = [];
timeOnce([CLI, '--help']); // warm the file cache once
for (let i = 0; i < runs; i++) {
  bare.push(timeOnce(['-e', '0']));
  help.push(timeOnce([CLI, '--help']));
}
const [b, h] = [median(bare), median(help)];
console.log(`node -e 0     ${b.toFixed(0)} ms (median of ${runs})`);
console.log(`gas --help    ${h.toFixed(0)} ms (median of ${runs})`);
console.log(`ratio         ${(h / b).toFixed(2)}×`);
