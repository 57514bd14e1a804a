/** The tensors the engine works on, and what it needs from a model. No files, no ONNX. */

/** A scaled latent: [1, 4, height, width], channel-major (docs/algorithm.md §2.3). */
export interface Latent {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}

/** An image for the VAE: [1, 3, height, width], values in [-1, 1] (docs/algorithm.md §2.2). */
export interface ImageTensor {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}

/** Several latents that share a height and width: [batch, 4, height, width]. */
export interface LatentBatch {
  readonly data: Float32Array;
  readonly batch: number;
  readonly height: number;
  readonly width: number;
}

/** One prompt's text embeddings: [length, dim], row-major (docs/algorithm.md §3). */
export interface TextEmbedding {
  readonly data: Float32Array;
  readonly length: number;
  readonly dim: number;
}

/** The model's raw prediction (ε or v, per the schedule's prediction type) for latents at one timestep (docs/algorithm.md §4.3). */
export interface NoisePredictor {
  /** `contexts` is [batch, length, dim]: item i of the batch is conditioned on context i. */
  predict(latents: LatentBatch, timestep: number, contexts: Float32Array): Promise<Float32Array>;
}
