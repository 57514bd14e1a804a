/**
 * Progress of a pull in bytes: a redrawn bar with bytes and time left on a TTY, a plain line
 * every 10% otherwise (logs, CI).
 */
import type { Output } from '../output.js';

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export interface ByteProgress {
  /** Bytes already on disk from an earlier try: counted as there, not towards the speed. */
  resumed(count: number): void;
  /** Bytes that arrived (negative: a restart threw some away). */
  add(count: number): void;
  done(): void;
}

export function byteProgress(stream: Output, label: string, total: number, now: () => number = Date.now): ByteProgress {
  const tty = stream.isTTY === true;
  const started = now();
  let received = 0;
  let downloaded = 0;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let lastDecile = -1;
  const eta = () => {
    const elapsed = now() - started;
    return downloaded > 0 && elapsed > 0 ? ((total - received) * elapsed) / downloaded : Number.POSITIVE_INFINITY;
  };
  const show = () => {
    if (tty) {
      if (now() - lastDraw < 100 && received < total) return;
      lastDraw = now();
      const width = 30;
      const filled = total > 0 ? Math.max(0, Math.min(width, Math.round((received / total) * width))) : width;
      stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${formatBytes(received)}/${formatBytes(total)}  ${formatDuration(eta())} left `);
      return;
    }
    const decile = total > 0 ? Math.floor((received / total) * 10) : 10;
    if (decile > lastDecile) {
      lastDecile = decile;
      stream.write(`${label}: ${formatBytes(received)} of ${formatBytes(total)} (${decile * 10}%), ${received >= total ? 'done' : `${formatDuration(eta())} left`}\n`);
    }
  };
  return {
    resumed(count) {
      received += count;
      show();
    },
    add(count) {
      received += count;
      if (count > 0) downloaded += count;
      show();
    },
    done() {
      if (tty) stream.write('\n');
    },
  };
}
