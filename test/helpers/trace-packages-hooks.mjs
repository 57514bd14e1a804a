// Module hooks for trace-packages.mjs: every resolved module under node_modules names its package.
import { appendFileSync } from 'node:fs';

const seen = new Set();
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(resolved.url)?.[1];
  if (name && !seen.has(name) && process.env.GAS_TRACE_PACKAGES) {
    seen.add(name);
    appendFileSync(process.env.GAS_TRACE_PACKAGES, `${name}\n`);
  }
  return resolved;
}
