// The Lua scripts are read at run time from beside the compiled module that loads them
// (src/jobs/scripts/index.ts), so the build puts each src/**/*.lua at the same place under dist/.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const file of readdirSync(join(root, 'src'), { recursive: true })) {
  if (!file.endsWith('.lua')) continue;
  const to = join(root, 'dist', 'src', file);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join(root, 'src', file), to);
}
