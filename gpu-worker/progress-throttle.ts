/** How often a run publishes progress and previews: chat platforms could not show more, and each costs a Redis write. */

export interface ProgressThrottle {
  previewDue(iteration: number, total: number): boolean;
  progressDue(iteration: number, total: number): boolean;
}

/** Previews at 25/50/75% and at most every `previewIntervalMs`; progress at most every `progressIntervalMs`, and always at the end. */
export function progressThrottle({ previewIntervalMs, progressIntervalMs }: { previewIntervalMs: number; progressIntervalMs: number }): ProgressThrottle {
  let lastPreview = Date.now();
  let lastProgress = 0;
  return {
    previewDue: (iteration, total) => {
      const milestone = [0.25, 0.5, 0.75].some((q) => iteration === Math.round(total * q));
      if (!milestone && Date.now() - lastPreview < previewIntervalMs) return false;
      lastPreview = Date.now();
      return true;
    },
    progressDue: (iteration, total) => {
      if (iteration < total && Date.now() - lastProgress < progressIntervalMs) return false;
      lastProgress = Date.now();
      return true;
    },
  };
}
