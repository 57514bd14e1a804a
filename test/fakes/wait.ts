/** Waiting on a fake server's record: shared by the fake Discord and the fake Slack. */

/**
 * The predicate's first truthy value, polled every 20 ms; past the deadline, an error naming what
 * was awaited with everything the fake recorded (`record()`), never a bare timeout.
 */
export async function waitForRecord<T>(predicate: () => T | undefined | null | false, describe: string, timeoutMs: number, record: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${describe}: not seen within ${timeoutMs} ms.\n${record()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
