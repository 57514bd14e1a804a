/** The planners by name; kept apart from planner.ts so naming one loads no schema library. */
export const PLANNERS = ['offline', 'openai'] as const;
export type PlannerName = (typeof PLANNERS)[number];
