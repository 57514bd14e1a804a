/** The variables of some configuration sections, as a command's `--help` lists them. */
import type { ConfigSection, Variable } from '../config/section.js';
import { variableNames } from '../config/section.js';
import { shownDefault } from '../config/defaults.js';

export function variablesHelp(sections: readonly ConfigSection[]): string {
  const rows = sections.flatMap((section) =>
    (Object.entries(section.variables) as [string, Variable][]).map(([key, variable]) => {
      const fallback = shownDefault(section, key, variable);
      return [variableNames(variable)[0], `${variable.description}${fallback ? ` (default ${fallback})` : ''}`];
    }),
  );
  const width = Math.max(...rows.map(([name]) => name.length));
  return `\nEnvironment variables (flags above override them; \`gas config\` shows what is set):\n${rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`).join('\n')}\n`;
}
