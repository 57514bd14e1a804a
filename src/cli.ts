#!/usr/bin/env node
/** The `gas` command (see src/cli/program.ts). */
import { main } from './cli/program.js';

process.exitCode = await main(process.argv.slice(2));
// Everything is closed by now; should a library still hold a handle, do not hang the shell.
setTimeout(() => process.exit(), 3000).unref();
