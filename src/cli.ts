#!/usr/bin/env node
/** The `gas` command (see src/cli/program.ts). */
import { main } from './cli/program.js';

// A reader that stops early (`gas models list | head -1`) is not a failure of ours: end quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
// Everything is closed by now; should a library still hold a handle, do not hang the shell.
setTimeout(() => process.exit(), 3000).unref();
