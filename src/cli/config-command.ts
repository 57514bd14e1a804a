/**
 * `gas config`: the effective configuration, variable by variable (secrets hidden), and with
 * `--markdown` the variable tables of docs/operations.md, generated from the same sections so
 * that the documentation cannot drift from the code (a test compares them).
 */
import type { Configuration } from '../config/index.js';
import { shownDefault } from '../config/defaults.js';
import { variableNames, type ConfigSection, type Variable } from '../config/section.js';

export function configReport(config: Configuration): string {
  const lines: string[] = [];
  for (const report of config.describe()) {
    lines.push(`[${report.section}]${report.error ? `  ! ${report.error}` : ''}`);
    const width = Math.max(...report.variables.map((v) => v.name.length));
    for (const variable of report.variables) {
      const value = variable.source === 'unset' ? '(unset)' : `${variable.shown}${variable.source === 'default' ? '  (default)' : ''}`;
      lines.push(`  ${variable.name.padEnd(width)}  ${value}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** One Markdown table per section: variable, meaning, default; secrets marked. */
export function variableTables(sections: readonly ConfigSection[]): string {
  return sections
    .map((section) => {
      const rows = (Object.entries(section.variables) as [string, Variable][]).map(([key, variable]) => {
        const [name, ...older] = variableNames(variable);
        const fallback = shownDefault(section, key, variable);
        const also = older.length ? ` (also read as \`${older.join('`, `')}\`)` : '';
        const secret = variable.secret === 'url-password' ? ' Its password is secret: never logged or shown.' : variable.secret ? ' **Secret**: never logged or shown.' : '';
        // A value in code type; a phrase about the default ("all the bot is in") as words.
        const shown = fallback === undefined ? '—' : /\s/.test(fallback) ? fallback : `\`${fallback}\``;
        return `| \`${name}\`${also} | ${cell(variable.description)}.${secret} | ${cell(shown)} |`;
      });
      return [`### ${section.title ?? `${section.name[0].toUpperCase()}${section.name.slice(1)} settings`}`, '', '| variable | meaning | default |', '|---|---|---|', ...rows, ''].join('\n');
    })
    .join('\n');
}
