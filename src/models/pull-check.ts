/**
 * After a pull, the folder is opened exactly as `gas` opens it (loadDiffusionBundle or
 * openGroundingDino), and what the manifest promises of it is checked.
 */
import { GasError } from '../errors.js';
import type { ExecutionProvider } from './providers.js';
import type { ManifestEntry } from './manifest.js';

export async function checkPulledModel(entry: ManifestEntry, dir: string, provider: ExecutionProvider): Promise<void> {
  if (entry.kind === 'detector') {
    const { openGroundingDino } = await import('../ground/grounding-dino.js');
    await openGroundingDino(dir, { provider });
    return;
  }
  const { loadDiffusionBundle } = await import('./bundle.js');
  const bundle = await loadDiffusionBundle(dir, { provider });
  if (entry.predictionType && bundle.scheduler.predictionType !== entry.predictionType) {
    throw new GasError('bundle_invalid', `${dir} predicts ${bundle.scheduler.predictionType}, the manifest entry "${entry.name}" says ${entry.predictionType}; the manifest entry is wrong.`);
  }
}
