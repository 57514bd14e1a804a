/** The whole pipeline on the colour world: a sentence → plan → detector → masks → edit, with events. */
import { describe, expect, it } from 'vitest';
import { loadDiffusionBundle } from '../src/models/bundle.js';
import { openGroundingDino } from '../src/ground/grounding-dino.js';
import { offlinePlanner } from '../src/plan/offline.js';
import { DEFAULT_EDIT_OPTIONS, editImage } from '../src/pipeline/edit.js';
import { runPipeline, type PipelineEvent } from '../src/pipeline/run.js';
import { isGasError, type GasError } from '../src/errors.js';
import { jobEventBodySchema } from '../src/jobs/contracts.js';
import { colourWorldDetectorDir } from '../models/colour-world/paths.js';
import {
  PALETTE, SCENE_PLAN, STANDARD_BUNDLE, fractionOfWay, maxDifference, meanColour, pngToRgb, sceneImage,
} from './helpers/colour-world.js';

const REF = `blob:sha256:${'0'.repeat(64)}`;

/** A pipeline event with a blob ref in place of each image, as the worker publishes it. */
function withRefs(event: PipelineEvent): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).map(([key, value]) => [key, value instanceof Buffer || (key === 'preview' && value) ? REF : value]));
}

describe('the edit pipeline', async () => {
  const bundle = await loadDiffusionBundle(STANDARD_BUNDLE);
  const detector = await openGroundingDino(colourWorldDetectorDir());
  const scene = await sceneImage();
  const options = { ...DEFAULT_EDIT_OPTIONS, steps: 200, seed: 5 };

  it('edits "turn the dog into a tiger and the grass into snow" as well as the explicit plan does', async () => {
    const events: PipelineEvent['type'][] = [];
    const asJobEvents: unknown[] = [];
    const result = await runPipeline(
      { image: scene, request: 'turn the dog into a tiger and the grass into snow' },
      { bundle, planner: offlinePlanner, detector },
      { ...options, previewAt: (iteration) => iteration === 100 },
      (event) => {
        if (events.at(-1) !== event.type) events.push(event.type);
        asJobEvents.push(withRefs(event));
      },
    );
    expect(events).toEqual(['planned', 'grounded', 'progress', 'done']);
    // Each event is the queue's job event with its images in memory: with refs for them, it is one.
    for (const body of asJobEvents) expect(jobEventBodySchema.safeParse(body).error).toBeUndefined();
    expect(asJobEvents.filter((e) => (e as { preview?: string }).preview === REF)).toHaveLength(1);
    expect(asJobEvents.at(-1)).toMatchObject({ type: 'done', result: REF, overlay: REF, seed: 5 });
    expect(result.plan.subtasks.map((s) => [s.source, s.target, s.grounding])).toEqual([['the dog', 'a tiger', 'dog'], ['the grass', 'the snow', 'grass']]);

    const edit = await pngToRgb(result.image);
    const dog = fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange);
    const grass = fractionOfWay(meanColour(edit, 'grass'), PALETTE.green, PALETTE.white);
    for (const fraction of [dog, grass]) {
      expect(fraction).toBeGreaterThanOrEqual(0.8);
      expect(fraction).toBeLessThanOrEqual(1.2);
    }
    expect(maxDifference(scene, edit, 'sky')).toBeLessThanOrEqual(2);

    // The detector finds the plan's boxes, and the prompts name the same colours: the same bytes.
    const explicit = await editImage(bundle, scene, SCENE_PLAN, options);
    expect(result.image.equals(explicit.image)).toBe(true);
  });

  it('says which phrase it could not find, shows the overlay, and edits nothing', async () => {
    const events: PipelineEvent[] = [];
    const error = await runPipeline(
      { image: scene, request: 'turn the dog into a tiger and the cat into a fox' },
      { bundle, planner: offlinePlanner, detector },
      options,
      (event) => events.push(event),
    ).catch((e: unknown) => e);
    expect(isGasError(error, 'not_found')).toBe(true);
    expect((error as Error).message).toBe('I could not find "cat" in the image.');
    // What a front end words it from: the phrase, and that a detector looked.
    expect((error as GasError).facts).toEqual({ missing: ['cat'], detector: true });
    const grounded = events.find((e) => e.type === 'grounded');
    expect(grounded).toMatchObject({ missing: ['cat'] });
    expect((grounded as { overlay: Buffer }).overlay.subarray(1, 4).toString()).toBe('PNG');
    expect(events.some((e) => e.type === 'progress')).toBe(false);
  });
});
