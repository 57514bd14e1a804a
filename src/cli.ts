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
// Everything is closed by now; a handle a library still holds (a socket to a Redis that never
// answered, say) must not keep the shell waiting past the deadlines the command promised.
setTimeout(() => process.exit(), 200).unref();
