#!/usr/bin/env node
/** The `gas` command (see src/cli/program.ts). */
import { main } from './cli/program.js';

process.exitCode = await main(process.argv);
