/**
 * The `gas` command: exit codes, messages, files. Most cases run its entry point in-process
 * (`main(args, io)`); a few run the built command as a person would, to pin the process wiring.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { demoScenePng, DEMO_PLAN } from '../src/cli/demo-scene.js';
import { connectRedis, deleteKeysWithPrefix } from '../src/jobs/redis.js';
import { STANDARD_BUNDLE, fractionOfWay, meanColour, pngToRgb, PALETTE } from './helpers/colour-world.js';
import { queueHarness, uniquePrefix } from './helpers/queue.js';
import { colourWorldDetectorDir } from '../models/colour-world/paths.js';
import { gas, type Run } from './helpers/cli.js';

const DETECTOR = colourWorldDetectorDir();
const CLI = resolve('dist/src/cli.js');

// Each test says which planner, models or keys it wants: none come from the environment.
const CHOOSING_VARIABLES = /^(OPENAI_|GAS_)/;
for (const key of Object.keys(process.env)) if (CHOOSING_VARIABLES.test(key)) delete process.env[key];
const env = { ...process.env };


/** `gas <args>` as a child process of the built command. */
function gasProcess(args: string[], extraEnv: Record<string, string> = {}): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Sets environment variables for one test; afterEach puts them back. */
const setEnv: Record<string, string | undefined> = {};
function withEnv(vars: Record<string, string>): void {
  for (const [key, value] of Object.entries(vars)) {
    if (!(key in setEnv)) setEnv[key] = process.env[key];
    process.env[key] = value;
  }
}
afterEach(() => {
  for (const [key, value] of Object.entries(setEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
    delete setEnv[key];
  }
});

describe('gas', async () => {
  const work = mkdtempSync(join(tmpdir(), 'gas-cli-'));
  const scene = join(work, 'scene.png');
  writeFileSync(scene, await demoScenePng());
  const planFile = (name: string, plan: unknown) => {
    const file = join(work, name);
    writeFileSync(file, typeof plan === 'string' ? plan : JSON.stringify(plan));
    return file;
  };
  const goodPlan = planFile('plan.json', DEMO_PLAN);
  const base = ['--bundle', STANDARD_BUNDLE, '--steps', '150', '--seed', '3'];

  describe('as a process', () => {
    it('has the build it runs from', () => {
      expect(existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
    });

    it('prints the commands with --help and exits 0', () => {
      const run = gasProcess(['--help']);
      expect(run.code).toBe(0);
      for (const command of ['edit', 'plan', 'demo', 'worker', 'submit', 'cancel', 'undo']) expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    });

    it('ends quietly when the reader of its output stops early, as `| head -1` does', async () => {
      const child = spawn(process.execPath, [CLI, 'models', 'list'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // Close our end after the first line, before the rest is written.
      child.stdout.once('data', () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr, stderr).not.toMatch(/EPIPE|Unhandled/);
      expect(code).toBe(0);
    });

    it('runs the demo from a sentence and prints the plan and where the files are', () => {
      const out = join(work, 'demo');
      const run = gasProcess(['demo', '--out', out, '--steps', '20']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('"turn the dog into a tiger and the grass into snow"');
      expect(run.stdout).toContain('1. the dog → a tiger');
      for (const name of ['edit.png', 'masks.png']) expect(run.stdout).toContain(join(out, name));
      expect(existsSync(join(out, 'scene.png'))).toBe(true);
    });

    it('prints the plan as JSON and writes the overlay with `gas plan`, without editing', () => {
      const out = join(work, 'out-plan');
      const run = gasProcess(['plan', scene, 'Turn the dog into a tiger; make the sky cloudy.', '--detector', DETECTOR, '--out', out]);
      expect(run.code, run.stderr).toBe(0);
      const plan = JSON.parse(run.stdout) as { subtasks: { source: string; target: string; boxes: number[][] }[] };
      expect(plan.subtasks.map((s) => `${s.source} → ${s.target}`)).toEqual(['the dog → a tiger', 'the sky → the cloudy sky']);
      expect(plan.subtasks[0].boxes).toEqual([[0.25, 0.4375, 0.625, 0.8125]]);
      expect(readdirSync(out)).toEqual(['masks.png']);
    });

    it('exits 2 with the message on stderr for bad input', () => {
      const run = gasProcess(['edit', join(work, 'nope.png'), '--plan', goodPlan, '--out', join(work, 'refused-process')]);
      expect(run.stderr).toContain(`No image at ${join(work, 'nope.png')}.`);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
    });

    it('starts `gas worker` with no configuration on the colour world and its detector', async () => {
      const prefix = uniquePrefix();
      const child = spawn(process.execPath, [CLI, 'worker'], { env: { ...env, GAS_PREFIX: prefix, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      try {
        const deadline = Date.now() + 40_000;
        while (!output.includes('"msg":"models loaded"') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        const loaded = output.split('\n').find((line) => line.includes('"msg":"models loaded"'));
        expect(loaded, `no "models loaded" line; the worker printed:\n${output}`).toBeDefined();
        expect(JSON.parse(loaded!)).toMatchObject({ bundle: STANDARD_BUNDLE, detector: DETECTOR, planner: 'offline' });
      } finally {
        child.kill('SIGTERM');
        await exited;
        const redis = connectRedis();
        await deleteKeysWithPrefix(redis, prefix);
        redis.disconnect();
      }
    });
  });

  it('edits with an explicit plan and writes the edit, the overlay and previews', async () => {
    const out = join(work, 'out-edit');
    const run = await gas(['edit', scene, '--plan', goodPlan, '--out', out, '--previews', ...base]);
    expect(run.stderr).toContain('editing: 150/150 iterations');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('seed 3');
    expect(readdirSync(out).sort()).toEqual([
      'edit.png', 'masks.png',
      ...[15, 30, 45, 60, 75, 90, 105, 120, 135].map((i) => `preview-${String(i).padStart(4, '0')}.png`),
    ]);
    const edit = await pngToRgb(readFileSync(join(out, 'edit.png')));
    expect(fractionOfWay(meanColour(edit, 'dog'), PALETTE.brown, PALETTE.orange)).toBeGreaterThan(0.8);
  });

  it('edits from a sentence with the detector', async () => {
    const out = join(work, 'out-sentence');
    const run = await gas(['edit', scene, 'turn the dog into a tiger and the grass into snow', '--detector', DETECTOR, '--out', out, ...base]);
    expect(run.code, run.stderr).toBe(0);
    const edit = await pngToRgb(readFileSync(join(out, 'edit.png')));
    expect(fractionOfWay(meanColour(edit, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThan(0.8);
  });

  it('writes the overlay and names the phrase when an object is not found', async () => {
    const out = join(work, 'out-missing');
    const run = await gas(['edit', scene, 'turn the cat into a fox', '--detector', DETECTOR, '--out', out, ...base]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('\ngas: I could not find "cat" in the image. Check the mask overlay, rephrase, or give the box yourself with --box "cat=x0,y0,x1,y1".\n');
    expect(readdirSync(out)).toEqual(['masks.png']);
  });

  it('words a queued edit that failed from its code and details: `gas submit --wait` names the phrase and the fix, exit 2', async () => {
    const prefix = uniquePrefix();
    const harness = await queueHarness({}, undefined, prefix);
    try {
      await harness.startWorker();
      const run = await gas(['submit', scene, 'turn the cat into a fox', '--steps', '10', '--wait', '--prefix', prefix]);
      const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; jobId: string });
      expect(events.map((e) => e.type), run.stderr).toEqual(['queued', 'planned', 'grounded', 'failed']);
      expect(events[0]).toMatchObject({ position: 0, startsInMs: expect.any(Number), etaMs: expect.any(Number) });
      expect(run.stderr).toBe(
        `\ngas: I could not find "cat" in the image. The grounded event's overlay shows what was found; rephrase, or give its box yourself in a plan file (--plan plan.json, "box": [x0, y0, x1, y1]). (job ${events[0].jobId})\n`,
      );
      expect(run.code).toBe(2);
    } finally {
      await harness.close();
    }
  });

  it('reads a plan file saved with a byte-order mark', async () => {
    const out = join(work, 'out-bom');
    const run = await gas(['plan', scene, '--plan', planFile('bom.json', `\uFEFF${JSON.stringify(DEMO_PLAN)}`), '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { subtasks: { source: string }[] }).subtasks.map((s) => s.source)).toEqual(['a dog', 'the grass']);
    expect(readdirSync(out)).toEqual(['masks.png']);
  });

  it('draws the overlay for labels with control characters and U+FFFE', async () => {
    const out = join(work, 'out-control');
    const plan = { ...DEMO_PLAN, subtasks: [{ ...DEMO_PLAN.subtasks[0], source: 'a \u001b[1mdog\uFFFE', target: 'a\u0007 tiger' }] };
    const run = await gas(['plan', scene, '--plan', planFile('control.json', plan), '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(['masks.png']);
  });

  it('names the variable, not the flag, when a bad value comes from the environment', async () => {
    withEnv({ GAS_PROVIDER: 'tpu' });
    const run = await gas(['edit', scene, '--plan', goodPlan, '--out', join(work, 'refused-env')]);
    expect(run.stderr).toContain('GAS_PROVIDER must be one of cpu, cuda, webgpu (got "tpu").');
    expect(run.code).toBe(2);
  });

  const longRequest = `turn the dog into a ${'very '.repeat(190)}big tiger`;
  const refusals: [string, () => string[], number, string][] = [
    ['a missing image', () => ['edit', join(work, 'nope.png'), '--plan', goodPlan], 2, `No image at ${join(work, 'nope.png')}.`],
    ['an unreadable image', () => ['edit', planFile('not-an-image.png', 'hello'), '--plan', goodPlan], 2, 'The image could not be read. Send a JPEG, PNG, WebP, GIF or AVIF/HEIF file.'],
    ['a plan that is not JSON', () => ['edit', scene, '--plan', planFile('broken.json', '{ "subtasks": [')], 2, 'is not valid JSON'],
    ['a plan missing a field', () => ['edit', scene, '--plan', planFile('nofield.json', { subtasks: [{ source: 'a dog', box: [0, 0, 1, 1] }], full: { source: 'a', target: 'b' } })], 2, 'Invalid plan: subtasks[0].target is required.'],
    ['a box outside [0, 1]', () => ['edit', scene, '--plan', planFile('outside.json', { subtasks: [{ source: 'a dog', target: 'a tiger', box: [0, 0, 1.2, 1] }], full: { source: 'a', target: 'b' } })], 2, 'Invalid plan: subtasks[0].box[2] must be between 0 and 1.'],
    ['a missing plan file', () => ['edit', scene, '--plan', join(work, 'none.json')], 2, `No plan file at ${join(work, 'none.json')}.`],
    ['no bundle at the path', () => ['edit', scene, '--plan', goodPlan, '--bundle', join(work, 'no-bundle')], 3, `No model bundle at ${join(work, 'no-bundle')}`],
    ['a bad step count', () => ['edit', scene, '--plan', goodPlan, '--steps', 'many'], 2, '--steps must be a whole number from 1 to 10000 (got "many").'],
    ['an empty step count', () => ['edit', scene, '--plan', goodPlan, '--steps', ''], 2, '--steps must be a whole number from 1 to 10000 (got "").'],
    ['an unknown ablation', () => ['edit', scene, '--plan', goodPlan, '--ablate', 'everything'], 2, '--ablate must be one of no-subtasks, no-masks, no-full-prompt, no-null-penalty (got "everything").'],
    ['an unknown provider', () => ['edit', scene, '--plan', goodPlan, '--provider', 'tpu'], 2, '--provider must be one of cpu, cuda, webgpu (got "tpu").'],
    ['an unknown schedule', () => ['edit', scene, '--plan', goodPlan, '--schedule', 'fast'], 2, '--schedule must be one of aggregated, official (got "fast").'],
    ['an unknown planner', () => ['plan', scene, 'turn the dog into a tiger', '--planner', 'gpt'], 2, '--planner must be one of offline, openai (got "gpt").'],
    ['a threshold outside (0, 1)', () => ['plan', scene, 'turn the dog into a tiger', '--box-threshold', '1.5'], 2, '--box-threshold must be a number between 0 and 1 (got "1.5").'],
    ['an empty request', () => ['edit', scene, '   '], 2, 'Say what to change, e.g. "turn the dog into a tiger and the grass into snow".'],
    ['more than 8 edits', () => ['edit', scene, Array.from({ length: 9 }, (_, i) => `turn the dog${i} into a cat`).join(', ')], 2, 'The request asks for 9 edits; one edit handles at most 8.'],
    ['a request over 1,000 characters', () => ['edit', scene, `turn the dog into a ${'very '.repeat(250)}big tiger`], 2, 'keep it under 1000'],
    ['a request whose target is over 300 characters', () => ['edit', scene, longRequest], 2, `characters long; describe each thing in at most 300.`],
    ['a call without an image', () => ['edit'], 2, "missing required argument 'image'"],
    ['a plan call with neither a request nor --plan', () => ['plan', scene], 2, 'Say what to change after the image, e.g. "turn the dog into a tiger", or give --plan plan.json.'],
    ['a request that cannot be parsed', () => ['edit', scene, 'hello there'], 2, 'Try e.g.'],
    ['the openai planner without a key', () => ['edit', scene, 'turn the dog into a tiger', '--planner', 'openai'], 2, 'The openai planner needs OPENAI_API_KEY'],
    ['a directory as the image', () => ['edit', work, '--plan', goodPlan], 2, `No image at ${work}.`],
    ['a working size that is not a multiple of 64', () => ['edit', scene, '--plan', goodPlan, '--max-side', '100', '--bundle', join(work, 'no-bundle')], 2, 'multiple of 64'],
    ['an output folder under a file', () => ['edit', scene, '--plan', goodPlan, '--out', join(scene, 'out')], 2, `--out: ${join(scene, 'out')} is under ${scene}, which is a file; give a folder.`],
    ['an empty --user', () => ['submit', scene, 'turn the dog into a tiger', '--user', ''], 2, '--user is empty: give it a value, e.g. --user alice, or leave it out.'],
    ['an empty --channel', () => ['submit', scene, 'turn the dog into a tiger', '--channel', ' '], 2, '--channel is empty: give it a value, e.g. --channel general, or leave it out.'],
    ['an empty --thread for undo', () => ['undo', '--thread', ''], 2, '--thread is empty'],
    // Keys are scanned by `<prefix>:*`: an empty prefix or a glob character would reach other deployments' keys (issue 16, probe 9).
    ['an empty --prefix', () => ['submit', scene, 'turn the dog into a tiger', '--prefix', ''], 2, '--prefix must be a key prefix without spaces or glob characters (* ? [ ] \\), e.g. gas (got "").'],
    ['a --prefix with a glob character', () => ['submit', scene, 'turn the dog into a tiger', '--prefix', 'a*b'], 2, '--prefix must be a key prefix without spaces or glob characters (* ? [ ] \\), e.g. gas (got "a*b").'],
    ['a priority over 1000', () => ['submit', scene, 'turn the dog into a tiger', '--priority', '5000'], 2, '--priority must be a whole number from 0 to 1000 (got "5000").'],
    ['a worker ops port over 65535', () => ['worker', '--ops-port', '70000'], 2, '--ops-port must be a whole number from 0 to 65535 (got "70000").'],
    ['a worker lock under 500 ms', () => ['worker', '--lock-ms', '10'], 2, '--lock-ms must be a whole number of at least 500 (got "10").'],
    ['an unknown worker provider', () => ['worker', '--provider', 'tpu'], 2, '--provider must be one of cpu, cuda, webgpu (got "tpu").'],
  ];
  for (const [what, args, code, message] of refusals) {
    it(`refuses ${what} with its message, exit ${code}, and writes nothing`, async () => {
      const out = join(work, `refused-${what.replace(/\W+/g, '-')}`);
      const given = args();
      const run = await gas(given.includes('--out') || !['edit', 'plan'].includes(given[0]) ? given : [...given, '--out', out]);
      expect(run.stderr).toContain(message);
      expect(run.code).toBe(code);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('loads no package for --help beyond commander and zod: the engine, the models, the planners and the chat libraries load with their commands', () => {
    const trace = join(work, 'help-packages.txt');
    const run = spawnSync(process.execPath, ['--import', resolve('test/helpers/trace-packages.mjs'), CLI, '--help'], { encoding: 'utf8', env: { ...process.env, GAS_TRACE_PACKAGES: trace } });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('Usage: gas');
    const loaded = readFileSync(trace, 'utf8').trim().split('\n');
    // Every package anything imports while --help runs (discord.js, Bolt, pino, sharp, ONNX Runtime, openai would each show).
    expect(loaded.filter((name) => !name.startsWith('@types/')).sort()).toEqual(['commander', 'zod']);
  });

  it('refuses an output folder that is a file before editing, and leaves the file as it was', async () => {
    const file = planFile('taken.txt', 'keep me');
    const run = await gas(['edit', scene, '--plan', goodPlan, '--out', file, '--bundle', join(work, 'no-bundle')]);
    expect(run.stderr).toContain(`--out: ${file} is a file; give a folder.`);
    expect(run.code).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('refuses an empty GAS_USER by its name', async () => {
    withEnv({ GAS_USER: '' });
    const run = await gas(['cancel', 'job-1']);
    expect(run.stderr).toContain('GAS_USER is empty: give it a value, e.g. GAS_USER=alice, or leave it out.');
    expect(run.code).toBe(2);
  });
});
