/** Builds the colour-world bundles once per test run, as `npm run models:colour` does. */
import { buildColourWorld, COLOUR_WORLD_VARIANTS } from '../../models/colour-world/build.js';
import { buildColourWorldDetector } from '../../models/colour-world/detector.js';
import { colourWorldBundleDir, colourWorldDetectorDir } from '../../models/colour-world/paths.js';

export default function setup(): void {
  buildColourWorld(colourWorldBundleDir('standard'), COLOUR_WORLD_VARIANTS.standard);
  buildColourWorld(colourWorldBundleDir('scalar'), COLOUR_WORLD_VARIANTS.scalar);
  buildColourWorldDetector(colourWorldDetectorDir());
}
