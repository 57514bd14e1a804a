/** Where the `gas` command writes: the process's streams, or buffers when a test runs it in-process. */
export interface Output {
  write(text: string): unknown;
  /** A redrawn progress bar on a terminal, plain lines otherwise. */
  readonly isTTY?: boolean;
}

export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };
