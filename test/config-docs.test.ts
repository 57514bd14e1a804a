/** The variable tables of docs/operations.md are the configuration's own: generated from its sections, never hand-kept. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PLATFORMS } from '../adapters/registry.js';
import { variableTables } from '../src/cli/config-command.js';
import { Configuration } from '../src/config/index.js';
import { chatSection } from '../src/config/sections.js';
import { MAX_CHECK_TIMEOUT_MS } from '../src/jobs/contracts.js';

describe('docs/operations.md', () => {
  it('lists every variable of every section, core and platform, as the code defines it (npm run docs:config rewrites it)', () => {
    const doc = readFileSync('docs/operations.md', 'utf8');
    const written = /<!-- variables:start -->\n([\s\S]*?)<!-- variables:end -->/.exec(doc)?.[1];
    const sections = new Configuration({}, PLATFORMS.map((p) => p.config)).sections;
    expect(written, 'docs/operations.md lost its variables markers').toBeDefined();
    expect(written).toBe(variableTables(sections));
    for (const name of ['REDIS_URL', 'GAS_SHUTDOWN_MS', 'OPENAI_API_KEY', 'DISCORD_TOKEN', 'SLACK_SIGNING_SECRET']) expect(written).toContain(`\`${name}\``);
  });
});

describe('the chat settings', () => {
  it('refuse a check timeout longer than a job may wait at its check (a week), naming the variable', () => {
    const read = (value: string) => () => new Configuration({ GAS_CHECK_TIMEOUT_MS: value }, []).read(chatSection);
    expect(read(String(MAX_CHECK_TIMEOUT_MS))().checkTimeoutMs).toBe(MAX_CHECK_TIMEOUT_MS);
    expect(read(String(MAX_CHECK_TIMEOUT_MS + 1))).toThrow(`GAS_CHECK_TIMEOUT_MS must be a whole number from 1000 to ${MAX_CHECK_TIMEOUT_MS}`);
  });
});
