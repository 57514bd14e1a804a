#!/usr/bin/env node
/**
 * Prints the node_modules folders that the given packages need at run time (themselves and
 * their dependencies, resolved as Node resolves them), one per line, from package-lock.json.
 * Used by device-gpu-pack.sh to carry only what bench:gpu and `gas models build-random` load.
 *
 * usage: node scripts/runtime-node-modules.mjs <package>...
 */
import { readFileSync } from 'node:fs';

const roots = process.argv.slice(2);
if (roots.length === 0) {
  console.error('usage: node scripts/runtime-node-modules.mjs <package>...');
  process.exit(2);
}
const { packages } = JSON.parse(readFileSync('package-lock.json', 'utf8'));

/** The folder `name` resolves to from the package in folder `from` ('' for the project): nearest node_modules first. */
function resolve(from, name) {
  for (let base = from; ; ) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const up = base.lastIndexOf('/node_modules/');
    base = up < 0 ? '' : base.slice(0, up);
  }
}

const found = new Set();
const visit = (from, name, optional) => {
  const folder = resolve(from, name);
  if (!folder) {
    if (optional) return;
    console.error(`${name} (needed by ${from || 'the project'}) is not in package-lock.json`);
    process.exit(1);
  }
  if (found.has(folder)) return;
  found.add(folder);
  const entry = packages[folder];
  for (const dep of Object.keys(entry.dependencies ?? {})) visit(folder, dep, false);
  for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(folder, dep, true);
};
for (const root of roots) visit('', root, false);
// A folder inside another one listed travels with it.
const folders = [...found].sort().filter((folder) => ![...found].some((other) => folder.startsWith(`${other}/`)));
console.log(folders.join('\n'));
