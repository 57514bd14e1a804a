/**
 * Progress for the terminal: a redrawn bar on a TTY, a plain line every 10% otherwise
 * (logs, CI). Twenty lines need no dependency.
 */
import type { DistillProgress } from '../distill/engine.js';
import type { Output } from './io.js';

export function progressReporter(stream: Output, label: string): { update(p: DistillProgress): void; done(): void } {
  const tty = stream.isTTY === true;
  let lastDecile = -1;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return {
    update(p) {
      if (tty) {
        const width = 30;
        const filled = Math.round((p.iteration / p.total) * width);
        stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${p.iteration}/${p.total}  ${seconds(p.etaMs)} left `);
        return;
      }
      const decile = Math.floor((p.iteration / p.total) * 10);
      if (decile > lastDecile) {
        lastDecile = decile;
        stream.write(`${label}: ${p.iteration}/${p.total} iterations, ${seconds(p.elapsedMs)} elapsed, ${seconds(p.etaMs)} left\n`);
      }
    },
    done() {
      if (tty) stream.write('\n');
    },
  };
}
