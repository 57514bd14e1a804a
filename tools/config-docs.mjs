// Writes the variable tables of docs/operations.md (between its `variables` markers) from the
// configuration's sections, as `gas config --markdown` prints them. Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const doc = `${root}docs/operations.md`;
const tables = execFileSync(process.execPath, [`${root}dist/src/cli.js`, 'config', '--markdown'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
const text = readFileSync(doc, 'utf8');
const updated = text.replace(/(<!-- variables:start -->\n)[\s\S]*?(<!-- variables:end -->)/, `$1${tables}$2`);
if (updated === text && !text.includes(tables)) throw new Error('docs/operations.md has no <!-- variables:start --> … <!-- variables:end --> markers');
writeFileSync(doc, updated);
console.log(`wrote the variable tables of ${doc}`);
