/** `gas models build-random <shape>`: a bundle with SD 1.5's architecture and seeded random weights (models/sd15-shape). */
import { resolve } from 'node:path';
import { RANDOM_DTYPES, RANDOM_SHAPE_NAMES } from '../../models/sd15-shape/config.js';
import { buildRandomBundle, randomBundleDir } from '../../models/sd15-shape/build.js';
import { formatBytes } from '../models/pull-progress.js';
import { oneOf, wholeNumber, type NameOf } from './flag-values.js';
import type { CliIo } from './io.js';

export interface BuildRandomFlags {
  dtype: string;
  dir?: string;
  seed: string;
}

export function runBuildRandom(shapeName: string, flags: BuildRandomFlags, io: CliIo, name: NameOf): void {
  const shape = oneOf(shapeName, 'the shape', RANDOM_SHAPE_NAMES)!;
  const dtype = oneOf(flags.dtype, name('dtype'), RANDOM_DTYPES)!;
  const seed = wholeNumber(flags.seed, name('seed'), 0, 2 ** 31 - 1)!;
  const dir = resolve(flags.dir ?? randomBundleDir(shape, dtype));
  io.stderr.write(`building ${shape} (${dtype}, seed ${seed}) into ${dir}\n`);
  const started = performance.now();
  buildRandomBundle(dir, { shape, dtype, seed }, (file) => io.stderr.write(`  ${file.path} (${formatBytes(file.bytes)})\n`));
  io.stdout.write(`${dir}\n`);
  io.stderr.write(
    `done in ${((performance.now() - started) / 1000).toFixed(1)} s. Random weights: for npm run bench:gpu -- --bundle ${dir}; ` +
      'gas edit, demo and worker refuse it unless given --allow-random-weights.\n',
  );
}
