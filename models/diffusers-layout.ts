/**
 * The files every diffusers ONNX bundle the project builds shares (the colour world, the
 * SD 1.5-shaped bundle): the sub-folders, `model_index.json` and the SD 1.x scheduler's config.
 * Built in a folder next to the final one, then swapped in by the builder.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SD1_SCHEDULER, type PredictionType } from '../src/distill/schedule.js';

/** Writes `value` as pretty JSON at `path` under `dir`. */
export const writeJson = (dir: string, path: string, value: unknown) => writeFileSync(join(dir, path), `${JSON.stringify(value, null, 2)}\n`);

/**
 * A fresh building folder next to `finalDir` with the layout's sub-folders, `model_index.json`
 * (with `extra` keys) and the scheduler's config; returns the folder.
 */
export function startDiffusersBundle(finalDir: string, extra: Record<string, unknown>, predictionType: PredictionType): string {
  const dir = `${finalDir}.building-${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder', 'tokenizer', 'scheduler']) mkdirSync(join(dir, sub), { recursive: true });
  const onnxModel = 'OnnxRuntimeModel';
  writeJson(dir, 'model_index.json', {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.30.0',
    ...extra,
    text_encoder: ['diffusers', onnxModel],
    unet: ['diffusers', onnxModel],
    vae_encoder: ['diffusers', onnxModel],
    vae_decoder: ['diffusers', onnxModel],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    scheduler: ['diffusers', 'PNDMScheduler'],
  });
  writeJson(dir, 'scheduler/scheduler_config.json', {
    _class_name: 'PNDMScheduler',
    beta_start: SD1_SCHEDULER.betaStart,
    beta_end: SD1_SCHEDULER.betaEnd,
    beta_schedule: SD1_SCHEDULER.betaSchedule,
    num_train_timesteps: SD1_SCHEDULER.numTrainTimesteps,
    prediction_type: predictionType,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
  });
  return dir;
}
