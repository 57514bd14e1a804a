/** Which planner a command uses, from the planner section of the configuration. */
import type { SectionValues } from '../config/section.js';
import type { plannerSection } from '../config/sections.js';
import { GasError } from '../errors.js';
import { offlinePlanner } from '../plan/offline.js';
import { openAIPlanner, type OpenAIPlannerConfig } from '../plan/openai.js';
import type { Planner } from '../plan/planner.js';

export type PlannerSettings = SectionValues<typeof plannerSection>;

/** The OpenAI-compatible planner's settings; undefined when no key is set (any dummy value serves a local server that ignores keys). */
export function openAIPlannerSettings(settings: PlannerSettings): OpenAIPlannerConfig | undefined {
  if (!settings.apiKey) return undefined;
  return { apiKey: settings.apiKey, ...(settings.baseURL ? { baseURL: settings.baseURL } : {}), ...(settings.model ? { model: settings.model } : {}) };
}

/** The planner to use: the one named, else openai when OPENAI_API_KEY is set, else offline. */
export function choosePlanner(settings: PlannerSettings): Planner {
  const config = openAIPlannerSettings(settings);
  if (settings.name === 'openai' || (settings.name === undefined && config)) {
    if (!config) throw new GasError('bad_input', 'The openai planner needs OPENAI_API_KEY (and OPENAI_BASE_URL for a local server such as Ollama or vLLM).');
    return openAIPlanner(config);
  }
  return offlinePlanner;
}
