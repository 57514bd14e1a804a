/** What the pipeline needs from a zero-shot detector. */
import type { Box } from '../distill/masks.js';
import type { RgbImage } from '../image/decode.js';

export interface Detection {
  readonly box: Box;
  /** The detector's confidence that the box holds something (0–1). */
  readonly score: number;
}

export interface PhraseDetections {
  readonly phrase: string;
  /** Every instance found above the thresholds; empty when the phrase was not found. */
  readonly detections: readonly Detection[];
}

export interface DetectionThresholds {
  /** A query is kept when its best token probability exceeds this. */
  readonly box: number;
  /** …and the phrase's best token probability exceeds this. */
  readonly text: number;
}

/** GroundingDINO's usual defaults. */
export const DEFAULT_THRESHOLDS: DetectionThresholds = { box: 0.35, text: 0.25 };

export interface Detector {
  /** Finds every phrase in the image, queried together in one run. Result order follows `phrases`. */
  detect(image: RgbImage, phrases: readonly string[], thresholds?: DetectionThresholds): Promise<PhraseDetections[]>;
}
