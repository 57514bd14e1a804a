/** How long a process may take to stop (GAS_SHUTDOWN_MS) unless configured otherwise: shared by workers and bots. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;
