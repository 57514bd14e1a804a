/** GroundingDINO's code path on the colour-world detector, and the grounding stage's box sources. */
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { detectorInputSize, openGroundingDino } from '../src/ground/grounding-dino.js';
import { groundPlan, parseUserBox } from '../src/pipeline/ground.js';
import { decodeImage } from '../src/image/decode.js';
import { isGasError } from '../src/errors.js';
import type { Box } from '../src/distill/masks.js';
import type { Plan } from '../src/plan/schema.js';
import { colourWorldDetectorDir } from '../models/colour-world/paths.js';
import { PALETTE, SCENE_PLAN, SCENE_REGIONS, sceneImage } from './helpers/colour-world.js';

function iou(a: Box, b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

const fill = ([r, g, b]: readonly number[]) => ({ r, g, b });

/** 640×384: grey road, two red cars side by side, a yellow sun. */
async function twoCarsScene() {
  const W = 640;
  const H = 384;
  const rect = (box: readonly number[], colour: readonly number[]) => ({
    input: { create: { width: Math.round((box[2] - box[0]) * W), height: Math.round((box[3] - box[1]) * H), channels: 3 as const, background: fill(colour) } },
    left: Math.round(box[0] * W),
    top: Math.round(box[1] * H),
  });
  const cars = [[0.1, 0.5, 0.35, 0.75], [0.6, 0.5, 0.9, 0.8]] as const;
  const sun = [0.75, 0.05, 0.9, 0.3] as const;
  const png = await sharp({ create: { width: W, height: H, channels: 3, background: fill(PALETTE.grey) } })
    .composite([rect(cars[0], PALETTE.red), rect(cars[1], PALETTE.red), rect(sun, PALETTE.yellow)])
    .png()
    .toBuffer();
  return { image: await decodeImage(png), cars, sun };
}

describe('GroundingDINO on the colour world', async () => {
  const detector = await openGroundingDino(colourWorldDetectorDir());
  const scene = await sceneImage();

  it('finds every phrase, queried together, within IoU 0.8 of the true region', async () => {
    const found = await detector.detect(scene, ['dog', 'sky']);
    expect(found.map((f) => f.phrase)).toEqual(['dog', 'sky']);
    expect(found[0].detections).toHaveLength(1);
    expect(iou(found[0].detections[0].box, SCENE_REGIONS.dog)).toBeGreaterThanOrEqual(0.8);
    expect(iou(found[1].detections[0].box, SCENE_REGIONS.sky)).toBeGreaterThanOrEqual(0.8);
    expect(found[0].detections[0].score).toBeGreaterThan(0.99);
  });

  it('keeps every instance of a phrase, and the grounding stage unites them into one region', async () => {
    const { image, cars, sun } = await twoCarsScene();
    const found = await detector.detect(image, ['the red cars', 'sun']);
    const boxes = found[0].detections.map((d) => d.box).sort((a, b) => a[0] - b[0]);
    expect(boxes).toHaveLength(2);
    boxes.forEach((box, i) => expect(iou(box, cars[i])).toBeGreaterThanOrEqual(0.8));
    expect(iou(found[1].detections[0].box, sun)).toBeGreaterThanOrEqual(0.8);

    const plan: Plan = { subtasks: [{ source: 'the cars', target: 'the pumpkins', preserveForm: false }], full: { source: 'cars', target: 'pumpkins' } };
    const grounding = await groundPlan(plan, image, { detector });
    expect(grounding.regions[0].source).toBe('detector');
    expect(grounding.plan.subtasks[0].boxes).toHaveLength(2);
  });

  it('reports a phrase it cannot find by name and still grounds the others', async () => {
    const plan: Plan = {
      subtasks: [
        { source: 'the dog', target: 'a tiger', preserveForm: false },
        { source: 'the cat', target: 'a fox', preserveForm: false },
      ],
      full: { source: 'a dog and a cat', target: 'a tiger and a fox' },
    };
    const grounding = await groundPlan(plan, scene, { detector });
    expect(grounding.missing).toEqual(['cat']);
    expect(grounding.regions[0].boxes).toHaveLength(1);
    expect(grounding.regions[1]).toMatchObject({ phrase: 'cat', boxes: [], source: null });
  });

  it('finds nothing above a box threshold the model never reaches', async () => {
    const found = await detector.detect(scene, ['dog'], { box: 0.99999, text: 0.25 });
    expect(found[0].detections).toEqual([]);
  });

  it('uses boxes the person gave before the detector, matched by phrase', async () => {
    const userBox = parseUserBox('The Grass=0,0.6,1,1');
    const grounding = await groundPlan(SCENE_PLAN, scene, { detector, userBoxes: [userBox] });
    expect(grounding.regions.map((r) => r.source)).toEqual(['detector', 'user']);
    expect(grounding.plan.subtasks[1].boxes).toEqual([[0, 0.6, 1, 1]]);
  });

  it("uses the planner's boxes only when no detector is installed", async () => {
    const withoutDetector = await groundPlan(SCENE_PLAN, scene);
    expect(withoutDetector.regions.map((r) => r.source)).toEqual(['planner', 'planner']);
    const noBoxes: Plan = { ...SCENE_PLAN, subtasks: SCENE_PLAN.subtasks.map(({ box: _box, ...rest }) => rest) };
    expect((await groundPlan(noBoxes, scene)).missing).toEqual(['dog', 'grass']);
  });

  it('refuses a --box that is malformed or matches no object', async () => {
    expect(() => parseUserBox('grass=0,0.6,1')).toThrow('--box takes "phrase=x0,y0,x1,y1"');
    expect(() => parseUserBox('grass=0.5,0,0.2,1')).toThrow('x0 < x1');
    const error = await groundPlan(SCENE_PLAN, scene, { userBoxes: [parseUserBox('the cat=0,0,1,1')] }).catch((e: unknown) => e);
    expect(isGasError(error, 'bad_input')).toBe(true);
    expect((error as Error).message).toBe('--box "the cat" matches no object in the plan ("dog", "grass").');
  });

  it('resizes like GroundingDinoImageProcessor: shortest edge 800 unless the longest would pass 1333', () => {
    expect(detectorInputSize(640, 480, 800, 1333)).toEqual({ width: 1066, height: 800 });
    expect(detectorInputSize(480, 640, 800, 1333)).toEqual({ width: 800, height: 1066 });
    expect(detectorInputSize(2000, 500, 800, 1333)).toEqual({ width: 1332, height: 333 });
    expect(detectorInputSize(800, 800, 800, 1333)).toEqual({ width: 800, height: 800 });
  });

  it('says what a detector folder must hold when there is none', async () => {
    const error = await openGroundingDino('/nonexistent/detector').catch((e: unknown) => e);
    expect(isGasError(error, 'bundle_invalid')).toBe(true);
    expect((error as Error).message).toContain('onnx/model.onnx');
  });
});

describe('boxes written in a plan file', async () => {
  const detector = await openGroundingDino(colourWorldDetectorDir());
  const scene = await sceneImage();

  it('come before the detector, which grounds only the subtasks without one', async () => {
    const plan: Plan = {
      ...SCENE_PLAN,
      subtasks: [{ ...SCENE_PLAN.subtasks[0], box: [0.2, 0.4, 0.7, 0.9] }, { ...SCENE_PLAN.subtasks[1], box: undefined }],
    };
    const grounding = await groundPlan(plan, scene, { detector, planBoxesFrom: 'user' });
    expect(grounding.regions.map((r) => r.source)).toEqual(['user', 'detector']);
    expect(grounding.plan.subtasks[0].boxes).toEqual([[0.2, 0.4, 0.7, 0.9]]);
    expect(iou(grounding.plan.subtasks[1].boxes![0], SCENE_REGIONS.grass)).toBeGreaterThanOrEqual(0.8);
  });
});
