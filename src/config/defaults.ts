/** A setting's default as people read it: the variable's own wording, else the schema's default value. */
import type { z } from 'zod';
import type { ConfigSection, Variable } from './section.js';

/** The object schema under a section's schema (its refinements and transforms unwrapped). */
function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let current = schema as unknown as { _zod: { def: { type: string; in?: unknown; shape?: Record<string, z.ZodType> } } };
  for (let depth = 0; depth < 8; depth++) {
    const def = current._zod.def;
    if (def.type === 'object') return def.shape;
    if (def.type === 'pipe' && def.in) current = def.in as typeof current;
    else return undefined;
  }
  return undefined;
}

export function shownDefault(section: ConfigSection, key: string, variable: Variable): string | undefined {
  if (variable.shownDefault !== undefined) return variable.shownDefault;
  const field = shapeOf(section.schema)?.[key];
  const parsed = field?.safeParse(undefined);
  if (!parsed?.success || parsed.data === undefined) return undefined;
  return Array.isArray(parsed.data) ? (parsed.data.length ? parsed.data.join(',') : 'none') : String(parsed.data);
}
