/** How long a process may take to stop (GAS_SHUTDOWN_MS): shared by workers and bots, and light to import. */
import { GasError } from '../errors.js';

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;

export function shutdownTimeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.GAS_SHUTDOWN_MS?.trim();
  if (!value) return DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100) throw new GasError('bad_input', `GAS_SHUTDOWN_MS must be a whole number of milliseconds, at least 100 (got "${value}").`);
  return n;
}
