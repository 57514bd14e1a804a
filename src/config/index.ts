/**
 * The configuration of one `gas` process: the environment read once at the command line's edge
 * (src/cli), section by section as a command needs them, so that `gas edit` never fails on a bad
 * Slack variable. Library code takes the typed values it is handed and never reads the
 * environment; this folder is the only place that does.
 */
import { CORE_SECTIONS } from './sections.js';
import { readSection, variableNames, variableText, type ConfigSection, type Environment, type Override, type SectionValues, type Variable } from './section.js';

export { readSection, type ConfigSection, type Environment, type SectionValues } from './section.js';

/** The process's environment: read here, and handed on from here. */
export function processEnvironment(): Environment {
  return process.env;
}

/** One variable as `gas config` shows it. */
export interface VariableReport {
  name: string;
  /** As set, or the default; a secret shows only whether it is set. */
  shown: string;
  source: 'environment' | 'default' | 'unset';
  description: string;
}

export interface SectionReport {
  section: string;
  variables: VariableReport[];
  /** Why the section's values would be refused as they are, if they would. */
  error?: string;
}

/** Hidden values are shown as this. */
export const MASKED = '[set, hidden]';

export class Configuration {
  private readonly read_ = new Map<ConfigSection, unknown>();

  constructor(
    readonly env: Environment,
    /** The chat platforms' sections (from the registry), after the core ones. */
    readonly platformSections: readonly ConfigSection[] = [],
  ) {}

  get sections(): readonly ConfigSection[] {
    return [...CORE_SECTIONS, ...this.platformSections];
  }

  /** A section's values; with `overrides`, a command line's flags take the place of their variables. */
  read<S extends ConfigSection>(section: S, overrides?: { [K in keyof S['variables']]?: Override }): SectionValues<S> {
    if (overrides) return readSection(section, this.env, overrides);
    if (!this.read_.has(section)) this.read_.set(section, readSection(section, this.env));
    return this.read_.get(section) as SectionValues<S>;
  }

  /** Every secret value this process was given, for the logs to cut out (whether or not its section is used). */
  secrets(): string[] {
    const values: string[] = [];
    for (const section of this.sections) {
      for (const variable of Object.values(section.variables) as Variable[]) {
        if (!variable.secret) continue;
        const text = variableText(variable, this.env);
        if (text === undefined) continue;
        values.push(...(variable.secret === 'url-password' ? urlPasswords(text) : [text]));
      }
    }
    return [...new Set(values)];
  }

  /** Every variable with its effective value (secrets masked) and where it came from, section by section. */
  describe(): SectionReport[] {
    return this.sections.map((section) => {
      let values: Record<string, unknown> | undefined;
      let error: string | undefined;
      try {
        values = this.read(section) as Record<string, unknown>;
      } catch (refused) {
        error = (refused as Error).message;
      }
      const variables = (Object.entries(section.variables) as [string, Variable][]).map(([key, variable]) => {
        const text = variableText(variable, this.env);
        const value = values?.[key];
        const shown = variable.secret === true ? MASKED : variable.secret === 'url-password' ? maskUrlPassword(String(text ?? value ?? '')) : formatValue(value, text);
        return {
          name: variableNames(variable)[0],
          shown: text === undefined && variable.secret === true ? '' : shown,
          source: text !== undefined ? 'environment' : value === undefined || (Array.isArray(value) && value.length === 0) ? 'unset' : 'default',
          description: variable.description,
        } satisfies VariableReport;
      });
      return { section: section.name, variables, ...(error ? { error } : {}) };
    });
  }
}

function formatValue(value: unknown, text: string | undefined): string {
  if (value === undefined) return text ?? '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/** A URL's password as written (percent-encoded) and decoded; none when the URL does not parse. */
export function urlPasswords(url: string): string[] {
  try {
    const { password } = new URL(url);
    if (!password) return [];
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // A malformed escape: the raw form is what would be echoed.
    }
    return [password, decoded];
  } catch {
    return [];
  }
}

function maskUrlPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = 'hidden';
    return parsed.href;
  } catch {
    return url === '' ? '' : '[not a URL]';
  }
}
