#!/usr/bin/env node
/** `npm run models:colour`: builds the colour-world bundles into models/build/. */
import { COLOUR_WORLD_VARIANTS, buildColourWorld } from './build.js';
import { buildColourWorldDetector } from './detector.js';
import { colourWorldBundleDir, colourWorldDetectorDir } from './paths.js';

for (const name of Object.keys(COLOUR_WORLD_VARIANTS) as (keyof typeof COLOUR_WORLD_VARIANTS)[]) {
  const dir = colourWorldBundleDir(name);
  buildColourWorld(dir, COLOUR_WORLD_VARIANTS[name]);
  console.log(`built colour world (${name}) → ${dir}`);
}
buildColourWorldDetector(colourWorldDetectorDir());
console.log(`built colour-world detector → ${colourWorldDetectorDir()}`);
