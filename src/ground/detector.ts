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

/** The model files a transformers.js GroundingDINO export ships: onnx/model.onnx, model_fp16.onnx, model_quantized.onnx. */
export const DETECTOR_VARIANTS = ['fp32', 'fp16', 'quantized'] as const;
export type DetectorVariant = (typeof DETECTOR_VARIANTS)[number];

export interface Detector {
  /**
   * Finds every phrase in the image: one phrase per pass (the passes batched when the export
   * allows), or all in one pass when the export says its text mask allows it. Result order follows `phrases`.
   */
  detect(image: RgbImage, phrases: readonly string[], thresholds?: DetectionThresholds): Promise<PhraseDetections[]>;
}
