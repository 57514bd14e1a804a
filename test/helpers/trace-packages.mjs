// `node --import ./test/helpers/trace-packages.mjs …`: appends the name of each npm package the
// process loads to the file named by GAS_TRACE_PACKAGES (one per line, once each).
import { register } from 'node:module';

register(new URL('./trace-packages-hooks.mjs', import.meta.url));
