import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whether running from source (models/colour-world) or dist/models/colour-world. */
export function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const up = resolve(here, '../..');
  return basename(up) === 'dist' ? resolve(up, '..') : up;
}

/** Where `npm run models:colour` puts a variant's bundle: models/build/colour-world[-variant]. */
export function colourWorldBundleDir(variant: 'standard' | 'scalar' = 'standard'): string {
  return join(repoRoot(), 'models', 'build', variant === 'standard' ? 'colour-world' : `colour-world-${variant}`);
}

/** Where the colour world's GroundingDINO-contract detector is built: models/build/colour-world-detector. */
export function colourWorldDetectorDir(): string {
  return join(repoRoot(), 'models', 'build', 'colour-world-detector');
}
