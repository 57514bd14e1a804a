/** `gas` in this process, through its exported entry point, with its output captured. */
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/program.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function gas(args: string[]): Promise<Run> {
  const run = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: { write: (text: string) => (run.stdout += text) },
    stderr: { write: (text: string) => (run.stderr += text) },
  };
  const code = await main(args, io);
  return { code, ...run };
}
