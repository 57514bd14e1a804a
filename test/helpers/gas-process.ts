/** `node dist/src/cli.js …` as a child process, its output kept for assertion messages. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export interface GasChild {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs `gas <args>` with this process's environment less any project setting, plus `env`. The
 * bots' mask check (GAS_CHECK_MASKS, `unsure` by default) is off unless `env` turns it on: the demo
 * scene's grass covers its dog, which would pause every edit for a check these tests do not answer.
 */
export function spawnGas(args: string[], env: Record<string, string>): GasChild {
  let output = '';
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENAI_|GAS_|DISCORD_|SLACK_)/.test(k)));
  const child = spawn(process.execPath, [resolve('dist/src/cli.js'), ...args], { env: { ...inherited, GAS_CHECK_MASKS: 'never', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, output: () => output, exited };
}

/** The port a process logged it serves /healthz on (`--ops-port 0` picks a free one). */
export function opsPortIn(output: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('serving /healthz and /metrics')) continue;
    const port = (JSON.parse(line) as { port?: number }).port;
    if (port) return port;
  }
  return undefined;
}
