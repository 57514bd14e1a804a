/** Where the `gas` command writes: the process's streams, or buffers when a test runs it in-process. */
import type { Output } from '../output.js';

export type { Output };

export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };
