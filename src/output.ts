/** Where a command writes text: a process stream, or a buffer when a test runs it in-process. */
export interface Output {
  write(text: string): unknown;
  /** A redrawn progress bar on a terminal, plain lines otherwise. */
  readonly isTTY?: boolean;
}
