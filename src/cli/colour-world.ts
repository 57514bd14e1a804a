/**
 * The colour world as the default models: when the bundle is the colour world (the default),
 * it is built if missing and its detector is the default detector too, so a sentence request
 * can be grounded with no configuration — in `gas demo` and `gas worker` alike.
 */
import { resolve } from 'node:path';
import { buildColourWorld, COLOUR_WORLD_VARIANTS, isCurrentColourWorld } from '../../models/colour-world/build.js';
import { buildColourWorldDetector, isCurrentColourWorldDetector } from '../../models/colour-world/detector.js';
import { colourWorldBundleDir, colourWorldDetectorDir } from '../../models/colour-world/paths.js';

export interface ModelDirs {
  readonly bundle: string;
  readonly detector?: string;
}

/** The bundle and detector to load: the colour world's are built when chosen and out of date; another bundle keeps its detector as given. */
export function withColourWorldDefaults(models: ModelDirs): ModelDirs {
  const bundle = resolve(models.bundle);
  if (bundle !== colourWorldBundleDir()) return models;
  if (!isCurrentColourWorld(bundle, COLOUR_WORLD_VARIANTS.standard)) buildColourWorld(bundle, COLOUR_WORLD_VARIANTS.standard);
  const detector = models.detector ?? colourWorldDetectorDir();
  if (resolve(detector) === colourWorldDetectorDir() && !isCurrentColourWorldDetector(detector)) buildColourWorldDetector(detector);
  return { bundle, detector };
}
